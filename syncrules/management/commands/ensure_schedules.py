"""Create the django-q2 schedule of the sync dispatcher if it is missing (idempotent)."""

from django.core.management.base import BaseCommand

from syncrules.tasks import ensure_schedules


class Command(BaseCommand):
    help = "Create the one django-q2 Schedule that queues due object syncs every minute."

    def handle(self, *args, **options):
        created = ensure_schedules()
        self.stdout.write("Dispatcher schedule created." if created else "Dispatcher schedule already there.")
