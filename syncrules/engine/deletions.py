"""Deleted records (F3.7, F5.6, F6.4) and "Resync deleted records".

By default a deletion in one app is not carried to the other: the link becomes "deleted on A"
(or B), shows as not syncing with the category "record deleted", and its surviving record stays
as it is. A connector may declare that its deletions propagate (`propagates_deletions`:
Salesforce opportunities): the counterpart is then deleted too and the link forgotten. Never the
reverse: that is the other connector's rule.

A run learns of deletions two ways: `read_deleted` (the app's recycle bin or archive, read first
with its own cursor, so a deleted record is not mistaken for one to recreate; every run where
the deletion carries over, else every `association_sweep_seconds`), and lazily when a linked
record's counterpart is missing on read or write.

The step returns what it finds (links deleted on a side, links forgotten, its cursors of
`read_deleted`) for the runner to save; "Resync deleted records in A/B" lives in engine.resync.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings

from connectors.errors import ConnectorError
from syncrules.engine import store
from syncrules.engine.context import StepResult, deleted
from syncrules.engine.extensions import Extension
from syncrules.engine.merge import A, B, other
from syncrules.engine.store import LinkChange, Outcome
from syncrules.models import RecordLink, RecordOutcome, Side

if TYPE_CHECKING:
    from syncrules.engine.context import RunContext

Action = RecordOutcome.Action


class Deletions(Extension):
    def before_sides(self, run: RunContext) -> Iterator[StepResult]:
        """Read each side's deleted records (when due); each page's links are saved before its cursor."""
        cursors = run.sync.extra_cursors or {}
        now = run.now()
        for side in (A, B):
            key, checked = f"deleted_{side}", f"deleted_{side}_checked_at"
            if not self.due(run, side, cursors.get(checked), now):
                continue
            moved = {checked: now.isoformat()}
            pages = 0
            try:
                for page in run.connectors[side].read_deleted(run.kind, cursors.get(key)):
                    links = store.load_links(run.sync, side, [r.id for r in page.records])
                    result = self.gone(run, side, list(links.values()))
                    moved[key] = page.cursor
                    result.cursors = dict(moved)
                    pages += 1
                    yield result
            except NotImplementedError:
                continue
            except ConnectorError as exc:
                run.problems.append(f"Deleted records on {Side(side).letter} could not be read: {exc}")
                continue
            if not pages:
                yield StepResult(cursors=moved)  # also when nothing was deleted

    def due(self, run: RunContext, side: str, checked_at: str | None, now: datetime) -> bool:
        """Whether to read `side`'s deleted records in this run.

        Deletions that carry over are read every run. The others only change how a link is
        shown (a run that needs the record finds it gone anyway), and some apps can only list
        every archived record (HubSpot): those are read every `association_sweep_seconds`.
        """
        if self.propagates(run, side) or not checked_at:
            return True
        every = run.sync.options.get("association_sweep_seconds", settings.ASSOCIATION_SWEEP_SECONDS)
        return now - datetime.fromisoformat(checked_at) >= timedelta(seconds=float(every))

    def gone(self, run: RunContext, side: str, links: Sequence[RecordLink]) -> StepResult:
        """Records deleted on `side`: their links marked, or forgotten when one-sided."""
        result = StepResult(removed=[LinkChange(link) for link in links if not (link.id_a and link.id_b)])
        fresh = [link for link in links if link.linked and not link.is_deleted]
        if fresh and self.propagates(run, side):
            propagated = self.propagate(run, side, fresh)
            result.removed += propagated.removed
            result.changes += propagated.changes
        else:
            result.changes += [deleted(link, side) for link in fresh]
        return result

    def after_deletions(self, run: RunContext, side: str, links: Sequence[RecordLink]) -> StepResult | None:
        if links and self.propagates(run, side):
            return self.propagate(run, side, list(links))
        return None

    @staticmethod
    def propagates(run: RunContext, side: str) -> bool:
        if run.sync.options.get("propagate_deletions") is False or not run.sync.flows_to(other(side)):
            return False
        return bool(run.connectors[side].propagates_deletions(run.kind))

    @staticmethod
    def propagate(run: RunContext, side: str, links: list[RecordLink]) -> StepResult:
        """The app's rule: delete the counterparts of records deleted on `side` (F6.4)."""
        there = other(side)
        ids = [link.id_on(there) for link in links]
        try:
            results = {r.ref: r for r in run.connectors[there].delete(run.kind, ids)}
        except ConnectorError as exc:
            results = {}
            error = exc
        else:
            error = None
        removed, kept = [], []
        for link, rid in zip(links, ids, strict=True):
            result = results.get(rid)
            if result is not None and result.ok:
                message = (f"Deleted because the record {link.id_on(side)} was deleted on {Side(side).letter} "
                           f"(that app's deletions carry over).")
                removed.append(LinkChange(link, [Outcome(Action.DELETED, there, None, message)]))
            else:
                change = deleted(link, side)
                failure = (result.error if result is not None else None) or error
                if failure is not None:
                    change.outcomes.append(Outcome(Action.FAILED, there, failure.category,
                                                   f"Could not delete the counterpart: {failure.message}"))
                kept.append(change)
        return StepResult(changes=kept, removed=removed)
