""""Resync deleted records in A/B" (F5.6): recreate the surviving records on the side where they
were deleted, in batches, through the run's own writes (engine.writes), relink them, and let the
object type's steps sync their associations again."""

from __future__ import annotations

from collections.abc import Sequence

from connectors.errors import ErrorCategory
from syncrules.engine import store
from syncrules.engine.context import Pending, RunContext
from syncrules.engine.merge import other, plan_create
from syncrules.engine.store import LinkChange, Outcome
from syncrules.models import RecordLink, RecordOutcome

Action = RecordOutcome.Action


def resync_deleted(engine: RunContext, side: str, links: Sequence[RecordLink]) -> None:
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
        store.remove_links(engine.sync, engine.run, both_gone, engine.now())
        store.save_changes(engine.sync, engine.run, parked, engine.now())
        engine.write_creates(side, pendings)
        engine.run.processed += len(chunk)
        engine.after_page(there, [found[i] for i in found])
