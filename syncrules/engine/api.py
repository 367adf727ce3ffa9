"""The engine's entry point, shared by the management command and the django-q2 task."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from django.utils import timezone

from connectors.base import Connector
from syncrules.engine.runner import Engine
from syncrules.models import ObjectSync, SyncRun

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
        engine = Engine(sync, run)
        try:
            engine.prepare(dict(connectors or {}))
            engine.execute()
        except Exception as exc:  # the run is recorded as failed; the cursors stay where saved
            logger.exception("run %s of object sync %s failed", run.pk, sync.pk)
            _safe_progress(engine)
            run.finish(error=f"{type(exc).__name__}: {exc}")
            return run
        if kind == SyncRun.Kind.INITIAL:
            sync.initial_sync_done_at = timezone.now()
            ObjectSync.objects.filter(pk=sync.pk).update(initial_sync_done_at=sync.initial_sync_done_at)
        run.finish()
        if engine.problems:  # skipped mappings: worth showing, not a failed run
            run.error = "\n".join(engine.problems)
            SyncRun.objects.filter(pk=run.pk).update(error=run.error)
        return run
    finally:
        sync.release()


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

