"""`manage.py demo`: seed the sandboxes and connect them (see syncrules/demo)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from syncrules import demo


class Command(BaseCommand):
    help = ("Seed the HubSpot and Salesforce sandboxes with overlapping demo data and connect both "
            "(development only: needs SANDBOX_ENABLED).")

    def add_arguments(self, parser):
        what = parser.add_mutually_exclusive_group()
        what.add_argument("--if-empty", action="store_true",
                          help="Only when DEMO_ENABLED is on and the database has no connections yet "
                               "(what `dev.py run` does); otherwise say why not and do nothing.")
        what.add_argument("--reset", action="store_true",
                          help="Start the demo over: delete its connections (with their syncs) and "
                               "sandboxes, then seed again.")
        what.add_argument("--check", action="store_true",
                          help="Check the demo's connections against the running site.")
        what.add_argument("--write-guide", action="store_true",
                          help="Write docs/guide.md from the error categories and the role table.")
        parser.add_argument("--small", action="store_true", help="A tenth of the data (for tests).")
        parser.add_argument("--site-url", default="",
                            help="Base URL the sandboxes are served at (default: SITE_URL).")

    def handle(self, *args, if_empty: bool, reset: bool, check: bool, small: bool, site_url: str,
               write_guide: bool = False, **options):
        if write_guide:
            from syncrules.demo import guide

            self.stdout.write(f"Wrote {guide.write()}")
            return
        if not settings.SANDBOX_ENABLED:
            if if_empty:
                return  # production, or sandboxes off by choice: nothing to say
            raise CommandError("The demo needs the sandboxes: they are disabled (SANDBOX_ENABLED=false).")
        if check:
            return self._check()
        if if_empty:
            if not demo.enabled():
                self.stdout.write("Demo skipped (DEMO_ENABLED=false).")
                return
            if not demo.is_empty():
                return
        elif not reset and demo.exists():
            raise CommandError("The demo exists already: `manage.py demo --reset` starts it over.")
        try:
            result = demo.seed(scale=demo.SMALL if small else demo.FULL, site_url=site_url or None)
        except demo.DemoRefused as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(
            f"Demo seeded in {result.seconds:.1f} s: " + ", ".join(f"{n} {what}" for what, n in result.counts.items())
        ))
        self.stdout.write("Connections: " + ", ".join(c.name for c in result.connections) +
                          " (to the sandboxes served by this site).")

    def _check(self) -> None:
        results = demo.check()
        if not results:
            raise CommandError("There is no demo connection to check (`manage.py demo` makes them).")
        failed = [f"{name}: {message}" for name, ok, message in results if not ok]
        for name, ok, _ in results:
            self.stdout.write(f"{name}: {'connected' if ok else 'FAILING'}")
        if failed:
            raise CommandError("Demo connection check failed: " + "; ".join(failed))
