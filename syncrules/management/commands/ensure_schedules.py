"""Create the django-q2 schedules (sync dispatcher, outcome pruning, polling for changes) if missing (idempotent)."""

from django.core.management.base import BaseCommand

from syncrules.tasks import ensure_change_schedules, ensure_schedules


class Command(BaseCommand):
    help = "Create the django-q2 Schedules: due object syncs queued every minute, old outcomes pruned daily."

    def handle(self, *args, **options):
        created = ensure_schedules()
        created = ensure_change_schedules() or created
        self.stdout.write("Schedules created." if created else "Schedules already there.")
