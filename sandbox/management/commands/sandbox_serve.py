"""Serve only the sandboxes on their own port (for benchmarks and demos).

    manage.py sandbox_serve --port 8765   ->  http://127.0.0.1:8765/sandbox/hubspot/...
    manage.py sandbox_serve --all-faults 0.01 --fault http_503=0.05 --fault-seed 7

Faults (sandbox/faults.py) can also be changed while it runs: POST JSON to /sandbox/faults/.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.core.servers.basehttp import WSGIServer, run
from django.test.utils import override_settings

from sandbox import faults


def fault_share(text: str) -> tuple[str, float]:
    kind, sep, share = text.partition("=")
    if not sep or kind not in faults.KINDS:
        raise CommandError(f"--fault takes KIND=SHARE with KIND one of {', '.join(faults.KINDS)}; got {text!r}")
    try:
        return kind, float(share)
    except ValueError:
        raise CommandError(f"--fault {kind}: {share!r} is not a number") from None


class Command(BaseCommand):
    help = "Serve the HubSpot and Salesforce sandboxes on their own port, with no admin."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--fault", action="append", default=[], metavar="KIND=SHARE",
                            help=f"Inject a fault into this share of API requests (repeatable). "
                                 f"Kinds: {', '.join(faults.KINDS)}.")
        parser.add_argument("--all-faults", type=float, default=None, metavar="SHARE",
                            help="Inject every kind of fault, each into this share of API requests.")
        parser.add_argument("--fault-seed", type=int, default=None, help="Seed of the fault draws.")
        parser.add_argument("--timeout-seconds", type=float, default=None,
                            help="How long a 'timeout' fault holds the answer (default 65, past the "
                                 "connectors' 60 s read timeout).")
        parser.add_argument("--slow-seconds", type=float, default=None, help="Delay of a 'slow' answer (default 2).")
        parser.add_argument("--retry-after", type=float, default=None,
                            help="Retry-After of an injected HubSpot 429 (default 1).")

    def handle(self, *args, host: str, port: int, **options):
        config = dict(getattr(settings, "SANDBOX_FAULTS", None) or {})
        if options["all_faults"] is not None:
            config.update(dict.fromkeys(faults.KINDS, options["all_faults"]))
        config.update(fault_share(text) for text in options["fault"])
        for option, key in (("fault_seed", "seed"), ("timeout_seconds", "timeout_seconds"),
                            ("slow_seconds", "slow_seconds"), ("retry_after", "retry_after")):
            if options[option] is not None:
                config[key] = options[option]
        try:
            faults.configure(config)
        except faults.FaultConfigError as exc:
            raise CommandError(str(exc)) from None
        with override_settings(ROOT_URLCONF="sandbox.serve_urls", SANDBOX_ENABLED=True):
            from django.core.wsgi import get_wsgi_application

            on = {k: v for k, v in config.items() if k in faults.KINDS and v}
            self.stdout.write(f"Sandboxes at http://{host}:{port}/sandbox/ (Ctrl-C stops)"
                              + (f"; injecting {on}" if on else ""))
            run(host, port, get_wsgi_application(), threading=True, server_cls=WSGIServer)
