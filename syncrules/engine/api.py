"""The engine's entry point, shared by the management command and the django-q2 task."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

from django.db.models import Q
from django.utils import timezone

from connectors.base import Connector
from connectors.errors import ErrorCategory
from syncrules.engine.runner import Engine
from syncrules.models import LinkStatus, ObjectSync, RecordLink, SyncRun

logger = logging.getLogger(__name__)


def run_sync(
    object_sync_id: int,
    *,
    initial: bool = False,
    trigger: str = SyncRun.Trigger.SCHEDULE,
    connectors: Mapping[str, Connector] | None = None,
) -> SyncRun | None:
    """Run one object sync once and return its SyncRun; None when another worker is running it.

    `initial` forgets the cursors and re-reads both apps from the start (matching finds the
    records already linked, so nothing is duplicated). A run that was interrupted resumes from
    the cursors it had saved. `connectors` replaces the connections' connectors (tests, benches).
    """
    sync = ObjectSync.objects.select_related("connection_a", "connection_b").get(pk=object_sync_id)
    if not sync.claim():
        logger.info("object sync %s is already running; skipped", sync.pk)
        return None
    try:
        _close_interrupted_runs(sync)
        if initial:
            sync.cursor_a = sync.cursor_b = sync.initial_sync_done_at = None
            ObjectSync.objects.filter(pk=sync.pk).update(cursor_a=None, cursor_b=None, initial_sync_done_at=None)
        kind = SyncRun.Kind.INITIAL if sync.initial_sync_done_at is None else SyncRun.Kind.INCREMENTAL
        run = SyncRun.objects.create(object_sync=sync, kind=kind, trigger=trigger)
        if _run_engine(sync, run, connectors, lambda engine: engine.execute()):
            if kind == SyncRun.Kind.INITIAL:
                sync.initial_sync_done_at = timezone.now()
                ObjectSync.objects.filter(pk=sync.pk).update(initial_sync_done_at=sync.initial_sync_done_at)
            if run.created or run.matched:  # new links: records waiting for them can go on
                wake_dependents(sync)
        return run
    finally:
        sync.release()


def resync_deleted(
    object_sync_id: int,
    side: str,
    link_ids: Sequence[int] | None = None,
    *,
    trigger: str = SyncRun.Trigger.MANUAL,
    connectors: Mapping[str, Connector] | None = None,
) -> SyncRun | None:
    """"Resync deleted records in A/B" (F5.6): recreate on `side` the records deleted there
    (all of them, or the links `link_ids`), relink them and sync their associations again.
    None when another worker is running the sync (try again once it is done)."""
    sync = ObjectSync.objects.select_related("connection_a", "connection_b").get(pk=object_sync_id)
    if not sync.claim():
        return None
    try:
        status = LinkStatus.DELETED_A if side == "a" else LinkStatus.DELETED_B
        links = RecordLink.objects.filter(object_sync=sync, status=status).order_by("pk")
        if link_ids is not None:
            links = links.filter(pk__in=list(link_ids))
        run = SyncRun.objects.create(object_sync=sync, kind=SyncRun.Kind.RESYNC, trigger=trigger)
        chosen = list(links)
        _run_engine(sync, run, connectors, lambda engine: engine.resync_deleted(side, chosen))
        return run
    finally:
        sync.release()


def _run_engine(sync: ObjectSync, run: SyncRun, connectors, work: Callable[[Engine], None]) -> bool:
    """Prepare an engine for `run` and do `work`; the run is finished either way. True if it ran."""
    engine = Engine(sync, run)
    try:
        engine.prepare(dict(connectors or {}))
        work(engine)
    except Exception as exc:  # the run is recorded as failed; the cursors stay where saved
        logger.exception("run %s of object sync %s failed", run.pk, sync.pk)
        _safe_progress(engine)
        run.finish(error=f"{type(exc).__name__}: {exc}")
        return False
    finally:
        for side, context in engine.sides.items():
            if side not in (connectors or {}):  # the caller's own connectors stay open
                context.connector.close()
    run.finish()
    if engine.problems:  # skipped mappings, unreadable deletions: worth showing, not a failed run
        run.error = "\n".join(engine.problems)
        SyncRun.objects.filter(pk=run.pk).update(error=run.error)
    return True


def wake_dependents(sync: ObjectSync) -> int:
    """Once `sync` has linked records, links of other syncs between the same connections that
    wait for them are retried on those syncs' next run, which is brought forward; the count."""
    pair = (Q(connection_a=sync.connection_a_id, connection_b=sync.connection_b_id)
            | Q(connection_a=sync.connection_b_id, connection_b=sync.connection_a_id))
    dependents = ObjectSync.objects.filter(pair).exclude(pk=sync.pk)
    waiting = RecordLink.objects.filter(
        object_sync__in=dependents, status=LinkStatus.FAILING,
        error_category=ErrorCategory.WAITING_FOR_DEPENDENCY.code,
    )
    now = timezone.now()
    woken = waiting.update(next_retry_at=now)
    if woken:
        ObjectSync.objects.filter(
            pk__in=waiting.values("object_sync"), state=ObjectSync.State.ACTIVE, next_run_at__gt=now
        ).update(next_run_at=now)
    return woken


def _close_interrupted_runs(sync: ObjectSync) -> None:
    """Runs still marked running once we hold the claim died with their worker: say so."""
    SyncRun.objects.filter(object_sync=sync, status=SyncRun.Status.RUNNING).update(
        status=SyncRun.Status.FAILED,
        finished_at=timezone.now(),
        error="Interrupted: the worker stopped before the run finished. The next run resumed from the last saved page.",
    )


def _safe_progress(engine: Engine) -> None:
    try:
        engine.save_progress()
    except Exception:  # noqa: BLE001 - the original error is the one worth reporting
        logger.exception("could not save the progress of a failed run")



# --- health: record links
def record_urls(link: RecordLink, cache: dict[int, Connector] | None = None) -> tuple[str, str]:
    """Links to open the link's record in app A and in app B ("" where there is none, such as a
    record deleted there). No HTTP call: each connector builds the URL from what it holds.
    Pass the same `cache` dict for a page of links to build each connection's connector once."""
    from connectors.errors import ConnectorError
    from connectors.registry import UnknownConnectorKind

    sync = link.object_sync
    gone = {LinkStatus.DELETED_A: "a", LinkStatus.DELETED_B: "b"}.get(link.status)
    urls = {"a": "", "b": ""}
    for side in urls:
        record_id = getattr(link, f"id_{side}")
        if not record_id or side == gone:
            continue
        try:
            urls[side] = _connector(sync.connection(side), cache).record_url(sync.object_type, record_id)
        except (UnknownConnectorKind, ConnectorError, ValueError):
            logger.warning("no record link for %s on side %s of link %s", record_id, side, link.pk, exc_info=True)
    return urls["a"], urls["b"]


def _connector(connection, cache: dict[int, Connector] | None) -> Connector:
    if cache is None:
        return connection.connector()
    if connection.pk not in cache:
        cache[connection.pk] = connection.connector()
    return cache[connection.pk]


# --- health: retry
def retry_failing(object_sync_id: int, link_ids: Sequence[int] | None = None, category: str = "") -> int:
    """Retry the sync's links that are still failing (those of `link_ids`, or of `category`, or
    all) at a run queued now; the number of links retried (0 queues nothing).

    A link that is no longer failing is left alone: it synced, or was excluded or deleted since.
    """
    from syncrules.tasks import enqueue_run

    links = RecordLink.objects.filter(object_sync_id=object_sync_id, status=LinkStatus.FAILING)
    if link_ids is not None:
        links = links.filter(pk__in=list(link_ids))
    if category:
        links = links.filter(error_category=category)
    count = links.update(next_retry_at=timezone.now(), fail_count=0)
    if count:
        enqueue_run(object_sync_id, trigger=SyncRun.Trigger.MANUAL)
    return count
