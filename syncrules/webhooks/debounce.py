"""Debounced change-triggered runs.

An app says records changed (a HubSpot webhook, a Salesforce poll): `notify_changes` records the
ids and queues one run of each affected sync, unless one is queued already. A change arriving
while a triggered run runs queues nothing at once: the run, when done, queues exactly one more.
A sync busy with another run (the dispatcher's, "Run now") is queued again by the poll loop's
`queue_waiting` once it is free. The state is one SyncTrigger row per sync, changed only by
conditional UPDATEs, so any number of web processes and workers agree without locks.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from connectors.base import Connector, Page
from syncrules.models import ObjectSync, SyncRun
from syncrules.webhooks.models import PendingChange, SyncTrigger

logger = logging.getLogger(__name__)

TRIGGERED_TASK = "syncrules.tasks.run_triggered_sync"
STALE_QUEUE = timedelta(minutes=10)  # a queued task this old was lost (a broker restart)
STALE_RUN = timedelta(hours=2)  # as ObjectSync.claim: a triggered run this old lost its worker
MAX_IDS_PER_RUN = 2000  # read by id in one run; the rest wait for the next (or the cursor)

Changes = Mapping[tuple[int, str], Iterable[str]]  # (object sync id, side) -> changed record ids


def triggerable(connection_ids: Iterable[int], object_type: str | None = None):
    """Active, initially synced object syncs on any of the connections (of `object_type`)."""
    ids = list(connection_ids)
    syncs = ObjectSync.objects.filter(
        Q(connection_a__in=ids) | Q(connection_b__in=ids),
        state=ObjectSync.State.ACTIVE, initial_sync_done_at__isnull=False,
    )
    return syncs.filter(object_type=object_type) if object_type else syncs


def note_webhooks(sync_ids: Iterable[int], events: int, now=None) -> None:
    """Count a delivery's events on each sync it is about (also when they were our own writes)."""
    now = now or timezone.now()
    sync_ids = sorted(set(sync_ids))
    for sync_id in sync_ids:
        SyncTrigger.objects.get_or_create(object_sync_id=sync_id)
    SyncTrigger.objects.filter(pk__in=sync_ids).update(last_webhook_at=now, webhook_events=F("webhook_events") + events)


def notify_changes(changes: Changes, *, now=None) -> list[int]:
    """Record the changed ids and queue a run of each sync named; the ids of the syncs queued."""
    now = now or timezone.now()
    sync_ids = sorted({sync_id for sync_id, _side in changes})
    for sync_id in sync_ids:
        SyncTrigger.objects.get_or_create(object_sync_id=sync_id)
    rows = [PendingChange(object_sync_id=sync_id, side=side, record_id=str(record_id)[:64], received_at=now)
            for (sync_id, side), ids in changes.items() for record_id in dict.fromkeys(ids)]
    # An id already pending stays one row, received again now: a run that took it before this
    # change leaves it for the next run (it may have read the record before this change).
    PendingChange.objects.bulk_create(rows, update_conflicts=True, unique_fields=["object_sync", "side", "record_id"],
                                      update_fields=["received_at"], batch_size=500)
    SyncTrigger.objects.filter(pk__in=sync_ids).update(pending_at=Coalesce("pending_at", now), last_change_at=now)
    return [sync_id for sync_id in sync_ids if queue_run(sync_id, now=now)]


def queue_run(sync_id: int, *, now=None) -> bool:
    """Queue a triggered run of the sync unless one is queued or running; True if queued."""
    now = now or timezone.now()
    idle = Q(queued_at__isnull=True) | Q(queued_at__lt=now - STALE_QUEUE)
    not_running = Q(running_since__isnull=True) | Q(running_since__lt=now - STALE_RUN)
    if not SyncTrigger.objects.filter(idle, not_running, pk=sync_id).update(queued_at=now):
        return False
    transaction.on_commit(lambda: _enqueue(sync_id))
    return True


def _enqueue(sync_id: int) -> None:
    from django_q.tasks import async_task

    async_task(TRIGGERED_TASK, sync_id, task_name=f"sync {sync_id} (changes)")


def queue_waiting(now=None) -> list[int]:
    """Queue the syncs with changes waiting and nothing queued or running (their run found the
    sync busy, or their task was lost); the ids queued."""
    now = now or timezone.now()
    busy = Q(object_sync__running_since__isnull=False) & Q(object_sync__running_since__gte=now - STALE_RUN)
    waiting = SyncTrigger.objects.filter(pending_at__isnull=False, queued_at__isnull=True).exclude(busy)
    return [pk for pk in waiting.values_list("pk", flat=True) if queue_run(pk, now=now)]


def run_triggered(sync_id: int, run_sync=None) -> int | None:
    """Run the sync for the changes waiting; the SyncRun's id, or None when nothing ran (another
    triggered run is running, the sync is busy, off, or gone)."""
    if run_sync is None:
        from syncrules.engine import run_sync
    now = timezone.now()
    rows = SyncTrigger.objects.filter(pk=sync_id)
    free = Q(running_since__isnull=True) | Q(running_since__lt=now - STALE_RUN)
    # Changes from now on are not covered by this run's reads: they wait for it, then run again.
    if not rows.filter(free).update(running_since=now, queued_at=None, pending_at=None):
        rows.update(queued_at=None)  # the running one queues the next when it is done
        return None
    ran = False
    try:
        sync = ObjectSync.objects.select_related("connection_a", "connection_b").filter(pk=sync_id).first()
        if sync is None or sync.state != ObjectSync.State.ACTIVE:
            return None
        taken = list(PendingChange.objects.filter(object_sync=sync_id, received_at__lte=now).order_by("pk")
                     .values_list("pk", "side", "record_id")[:MAX_IDS_PER_RUN])
        run = _run_with_changes(sync, taken, run_sync)
        if run is None:  # busy with another run: wait for it (queue_waiting), keep the ids
            rows.update(pending_at=Coalesce("pending_at", now))
            return None
        ran = True
        if run.status == SyncRun.Status.SUCCEEDED and taken:
            # Only those not received again since the run took them.
            PendingChange.objects.filter(pk__in=[pk for pk, _s, _r in taken], received_at__lte=now).delete()
        return run.pk
    finally:
        rows.filter(running_since=now).update(running_since=None)
        if ran and rows.filter(pending_at__isnull=False).exists():
            queue_run(sync_id)


def _run_with_changes(sync: ObjectSync, taken: Sequence[tuple[int, str, str]], run_sync) -> SyncRun | None:
    by_side: dict[str, list[str]] = {}
    for _pk, side, record_id in taken:
        by_side.setdefault(side, []).append(record_id)
    connectors: dict[str, ChangedFirst] = {}
    try:
        for side, ids in by_side.items():
            connectors[side] = ChangedFirst(sync.connection(side).connector(), ids)
    except Exception:  # noqa: BLE001 - unreadable credentials...: the run itself records why
        logger.warning("object sync %s: changed ids not read first", sync.pk, exc_info=True)
        for connector in connectors.values():
            connector.close()
        connectors = {}
    try:
        return run_sync(sync.pk, trigger=SyncRun.Trigger.CHANGE, connectors=connectors)
    finally:
        for connector in connectors.values():
            connector.close()


class ChangedFirst:
    """A connector whose change feed starts with the records named changed, read by id.

    HubSpot's search lags its writes (the connector reads changes up to 15 s old only), so a
    run started by a webhook reads the webhook's records directly; its page leaves the cursor
    where it was, and the search finds them again later as records with no delta.
    """

    def __init__(self, inner: Connector, ids: Sequence[str]) -> None:
        self.inner = inner
        self.changed_ids = list(dict.fromkeys(ids))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def read_changes(self, object_type: str, cursor: Any = None) -> Iterator[Page]:
        found = self.inner.read(object_type, self.changed_ids) if self.changed_ids else {}
        if found:
            yield Page(list(found.values()), cursor)
        yield from self.inner.read_changes(object_type, cursor)
