"""The health pages' aggregate queries: a handful per page, whatever the number of records.

Counts come from one GROUP BY over the record links (an index-only scan of
recordlink_health_idx on PostgreSQL); runs from the per-sync run index. Nothing here calls an
app or loops over records in Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Count, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from connectors.errors import ErrorCategory
from connectors.models import Connection
from syncrules.models import LinkCount, LinkStatus, ObjectSync, RecordLink, SyncRun

WAITING = ErrorCategory.WAITING_FOR_DEPENDENCY.code

# The overview's buckets, in column order: key (also the record view's status filter), label.
BUCKETS: list[tuple[str, str]] = [
    ("in_sync", "In sync"),
    ("warnings", "In sync with warnings"),
    ("errors", "Errors"),
    ("excluded", "Excluded"),
    ("deleted_a", "Deleted on A"),
    ("deleted_b", "Deleted on B"),
    ("waiting", "Waiting"),
]
BUCKET_FILTERS: dict[str, Q] = {
    # In sync, and in sync with fields not carried (their mappings' policy skipped a value the
    # other app cannot hold: engine.values), apart as issue 16 asks.
    "in_sync": Q(status=LinkStatus.IN_SYNC, has_warnings=False),
    "warnings": Q(status=LinkStatus.IN_SYNC, has_warnings=True),
    # A record waiting for its associated record is failing in the model but not an error a
    # person must fix: it completes by itself, so it has its own bucket.
    "errors": Q(status=LinkStatus.FAILING) & ~Q(error_category=WAITING),
    "excluded": Q(status=LinkStatus.EXCLUDED),
    "deleted_a": Q(status=LinkStatus.DELETED_A),
    "deleted_b": Q(status=LinkStatus.DELETED_B),
    "waiting": Q(status=LinkStatus.FAILING, error_category=WAITING),
}


def link_counts(sync_ids: list[int]) -> dict[int, dict[str, int]]:
    """Each sync's number of links per bucket (every bucket present, zeros included)."""
    counts = {pk: dict.fromkeys(BUCKET_FILTERS, 0) for pk in sync_ids}
    for sync_id, status, category, n in _grouped_counts(sync_ids):
        bucket = counts[sync_id]
        if status == LinkStatus.FAILING:
            bucket["waiting" if category == WAITING else "errors"] += n
        elif status in bucket:
            bucket[status] += n
    # The kept counts know statuses, not warnings: those come from the (sync, status,
    # has_warnings) index, and leave the plain in-sync count.
    for sync_id, n in _warning_counts(sync_ids):
        counts[sync_id]["warnings"] = n
        counts[sync_id]["in_sync"] -= n
    return counts


def _warning_counts(sync_ids: list[int]):
    return (RecordLink.objects.filter(BUCKET_FILTERS["warnings"], object_sync__in=sync_ids)
            .values("object_sync").annotate(n=Count("*")).order_by().values_list("object_sync", "n"))


def _grouped_counts(sync_ids: list[int]):
    """(sync, status, category, count) rows: kept by triggers on PostgreSQL (a million links
    take a few hundred milliseconds to count even from an index), counted here elsewhere."""
    if connection.vendor == "postgresql":
        return LinkCount.objects.filter(object_sync_pk__in=sync_ids, n__gt=0).values_list(
            "object_sync_pk", "status", "error_category", "n")
    return (RecordLink.objects.filter(object_sync__in=sync_ids).values("object_sync", "status", "error_category")
            .annotate(n=Count("*")).order_by().values_list("object_sync", "status", "error_category", "n"))


def count_annotations(keys: tuple[str, ...] = ("in_sync", "errors", "excluded")) -> dict:
    """Annotations `n_<bucket>` for an ObjectSync queryset (the object sync list's sortable
    columns): subqueries of the kept counts on PostgreSQL, counts of the links elsewhere."""
    if connection.vendor != "postgresql":
        return {f"n_{key}": Count("links", filter=_prefixed(BUCKET_FILTERS[key])) for key in keys}
    annotations = {}
    warned = RecordLink.objects.filter(BUCKET_FILTERS["warnings"], object_sync=OuterRef("pk"))
    warned = Coalesce(Subquery(warned.values("object_sync").annotate(n=Count("*")).values("n")), 0)
    for key in keys:
        if key == "warnings":
            annotations["n_warnings"] = warned
            continue
        rows = LinkCount.objects.filter(_bucket_rows(key), object_sync_pk=OuterRef("pk"))
        total = Coalesce(Subquery(rows.values("object_sync_pk").annotate(total=Sum("n")).values("total")), 0)
        annotations[f"n_{key}"] = total - warned if key == "in_sync" else total
    return annotations


def _prefixed(q: Q) -> Q:
    """A link filter, as seen from its sync (links__<field>)."""
    prefixed = Q(*[_prefixed(child) if isinstance(child, Q) else (f"links__{child[0]}", child[1])
                   for child in q.children], _connector=q.connector, _negated=q.negated)
    return prefixed


def _bucket_rows(key: str) -> Q:
    """The LinkCount rows of a bucket."""
    if key == "waiting":
        return Q(status=LinkStatus.FAILING, error_category=WAITING)
    if key == "errors":
        return Q(status=LinkStatus.FAILING) & ~Q(error_category=WAITING)
    if key == "warnings":
        return Q(status=LinkStatus.IN_SYNC)
    return Q(status=key)


def latest_runs(sync_ids: list[int]) -> dict[int, SyncRun]:
    """Each sync's most recent run (two indexed queries, not one per sync)."""
    latest = SyncRun.objects.filter(object_sync=OuterRef("pk")).order_by("-started_at", "-pk").values("pk")[:1]
    run_ids = ObjectSync.objects.filter(pk__in=sync_ids).annotate(run_id=Subquery(latest)).values_list("run_id", flat=True)
    runs = SyncRun.objects.filter(pk__in=[pk for pk in run_ids if pk])
    return {run.object_sync_id: run for run in runs}


def run_category(error: str) -> ErrorCategory:
    """The category of a run that failed as a whole, read back from its error text.

    The engine stores `ConnectorError: <category label>[ vendor code]: message`; an error that
    names no category (a bug, an interrupted worker) reads as unknown.
    """
    for category in ErrorCategory:
        if category.label in error:
            return category
    return ErrorCategory.UNKNOWN


@dataclass
class Progress:
    processed: int
    total: int
    eta: timedelta | None


@dataclass
class SyncHealth:
    sync: ObjectSync
    counts: dict[str, int]
    last_run: SyncRun | None
    badge: str  # draft, off, on, running, failing
    progress: Progress | None = None
    banner: ErrorCategory | None = None

    @property
    def buckets(self) -> list[tuple[str, str, int]]:
        return [(key, label, self.counts[key]) for key, label in BUCKETS]


@dataclass
class PairHealth:
    connection_a: Connection
    connection_b: Connection
    syncs: list[SyncHealth] = field(default_factory=list)

    @property
    def usages(self) -> list[tuple[Connection, dict | None]]:
        return [(conn, api_usage(conn)) for conn in (self.connection_a, self.connection_b)]


def api_usage(connection: Connection) -> dict | None:
    """Used / allowed calls as the app last reported them, and the share kept free."""
    usage = connection.api_usage or {}
    try:
        used, allowed = int(usage["used"]), int(usage["allowed"])
    except (KeyError, TypeError, ValueError):
        return None
    try:
        share = min(max(float(connection.options.get("api_budget_share", 0.75)), 0.0), 1.0)
    except (TypeError, ValueError, AttributeError):
        share = 0.75
    percent = round(100 * used / allowed) if allowed > 0 else 0
    return {"used": used, "allowed": allowed, "percent": percent, "kept_free": round(100 * (1 - share)),
            "at": usage.get("at", "")}


def progress(sync: ObjectSync, run: SyncRun | None, now: datetime) -> Progress | None:
    """How far a running initial sync is, and when it should end at its pace so far."""
    if not sync.is_running or run is None or run.status != SyncRun.Status.RUNNING:
        return None
    total = run.estimated_total or sync.initial_total
    if not total:
        return None
    done = min(run.processed, total)
    elapsed = (now - run.started_at).total_seconds()
    eta = timedelta(seconds=round(elapsed / done * (total - done))) if done and elapsed > 0 else None
    return Progress(done, total, eta)


def badge(sync: ObjectSync, run: SyncRun | None) -> str:
    if sync.state == ObjectSync.State.DRAFT:
        return "draft"
    if sync.is_running:
        return "running"
    if sync.running_since:  # its worker stopped renewing the lease: the next due run takes over
        return "stalled"
    if run is not None and run.status == SyncRun.Status.FAILED:
        return "failing"
    return "on" if sync.state == ObjectSync.State.ACTIVE else "off"


def overview(syncs=None) -> list[PairHealth]:
    """Every object sync's health, grouped by connection pair (4 queries in all)."""
    syncs = list((syncs if syncs is not None else ObjectSync.objects.all())
                 .select_related("connection_a", "connection_b").order_by("connection_a", "connection_b", "pk"))
    ids = [s.pk for s in syncs]
    counts, runs, now = link_counts(ids), latest_runs(ids), timezone.now()
    pairs: dict[tuple[int, int], PairHealth] = {}
    for sync in syncs:
        key = (sync.connection_a_id, sync.connection_b_id)
        pair = pairs.setdefault(key, PairHealth(sync.connection_a, sync.connection_b))
        run = runs.get(sync.pk)
        health = SyncHealth(sync, counts[sync.pk], run, badge(sync, run), progress(sync, run, now))
        if health.badge == "failing":
            health.banner = run_category(run.error)
        pair.syncs.append(health)
    return list(pairs.values())


def totals(pairs: list[PairHealth]) -> dict[str, int]:
    """The buckets summed over every sync (the admin index's summary)."""
    summed = dict.fromkeys(BUCKET_FILTERS, 0)
    for pair in pairs:
        for health in pair.syncs:
            for key, value in health.counts.items():
                summed[key] += value
    return summed


@dataclass
class ErrorGroup:
    category: ErrorCategory
    count: int
    sample: RecordLink | None


def error_groups(sync: ObjectSync, waiting: bool = False) -> list[ErrorGroup]:
    """The sync's errored links by category, largest first, each with its latest record; with
    `waiting`, the links waiting for an associated record instead (they are not errors)."""
    failing = RecordLink.objects.filter(BUCKET_FILTERS["waiting" if waiting else "errors"], object_sync=sync)
    rows = failing.values("error_category").annotate(n=Count("*")).order_by("-n", "error_category")
    groups = []
    for row in rows:
        sample = failing.filter(error_category=row["error_category"]).order_by("-updated_at", "-pk").first()
        groups.append(ErrorGroup(ErrorCategory.from_code(row["error_category"] or "unknown"), row["n"], sample))
    return groups
