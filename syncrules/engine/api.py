"""The engine's entry point, shared by the management command and the django-q2 task."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from connectors.base import Connector, FieldSpec, FieldType, Option
from connectors.errors import ErrorCategory
from syncrules.engine.convert import policies_for
from syncrules.engine.mappings import build_pairs
from syncrules.engine.merge import FieldPair, other, plan_create, plan_link
from syncrules.engine.runner import Engine
from syncrules.lease import LeaseLost, RunLease
from syncrules.models import Direction, LinkStatus, ObjectSync, RecordLink, Side, SyncRun, ValuePolicy

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
        with RunLease(sync) as lease:
            _close_interrupted_runs(sync)
            if initial:
                sync.cursor_a = sync.cursor_b = sync.initial_sync_done_at = None
                ObjectSync.objects.filter(pk=sync.pk).update(cursor_a=None, cursor_b=None, initial_sync_done_at=None)
            kind = SyncRun.Kind.INITIAL if sync.initial_sync_done_at is None else SyncRun.Kind.INCREMENTAL
            run = SyncRun.objects.create(object_sync=sync, kind=kind, trigger=trigger, lease_token=sync.lease_token)
            lease.attach(run)
            if _run_engine(sync, run, connectors, lambda engine: engine.execute()):
                if kind == SyncRun.Kind.INITIAL:
                    sync.initial_sync_done_at = timezone.now()
                    ObjectSync.objects.filter(pk=sync.pk).update(initial_sync_done_at=sync.initial_sync_done_at)
                if run.created or run.matched:  # new links: records waiting for them can go on
                    wake_dependents(sync)
        return run
    finally:
        if not sync.release():
            logger.warning("object sync %s was taken over by another worker before this run released it", sync.pk)


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
        with RunLease(sync) as lease:
            _close_interrupted_runs(sync)
            status = LinkStatus.deleted_on(Side(side))
            links = RecordLink.objects.filter(object_sync=sync, status=status).order_by("pk")
            if link_ids is not None:
                links = links.filter(pk__in=list(link_ids))
            run = SyncRun.objects.create(object_sync=sync, kind=SyncRun.Kind.RESYNC, trigger=trigger,
                                         lease_token=sync.lease_token)
            lease.attach(run)
            chosen = list(links)
            _run_engine(sync, run, connectors, lambda engine: engine.resync_deleted(side, chosen))
        return run
    finally:
        if not sync.release():
            logger.warning("object sync %s was taken over by another worker before this run released it", sync.pk)


def _run_engine(sync: ObjectSync, run: SyncRun, connectors, work: Callable[[Engine], None]) -> bool:
    """Prepare an engine for `run` and do `work`; the run is finished either way. True if it ran."""
    engine = Engine(sync, run)
    try:
        engine.prepare(dict(connectors or {}))
        work(engine)
    except LeaseLost as exc:  # another worker runs the sync now: leave its run and cursors alone
        logger.error("run %s of object sync %s stopped: %s", run.pk, sync.pk, exc)
        SyncRun.close_interrupted(SyncRun.objects.filter(pk=run.pk))
        return False
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
    """Runs still marked running under another lease than ours died with their worker: close
    them as Interrupted, with the counts they had saved."""
    SyncRun.close_interrupted(SyncRun.objects.filter(object_sync=sync).exclude(lease_token=sync.lease_token))


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
    urls = {Side.A: "", Side.B: ""}
    for side in urls:
        record_id = link.id_on(side)
        if not record_id or link.status == LinkStatus.deleted_on(side):
            continue
        try:
            urls[side] = _connector(sync.connection(side), cache).record_url(sync.object_type, record_id)
        except (UnknownConnectorKind, ConnectorError, ValueError):
            logger.warning("no record link for %s on side %s of link %s", record_id, side, link.pk, exc_info=True)
    return urls[Side.A], urls[Side.B]


def _connector(connection, cache: dict[int, Connector] | None) -> Connector:
    if cache is None:
        return connection.connector()
    if connection.pk not in cache:
        cache[connection.pk] = connection.connector()
    return cache[connection.pk]


# --- dry-run preview
def preview_sync(
    object_sync_id: int,
    *,
    connectors: Mapping[str, Connector] | None = None,
    on_progress: Callable[[int, int | None, int], None] | None = None,
) -> dict:
    """What the sync's initial run would do now, read from both apps without writing anything:
    the `result` of a SyncPreview (see engine.preview). `on_progress(processed, estimated_total,
    http_calls)` is called after each page. Raises engine.preview.PreviewFailed, whose message is
    a sentence for the page, when an app cannot be read."""
    from syncrules.engine.preview import preview

    sync = ObjectSync.objects.select_related("connection_a", "connection_b").get(pk=object_sync_id)
    return preview(sync, connectors, on_progress)
# --- values ----------------------------------------------------------------------------------
# A value the other app cannot hold (issue 16): the evaluation the run uses, for the wizard's
# dry-run preview; the policies a mapping may offer; the health counts with warnings apart.


@dataclass
class RecordEvaluation:
    """What a record's values become for the other side, as a run would write them.

    `writes`: field -> value for the target; `warnings`: the fields not carried (items as on
    RecordLink.warnings); `failure`: (category code, message) when the record would fail there;
    `new_options`: field -> options the target would gain first (add_option).
    """

    writes: dict[str, Any]
    warnings: list[dict]
    failure: tuple[str, str] | None
    new_options: dict[str, list[Option]]

    @property
    def outcome(self) -> str:
        """'fails', 'syncs with warnings' or 'syncs'."""
        return "fails" if self.failure else "syncs with warnings" if self.warnings else "syncs"


def value_pairs(
    sync: ObjectSync,
    specs_a: Mapping[str, FieldSpec],
    specs_b: Mapping[str, FieldSpec],
    *,
    connectors: Mapping[str, Connector] | None = None,
) -> list[FieldPair]:
    """The sync's enabled mappings as the run evaluates them (policy, value map, fallback, and
    where options may be added, asked of `connectors` when given). Pure but for the ORM read."""
    addable = {}
    for side, specs in ((Side.A, specs_a), (Side.B, specs_b)):
        connector = (connectors or {}).get(side)
        addable[side] = {name for name, spec in specs.items() if connector is not None
                         and spec.type is FieldType.ENUMERATION and connector.can_add_options(sync.object_type, spec)}
    pairs, _ = build_pairs(sync, list(sync.field_mappings.all()), dict(specs_a), dict(specs_b), addable=addable)
    return pairs


def evaluate_record(
    pairs: Sequence[FieldPair],
    values: Mapping[str, Any],
    source: str,
    *,
    target_values: Mapping[str, Any] | None = None,
    last_values: Mapping[str, list] | None = None,
) -> RecordEvaluation:
    """The one evaluation of a record read from `source` ("a" or "b") for the other side: the
    create a run would make, or, with `target_values` (the linked record there), the update.
    Pure: the run's own merge (merge.plan_create / plan_link), no app is called."""
    target = other(source)
    if target_values is None:
        plan = plan_create(pairs, values, source)
    else:
        sides = {source: values, target: target_values}
        plan = plan_link(pairs, last_values or {}, sides[Side.A], sides[Side.B])
    error = plan.errors.get(target)
    return RecordEvaluation(
        writes=dict(plan.writes[target]), warnings=list(plan.warnings[target]),
        failure=(error.category.code, error.message) if error else None,
        new_options={name: list(options) for name, options in plan.new_options[target].items()},
    )


def mapping_policies(
    spec_a: FieldSpec,
    spec_b: FieldSpec,
    *,
    direction: str = Direction.TWO_WAY,
    object_type: str = "",
    connector_a: Connector | None = None,
    connector_b: Connector | None = None,
) -> list[tuple[str, str]]:
    """The policies the wizard may offer for a mapping, as (value, label) choices: skip and fail
    always; fallback option into an enumeration; truncate into text; add the missing option
    only where the target app can add options to that field (HubSpot dropdowns, never a
    Salesforce picklist). A two-way mapping offers what either direction allows."""
    offered: list[str] = []
    for target, source_spec, target_spec, connector in (
        (Side.B, spec_a, spec_b, connector_b), (Side.A, spec_b, spec_a, connector_a),
    ):
        if direction not in (Direction.TWO_WAY, f"to_{target}"):
            continue
        can_add = bool(connector is not None and connector.can_add_options(object_type, target_spec))
        offered += [p for p in policies_for(source_spec, target_spec, can_add_options=can_add) if p not in offered]
    return [(choice.value, choice.label) for choice in ValuePolicy if choice.value in offered]


def link_counts(object_sync_ids: Sequence[int] | None = None) -> dict[int, dict[str, int]]:
    """Per object sync: records "in_sync", "in_sync_with_warnings" and "errors" (failing), apart
    (in_sync excludes those with warnings). One grouped query on the (sync, status, has_warnings) index."""
    rows = RecordLink.objects.filter(status__in=[LinkStatus.IN_SYNC, LinkStatus.FAILING])
    if object_sync_ids is not None:
        rows = rows.filter(object_sync__in=list(object_sync_ids))
    counts: dict[int, dict[str, int]] = {}
    for row in rows.values("object_sync", "status", "has_warnings").annotate(n=Count("pk")).order_by():
        entry = counts.setdefault(row["object_sync"], {"in_sync": 0, "in_sync_with_warnings": 0, "errors": 0})
        if row["status"] == LinkStatus.FAILING:
            entry["errors"] += row["n"]
        else:
            entry["in_sync_with_warnings" if row["has_warnings"] else "in_sync"] += row["n"]
    return counts
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
