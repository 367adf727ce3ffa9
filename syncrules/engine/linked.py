"""The linked-record step of a run: records already linked, merges the app made, deleted counterparts."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from connectors.base import Record
from connectors.errors import ErrorCategory
from syncrules.engine import values
from syncrules.engine.context import SIDE_NAMES, Pending
from syncrules.engine.merge import A, B, other, plan_link
from syncrules.engine.store import LinkChange, Outcome
from syncrules.models import LinkStatus, RecordLink, RecordOutcome

if TYPE_CHECKING:
    from syncrules.engine.context import SideContext

logger = logging.getLogger(__name__)
Action = RecordOutcome.Action


class LinkedRecords:
    """Records of a page that already have a link: delta, counterpart read, merge plan, writes."""

    # Provided by the Engine that mixes this in (engine.runner).
    sides: dict[str, SideContext]

    def follow_merges(self, side: str, records: Iterable[Record]) -> None:
        """Records the app merged into others: their links follow the surviving record.

        A survivor without a link of its own takes over the merged record's link (so it is not
        created again on the other side). A survivor already linked leaves the other side with
        two records for one: that link is shown as gone from this side, as a duplicate.
        """
        merged = {old: record for record in records for old in record.merged_ids if old != record.id}
        old_links = self.store.load_links(self.sync, side, merged) if merged else {}
        if not old_links:
            return
        own = self.store.load_links(self.sync, side, {merged[old].id for old in old_links})
        now, there, changes = self.now(), other(side), []
        for old, link in sorted(old_links.items()):
            survivor = merged[old].id
            message = f"{old} was merged into {survivor} on {SIDE_NAMES[side]}."
            change = LinkChange(link)
            if survivor not in own and not link.is_deleted:
                link.set_id(side, survivor)
                self.name(link, {side: merged[old].values})
                own[survivor] = link
                change.outcomes.append(Outcome(Action.MATCHED, "", None, f"{message} The link follows it."))
            elif link.id_on(there) and not link.is_deleted:
                # Gone from this side like a deleted record (never recreated by a run), but
                # explained as the duplicate it now is.
                message += (f" {survivor} is synced with another record, so {link.id_on(there)} on "
                            f"{SIDE_NAMES[there]} is a duplicate now: merge it there too.")
                change.outcomes.append(Outcome(Action.FAILED, there, ErrorCategory.DUPLICATE_RECORD, message))
                link.mark_deleted(side, message, ErrorCategory.DUPLICATE_RECORD)
            else:
                continue
            changes.append(change)
        self.store.save_changes(self.sync, self.run, changes, now)


    def has_delta(self, side: str, record: Record, link: RecordLink) -> bool:
        index = 0 if side == A else 1
        last = link.last_values or {}
        return any(
            pair.key not in last or pair.current(side, record.values) != last[pair.key][index] for pair in self.pairs
        )

    def sync_linked(self, side: str, items: Sequence[tuple[Record, RecordLink]], *, forced: bool = False) -> None:
        todo, renamed = [], []
        for record, link in items:
            if forced or link.status == LinkStatus.FAILING or self.has_delta(side, record, link):
                todo.append((record, link))
            else:
                self.run.skipped += 1  # unchanged, e.g. our own write read back
                if self.name(link, {side: record.values}):  # a name outside the mappings changed
                    renamed.append(link)
        self.store.save_names(renamed)
        if not todo:
            return
        there = other(side)
        found = self.read(there, [link.id_on(there) for _, link in todo])
        pendings, gone, parked = [], [], []
        for record, link in todo:
            counterpart = found.get(link.id_on(there))
            if counterpart is None:
                gone.append(self.deleted(link, there))
                continue
            records = {side: record, there: counterpart}
            self.set_modified(link, records)
            self.name(link, {s: r.values for s, r in records.items()})
            if self.stages is not None and (change := self.unmapped_stage(link, records)):
                parked.append(change)
                continue
            plan = plan_link(
                self.pairs, link.last_values or {}, records[A].values, records[B].values,
                modified_a=records[A].modified_at, modified_b=records[B].modified_at,
                conflict_winner=self.sync.conflict_winner, retry=values.retry_keys(link),
            )
            pendings.append(Pending(LinkChange(link), plan, Action.UPDATED))
        self.store.save_changes(self.sync, self.run, gone + parked, self.now())
        self.hook("after_deletions", there, [c.link for c in gone])
        self.write_updates(pendings)

    def unmapped_stage(self, link: RecordLink, records: dict[str, Record]) -> LinkChange | None:
        """A linked deal in a stage or pipeline the sync does not map stops syncing (F3.3, F6.3)."""
        for side in (A, B):
            reason = self.stages.unmapped(side, records[side].values)
            if reason:
                change = LinkChange(link)
                message = f"{reason} It stops syncing until it moves back to a mapped stage ({SIDE_NAMES[side]})."
                change.outcomes.append(Outcome(Action.FAILED, side, ErrorCategory.UNMAPPED_STAGE, message))
                change.link.fail(ErrorCategory.UNMAPPED_STAGE, message, self.now())
                return change
        return None

