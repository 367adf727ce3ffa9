"""django-q2 entry points: thin, idempotent, taking ids (the broker delivers at least once)."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from syncrules.models import ObjectSync, SyncPreview, SyncRun

logger = logging.getLogger(__name__)

RUN_TASK = "syncrules.tasks.run_object_sync"
RESYNC_TASK = "syncrules.tasks.resync_deleted_records"
# Companies before contacts before deals: a record's associated records are linked first, so
# its associations complete in the same run instead of waiting for the next one.
DEPENDENCY_ORDER = {"companies": 0, "contacts": 1, "deals": 2}
DISPATCH_TASK = "syncrules.tasks.dispatch_due_syncs"
SCHEDULE_NAME = "syncrules: dispatch due object syncs"
PRUNE_TASK = "syncrules.tasks.prune_outcomes"
PRUNE_SCHEDULE_NAME = "syncrules: prune old record outcomes"  # also made by migration 0006
PREVIEW_TASK = "syncrules.tasks.run_preview"
STALE_PREVIEW = timedelta(hours=1)  # a preview running this long lost its worker


def run_object_sync(object_sync_id: int, initial: bool = False, trigger: str = SyncRun.Trigger.SCHEDULE) -> int | None:
    """Run one object sync once; the id of its SyncRun, or None if it was running already."""
    from syncrules.engine import run_sync

    state = ObjectSync.objects.filter(pk=object_sync_id).values_list("state", flat=True).first()
    if state is None:
        return None  # deleted since it was queued
    if trigger == SyncRun.Trigger.SCHEDULE and state != ObjectSync.State.ACTIVE:
        return None  # turned off since it was queued
    run = run_sync(object_sync_id, initial=initial, trigger=trigger)
    return run.pk if run else None


def enqueue_run(object_sync_id: int, *, initial: bool = False, trigger: str = SyncRun.Trigger.MANUAL) -> None:
    """Queue a run once the current transaction commits (a rolled-back request queues nothing)."""
    from django_q.tasks import async_task

    transaction.on_commit(
        lambda: async_task(RUN_TASK, object_sync_id, initial, trigger, task_name=f"sync {object_sync_id}")
    )


def resync_deleted_records(object_sync_id: int, side: str, link_ids: list[int] | None = None) -> int | None:
    """Recreate the records deleted on `side` (F5.6); the SyncRun's id, or None when the sync was
    deleted or busy with a run (the links stay deleted: ask again once the run is done)."""
    from syncrules.engine.api import resync_deleted

    if not ObjectSync.objects.filter(pk=object_sync_id).exists():
        return None
    run = resync_deleted(object_sync_id, side, link_ids)
    return run.pk if run else None


def enqueue_resync(object_sync_id: int, side: str, link_ids: list[int] | None = None) -> None:
    from django_q.tasks import async_task

    transaction.on_commit(lambda: async_task(
        RESYNC_TASK, object_sync_id, side, link_ids, task_name=f"resync {object_sync_id} {side}"
    ))


def dispatch_due_syncs() -> list[int]:
    """Queue every active sync whose next run is due; the ids queued.

    Each sync's next_run_at is pushed forward by a conditional UPDATE before it is queued, so
    two dispatchers running at once queue it once; a run queued twice anyway is harmless
    (ObjectSync.claim lets one through).
    """
    from syncrules.lease import reap_expired_claims

    now = timezone.now()
    queued = []
    # A claim whose lease expired belongs to a worker that died: free it (its run is closed as
    # Interrupted) so the sync runs again at its next due time.
    reap_expired_claims(now)
    due = ObjectSync.objects.filter(ObjectSync.claim_is_free(now), state=ObjectSync.State.ACTIVE, next_run_at__lte=now)
    rows = sorted(due.values_list("pk", "next_run_at", "interval_seconds", "object_type"),
                  key=lambda row: (DEPENDENCY_ORDER.get(row[3], 9), row[0]))
    for sync_id, next_run_at, interval, _kind in rows:
        taken = ObjectSync.objects.filter(pk=sync_id, next_run_at=next_run_at).update(
            next_run_at=now + timedelta(seconds=interval)
        )
        if taken:
            enqueue_run(sync_id, trigger=SyncRun.Trigger.SCHEDULE)
            queued.append(sync_id)
    return queued


def prune_outcomes() -> int:
    """Delete record outcomes older than OUTCOME_RETENTION_DAYS, keeping each link's latest per
    action (see syncrules.retention); the number deleted. Safe to run twice."""
    from syncrules.retention import prune

    return prune()


def ensure_schedules() -> bool:
    """Create the django-q2 Schedules: the dispatcher every minute, the outcome pruning daily;
    True if any was missing."""
    from django_q.models import Schedule

    _, dispatcher = Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={"func": DISPATCH_TASK, "schedule_type": Schedule.MINUTES, "minutes": 1, "repeats": -1},
    )
    _, pruning = Schedule.objects.update_or_create(
        name=PRUNE_SCHEDULE_NAME, defaults={"func": PRUNE_TASK, "schedule_type": Schedule.DAILY, "repeats": -1},
    )
    return dispatcher or pruning



# --- dry-run preview
def enqueue_preview(object_sync_id: int) -> SyncPreview:
    """A new preview of the sync's initial run (queued), computed by a worker once the current
    transaction commits."""
    from django_q.tasks import async_task

    preview = SyncPreview.objects.create(object_sync_id=object_sync_id)
    transaction.on_commit(lambda: async_task(PREVIEW_TASK, preview.pk, task_name=f"preview {object_sync_id}"))
    return preview


def run_preview(preview_id: int) -> str | None:
    """Compute a queued preview; its final status, or None when there was nothing to do (done,
    failed or running already, or deleted). An app that cannot be read fails it with a sentence."""
    from syncrules.engine.api import preview_sync
    from syncrules.engine.preview import PreviewFailed

    now = timezone.now()
    rows = SyncPreview.objects.filter(pk=preview_id)
    waiting = Q(status=SyncPreview.Status.QUEUED) | Q(status=SyncPreview.Status.RUNNING, started_at__lt=now - STALE_PREVIEW)
    if not rows.filter(waiting).update(status=SyncPreview.Status.RUNNING, started_at=now, processed=0):
        return None
    object_sync_id = rows.values_list("object_sync_id", flat=True).first()

    def progress(processed: int, total: int | None, calls: int) -> None:
        rows.update(processed=processed, estimated_total=total, http_calls=calls)

    try:
        result = preview_sync(object_sync_id, on_progress=progress)
    except PreviewFailed as exc:
        return _finish_preview(rows, SyncPreview.Status.FAILED, error=str(exc))
    except Exception as exc:  # noqa: BLE001 - the page shows a sentence; the log keeps the traceback
        logger.exception("preview %s of object sync %s failed", preview_id, object_sync_id)
        return _finish_preview(rows, SyncPreview.Status.FAILED, error=(
            f"The preview stopped on an unexpected error ({type(exc).__name__}). Try again; if it keeps "
            "happening, check both connections and report it with the worker's log."
        ))
    return _finish_preview(rows, SyncPreview.Status.DONE, result=result, http_calls=result["http_calls"],
                           processed=result["processed"])


def _finish_preview(rows, status: str, **fields) -> str:
    rows.update(status=status, finished_at=timezone.now(), **fields)
    return status


# --- changes in seconds (syncrules.webhooks): HubSpot webhooks and Salesforce polling
TRIGGERED_TASK = "syncrules.tasks.run_triggered_sync"  # queued by syncrules.webhooks.debounce
POLL_TASK = "syncrules.tasks.poll_for_changes"
POLL_SCHEDULE_NAME = "syncrules: poll apps for changes"  # also made by migration 0012


def run_triggered_sync(object_sync_id: int) -> int | None:
    """A debounced run for changes an app reported; the SyncRun's id, or None if nothing ran."""
    from syncrules.webhooks.debounce import run_triggered

    return run_triggered(object_sync_id)


def poll_for_changes() -> bool:
    """Make sure this worker process polls Salesforce for changes every CHANGE_POLL_SECONDS, in a
    background thread that holds no worker (started every minute; one poller at a time across
    workers); True if it started the thread. Returns at once."""
    from syncrules.webhooks.polling import start_poller

    return start_poller()


def ensure_change_schedules() -> bool:
    """Create the poll schedule (every minute); True if it was missing."""
    from django_q.models import Schedule

    _, created = Schedule.objects.update_or_create(
        name=POLL_SCHEDULE_NAME,
        defaults={"func": POLL_TASK, "schedule_type": Schedule.MINUTES, "minutes": 1, "repeats": -1},
    )
    return created
