"""Per-sync series for the charts: runs, errors per day, and how long changes take to cross."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.timezone import is_aware, make_aware

from syncrules.models import ObjectSync, RecordOutcome, SyncRun

RUNS_SHOWN = 30
ERROR_DAYS = 30
LATENCY_SAMPLE = 2000  # the most recent writes; enough for a distribution, bounded at any scale
# Upper bounds of the latency buckets, with their labels; the last one is open-ended.
LATENCY_BUCKETS: list[tuple[timedelta | None, str]] = [
    (timedelta(minutes=1), "< 1 min"),
    (timedelta(minutes=5), "1-5 min"),
    (timedelta(minutes=15), "5-15 min"),
    (timedelta(hours=1), "15-60 min"),
    (timedelta(hours=6), "1-6 h"),
    (None, "> 6 h"),
]


def recent_runs(sync: ObjectSync, limit: int = RUNS_SHOWN) -> list[SyncRun]:
    """The last `limit` runs, oldest first (the chart reads left to right)."""
    return list(reversed(SyncRun.objects.filter(object_sync=sync).order_by("-started_at", "-pk")[:limit]))


def errors_per_day(sync: ObjectSync, days: int = ERROR_DAYS) -> list[tuple[str, int]]:
    """Failed records per day over the last `days` days, from the runs' counters (zeros kept)."""
    today = timezone.localdate()
    start = today - timedelta(days=days - 1)
    rows = (
        SyncRun.objects.filter(object_sync=sync, started_at__date__gte=start)
        .annotate(day=TruncDate("started_at")).values("day").annotate(n=Sum("failed")).order_by("day")
    )
    by_day = {row["day"]: row["n"] or 0 for row in rows}
    return [((start + timedelta(days=i)).strftime("%b %d"), by_day.get(start + timedelta(days=i), 0))
            for i in range(days)]


@dataclass
class Latency:
    buckets: list[tuple[str, int]]
    sample: int
    median: timedelta | None


def change_latency(sync: ObjectSync) -> Latency:
    """Time from a record's edit in one app to its write in the other, over recent writes.

    The edit time is the one the write carried over (details.source_modified_at); an older
    outcome without it falls back to the link's last modification seen on the source side, and
    counts only if that came before the write (the record may have changed again since).
    """
    rows = (
        RecordOutcome.objects.filter(
            object_sync=sync, action__in=[RecordOutcome.Action.CREATED, RecordOutcome.Action.UPDATED],
            side__in=["a", "b"],
        )
        .order_by("-created_at")
        .values_list("created_at", "side", "details__source_modified_at", "link__modified_a", "link__modified_b")
        [:LATENCY_SAMPLE]
    )
    delays = []
    for written, side, carried, modified_a, modified_b in rows:
        changed = _when(carried) or (modified_b if side == "a" else modified_a)
        if changed is not None and changed <= written:
            delays.append(written - changed)
    return _distribution(delays)


def _when(value) -> datetime | None:
    try:
        moment = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return moment if moment is None or is_aware(moment) else make_aware(moment)


def _distribution(delays: list[timedelta]) -> Latency:
    counts = [0] * len(LATENCY_BUCKETS)
    for delay in delays:
        index = next(i for i, (bound, _) in enumerate(LATENCY_BUCKETS) if bound is None or delay < bound)
        counts[index] += 1
    delays.sort()
    median = delays[len(delays) // 2] if delays else None
    return Latency([(label, n) for (_, label), n in zip(LATENCY_BUCKETS, counts, strict=True)], len(delays), median)
