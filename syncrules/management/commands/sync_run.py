"""Run one object sync now, in this process: `manage.py sync_run <id> [--initial]`."""

from django.core.management.base import BaseCommand, CommandError

from syncrules.engine import run_sync
from syncrules.models import ObjectSync, SyncRun


class Command(BaseCommand):
    help = "Run one object sync once (incremental, or initial for a new sync or with --initial)."

    def add_arguments(self, parser):
        parser.add_argument("object_sync_id", type=int)
        parser.add_argument(
            "--initial", action="store_true", help="Forget the cursors and compare both apps in full again."
        )

    def handle(self, *args, object_sync_id, initial, **options):
        if not ObjectSync.objects.filter(pk=object_sync_id).exists():
            raise CommandError(f"No object sync with id {object_sync_id}.")
        run = run_sync(object_sync_id, initial=initial, trigger=SyncRun.Trigger.COMMAND)
        if run is None:
            raise CommandError(f"Object sync {object_sync_id} is already running; try again when it is done.")
        self.stdout.write(
            f"{run.get_kind_display()} {run.get_status_display().lower()}: processed {run.processed}, "
            f"created {run.created}, updated {run.updated}, matched {run.matched}, excluded {run.excluded}, "
            f"failed {run.failed}, skipped {run.skipped}, HTTP calls {run.http_calls}, "
            f"{run.duration.total_seconds():.1f}s"
        )
        if run.status == SyncRun.Status.FAILED:
            raise CommandError(f"Run {run.pk} failed: {run.error}")
