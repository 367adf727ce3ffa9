"""How long record outcomes are kept (OUTCOME_RETENTION_DAYS), and the pruning that enforces it.

Outcomes older than the retention period are deleted, except each link's latest outcome per
action: a record's story still says when it was last created, matched, updated, excluded or
failed, however long ago. Deletes go in bounded batches, each its own short transaction, so a
first prune of millions of rows never holds a long lock or a huge transaction. Each sync that
lost history remembers from when (`ObjectSync.history_pruned_before`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from syncrules.models import ObjectSync, RecordOutcome

BATCH = 2000


def cutoff(now: datetime | None = None) -> datetime:
    """Outcomes created before this moment may be pruned."""
    return (now or timezone.now()) - timedelta(days=settings.OUTCOME_RETENTION_DAYS)


def prune(now: datetime | None = None, batch: int = BATCH) -> int:
    """Delete the outcomes past the retention period but each link's latest per action; the count."""
    before = cutoff(now)
    newer = RecordOutcome.objects.filter(link=OuterRef("link"), action=OuterRef("action")).filter(
        Q(created_at__gt=OuterRef("created_at")) | Q(created_at=OuterRef("created_at"), pk__gt=OuterRef("pk"))
    )
    old = RecordOutcome.objects.filter(created_at__lt=before).order_by("pk")
    deleted, last = 0, 0
    while True:
        # Walk the old rows by primary key, so the latest outcomes kept are never scanned twice.
        page = list(old.filter(pk__gt=last).values_list("pk", flat=True)[:batch])
        if not page:
            break
        last = page[-1]
        doomed = RecordOutcome.objects.filter(pk__in=page).filter(Q(link__isnull=True) | Exists(newer))
        with transaction.atomic():
            syncs = set(doomed.values_list("object_sync", flat=True).distinct())
            count = doomed.delete()[0]
            if count:
                ObjectSync.objects.filter(pk__in=syncs).filter(
                    Q(history_pruned_before__isnull=True) | Q(history_pruned_before__lt=before)
                ).update(history_pruned_before=before)
        deleted += count
    return deleted
