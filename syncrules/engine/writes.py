"""The writes of a run: batched updates and creates, their results turned into link state and outcomes."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from connectors.base import Record, WriteResult
from connectors.errors import ConnectorError, ErrorCategory
from syncrules.engine import values
from syncrules.engine.context import SIDE_NAMES, STAGE_LABEL, Pending, deleted
from syncrules.engine.helpers import described, no_answer
from syncrules.engine.merge import A, B, Plan, other
from syncrules.engine.pipelines import STAGE_KEY
from syncrules.engine.store import LinkChange, Outcome
from syncrules.models import LinkStatus, RecordLink, RecordOutcome, Side

if TYPE_CHECKING:
    from syncrules.engine.context import SideContext

logger = logging.getLogger(__name__)
Action = RecordOutcome.Action


class Writes:
    """Writing plans through the connectors and settling each link from the results."""

    # Provided by the Engine that mixes this in (engine.runner).
    sides: dict[str, SideContext]

    def write(self, side: str, creates: Sequence[dict] = (), updates: dict[str, dict] | None = None) -> list[WriteResult]:
        """Write through the connector; a whole-call failure fails every record of the call."""
        if not creates and not updates:
            return []
        if self.stages is not None:  # the synthetic pipeline-and-stage value -> the app's fields
            creates = [self.stages.expand(side, values) for values in creates]
            updates = {rid: self.stages.expand(side, values) for rid, values in (updates or {}).items()}
        try:
            return self.sides[side].connector.write(self.kind, creates, updates or {})
        except ConnectorError as exc:
            logger.warning("write to %s failed as a whole: %s", SIDE_NAMES[side], exc)
            return [WriteResult(i, error=exc) for i in range(len(creates))] + [
                WriteResult(rid, error=exc) for rid in (updates or {})
            ]

    def write_updates(self, pendings: Sequence[Pending]) -> None:
        for side in (A, B):
            values.add_missing_options(self, side, [p for p in pendings if p.plan.writes[side]])
            batch = {}
            for pending in pendings:
                if pending.plan.writes[side]:
                    batch[pending.change.link.id_on(side)] = (pending, pending.plan.writes[side])
            by_id = {r.ref: r for r in self.write(side, updates={rid: values for rid, (_, values) in batch.items()})}
            for rid, (pending, _) in batch.items():
                pending.results[side] = by_id.get(rid) or WriteResult(rid, error=no_answer())
        changes = [self.finish(p) for p in pendings]
        self.store.save_changes(self.sync, self.run, changes, self.now())
        for side in Side:
            status = LinkStatus.deleted_on(side)
            gone = [c.link for c in changes if c.link.status == status]
            if gone:
                self.hook("after_deletions", side, gone)

    def write_creates(self, side: str, pendings: Sequence[Pending]) -> None:
        ready = [p for p in pendings if side not in p.plan.errors]
        values.add_missing_options(self, side, ready)
        size = max(1, self.sides[side].connector.batch_size)
        self.store.save_changes(self.sync, self.run, [self.finish(p) for p in pendings if side in p.plan.errors], self.now())
        for start in range(0, len(ready), size):
            chunk = ready[start : start + size]
            results = {r.ref: r for r in self.write(side, creates=[p.plan.writes[side] for p in chunk])}
            for index, pending in enumerate(chunk):
                pending.results[side] = results.get(index) or WriteResult(index, error=no_answer())
            # Saved right after each batch: the new ids are durable before the next call.
            self.store.save_changes(self.sync, self.run, [self.finish(p) for p in chunk], self.now())

    def finish(self, pending: Pending) -> LinkChange:
        """Turn a plan and its write results into the link's new state and outcomes."""
        change, plan, link = pending.change, pending.plan, pending.change.link
        now = self.now()
        old = dict(link.last_values or {})
        failures = {s: (e.category, described(e.message, e.field), None) for s, e in plan.errors.items()}
        for side, result in pending.results.items():
            if result.ok and pending.create_on == side:
                link.set_id(side, result.id)
                self.created[side].add(result.id)
                self.name(link, {side: plan.writes[side]})
            elif not result.ok:
                error = result.error
                message = described(error.message, error.field, error.vendor_code)
                failures[side] = (error.category, message, error.retry_after)
        link.last_values = plan.last_after([s for s in failures if s in pending.results], old)
        if pending.action == Action.MATCHED:
            change.outcomes.append(Outcome(Action.MATCHED, "", None, pending.message, pending.details))
        for side, result in pending.results.items():
            if result.ok:
                action = Action.CREATED if pending.create_on == side else Action.UPDATED
                fields = ", ".join(sorted(STAGE_LABEL if f == STAGE_KEY else f for f in plan.writes[side]))
                why = self.write_details(plan, side, link)
                change.outcomes.append(Outcome(action, side, None, f"Wrote {fields}." if fields else "", why))
        values.settle_warnings(change, plan, failures)
        if not failures:
            change.link.succeed(now)
            if not change.outcomes and change.link.first_problem() is not None:
                self.run.skipped += 1  # a retry of a waiting record: its association step tells the rest
            elif not change.outcomes:
                change.outcomes.append(Outcome(Action.SKIPPED, "", None, "Nothing to change: both sides agree."))
            return change
        return self.fail(change, failures, now)

    def write_details(self, plan: Plan, side: str, link: RecordLink) -> dict[str, Any]:
        """What a write to `side` changed and why, and when the other side's record was last
        modified (so the latency from an edit to its copy can be measured)."""
        changes = plan.changes_to(side)
        if not changes:
            return {}
        modified = link.modified_on(other(side))
        return {"changes": self.stages.explain(changes) if self.stages else changes,
                **({"source_modified_at": modified.isoformat()} if modified else {})}

    def fail(self, change: LinkChange, failures: dict, now: datetime) -> LinkChange:
        for side, (category, message, retry_after) in sorted(failures.items()):
            change.outcomes.append(Outcome(Action.FAILED, side, category, message))
            if category is ErrorCategory.RECORD_DELETED and change.link.id_a and change.link.id_b:
                self.deleted(change.link, side)
                continue
            change.link.fail(category, message, now, retry_after)
        return change

    @staticmethod
    def deleted(link: RecordLink, side: str) -> LinkChange:
        return deleted(link, side)

    @staticmethod
    def set_modified(link: RecordLink, records: dict[str, Record]) -> None:
        link.modified_a = records[A].modified_at or link.modified_a
        link.modified_b = records[B].modified_at or link.modified_b

    def name(self, link: RecordLink, values: dict[str, Any]) -> bool:
        """Set the link's display names and match key from the values read or written per side
        (engine.names); True if any changed. The match key is side A's; side B's only stands in
        for a missing one (so reading each side in turn never flips it back and forth)."""
        before = (link.name_a, link.name_b, link.match_key)
        keys = {}
        for side, side_values in values.items():
            names = self.sides[side].names
            name = names.display_name(side_values)
            if side == A:
                link.name_a = name
            else:
                link.name_b = name
            keys[side] = names.match_key(side_values)
        if keys.get(A):
            link.match_key = keys[A]
        elif keys.get(B) and not (link.match_key and link.id_a):
            link.match_key = keys[B]
        return (link.name_a, link.name_b, link.match_key) != before

