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

"Resync deleted records in A/B" lives in engine.resync.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings

from connectors.errors import ConnectorError
from syncrules.engine import store
from syncrules.engine.extensions import Extension
from syncrules.engine.merge import A, B, other
from syncrules.engine.store import LinkChange, Outcome
from syncrules.models import RecordLink, RecordOutcome, Side

if TYPE_CHECKING:
    from syncrules.engine.context import RunContext as Engine

Action = RecordOutcome.Action


class Deletions(Extension):
    def before_sides(self, engine: Engine) -> None:
        cursors = dict(engine.sync.extra_cursors or {})
        now = engine.now()
        for side in (A, B):
            key = f"deleted_{side}"
            if not self.due(engine, side, cursors.get(f"{key}_checked_at"), now):
                continue
            cursors[f"{key}_checked_at"] = now.isoformat()
            try:
                for page in engine.sides[side].connector.read_deleted(engine.kind, cursors.get(key)):
                    links = store.load_links(engine.sync, side, [r.id for r in page.records])
                    self.gone(engine, side, list(links.values()))
                    cursors[key] = page.cursor
                    store.save_extra_cursors(engine.sync, cursors)
            except NotImplementedError:
                continue
            except ConnectorError as exc:
                engine.problems.append(f"Deleted records on {Side(side).letter} could not be read: {exc}")
                continue
            store.save_extra_cursors(engine.sync, cursors)  # also when nothing was deleted

    def due(self, engine: Engine, side: str, checked_at: str | None, now: datetime) -> bool:
        """Whether to read `side`'s deleted records in this run.

        Deletions that carry over are read every run. The others only change how a link is
        shown (a run that needs the record finds it gone anyway), and some apps can only list
        every archived record (HubSpot): those are read every `association_sweep_seconds`.
        """
        if self.propagates(engine, side) or not checked_at:
            return True
        every = engine.sync.options.get("association_sweep_seconds", settings.ASSOCIATION_SWEEP_SECONDS)
        return now - datetime.fromisoformat(checked_at) >= timedelta(seconds=float(every))

    def gone(self, engine: Engine, side: str, links: Sequence[RecordLink]) -> None:
        """Records deleted on `side`: mark their links, or forget one-sided ones."""
        lone = [link for link in links if not (link.id_a and link.id_b)]
        RecordLink.objects.filter(pk__in=[link.pk for link in lone]).delete()
        fresh = [link for link in links if link.linked and not link.is_deleted]
        if not fresh:
            return
        if self.propagates(engine, side):
            self.propagate(engine, side, fresh)
            return
        store.save_changes(engine.sync, engine.run, [engine.deleted(link, side) for link in fresh], engine.now())

    def after_deletions(self, engine: Engine, side: str, links: Sequence[RecordLink]) -> None:
        if links and self.propagates(engine, side):
            self.propagate(engine, side, list(links))

    @staticmethod
    def propagates(engine: Engine, side: str) -> bool:
        if engine.sync.options.get("propagate_deletions") is False or not engine.sync.flows_to(other(side)):
            return False
        return bool(engine.sides[side].connector.propagates_deletions(engine.kind))

    @staticmethod
    def propagate(engine: Engine, side: str, links: list[RecordLink]) -> None:
        """The app's rule: delete the counterparts of records deleted on `side` (F6.4)."""
        there = other(side)
        ids = [link.id_on(there) for link in links]
        try:
            results = {r.ref: r for r in engine.sides[there].connector.delete(engine.kind, ids)}
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
                change = engine.deleted(link, side)
                failure = (result.error if result is not None else None) or error
                if failure is not None:
                    change.outcomes.append(Outcome(Action.FAILED, there, failure.category,
                                                   f"Could not delete the counterpart: {failure.message}"))
                kept.append(change)
        store.remove_links(engine.sync, engine.run, removed, engine.now())
        store.save_changes(engine.sync, engine.run, kept, engine.now())
