""""Resync deleted records in A/B" (F5.6): recreate the surviving records on the side where they
were deleted, in batches, through the run's own writes (engine.writes), relink them, and let the
object type's steps sync their associations again. What it finds on the way (records gone from
both apps, deals parked in an unmapped stage) is saved through the runner's `apply`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from connectors.base import Record
from connectors.errors import ErrorCategory
from syncrules.engine.context import Pending, Results, SideContext, StepResult
from syncrules.engine.merge import FieldPair, other, plan_create
from syncrules.engine.store import LinkChange, Outcome
from syncrules.models import RecordLink, RecordOutcome, SyncRun

if TYPE_CHECKING:
    from syncrules.engine.pipelines import DealStages

Action = RecordOutcome.Action


class Resyncing(Protocol):
    """What a resync needs of the run (engine.runner.Engine): its reads, names and writes."""

    run: SyncRun
    now: Callable[[], datetime]
    sides: dict[str, SideContext]
    pairs: list[FieldPair]
    stages: DealStages | None

    def read(self, side: str, ids: Sequence[str]) -> dict[str, Record]: ...

    def name(self, link: RecordLink, values: dict[str, Any]) -> bool: ...

    def write_creates(self, side: str, pendings: Sequence[Pending]) -> None: ...

    def apply(self, results: Results) -> None: ...

    def after_page(self, side: str, records: Sequence[Record]) -> None: ...


def resync_deleted(engine: Resyncing, side: str, links: Sequence[RecordLink]) -> None:
    """Recreate on `side` the records deleted there, from their counterparts, and relink them."""
    there = other(side)
    size = max(1, engine.sides[side].connector.batch_size)
    for start in range(0, len(links), size):
        chunk = list(links[start:start + size])
        found = engine.read(there, [link.id_on(there) for link in chunk])
        pendings, both_gone, parked = [], [], []
        for link in chunk:
            record = found.get(link.id_on(there))
            if record is None:
                message = "Both records are gone: nothing is left to resync."
                both_gone.append(LinkChange(link, [Outcome(Action.DELETED, "", None, message)]))
                continue
            if engine.stages is not None and (reason := engine.stages.unmapped(there, record.values)):
                parked.append(LinkChange(link, [Outcome(Action.FAILED, side, ErrorCategory.UNMAPPED_STAGE, reason)]))
                continue
            link.associations, link.last_values = {}, {}
            engine.name(link, {there: record.values})
            plan = plan_create(engine.pairs, record.values, there)
            pendings.append(Pending(LinkChange(link), plan, Action.CREATED, create_on=side))
        engine.apply(StepResult(changes=parked, removed=both_gone))
        engine.write_creates(side, pendings)
        engine.run.processed += len(chunk)
        engine.after_page(there, [found[i] for i in found])
