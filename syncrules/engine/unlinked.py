"""The unlinked-record step of a run: limits (filters), matching, then a merge or a create."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from connectors.base import Record
from connectors.errors import ErrorCategory
from syncrules.engine import details
from syncrules.engine.context import SIDE_NAMES, Pending
from syncrules.engine.filters import Exclusion, exclusion
from syncrules.engine.helpers import search_values
from syncrules.engine.match import TAKEN, Candidate, pair_all, record_keys
from syncrules.engine.merge import A, B, other, plan_create, plan_link
from syncrules.engine.pipelines import STAGE_KEY
from syncrules.engine.store import LinkChange, Outcome
from syncrules.models import RecordLink, RecordOutcome

if TYPE_CHECKING:
    from syncrules.engine.context import SideContext

logger = logging.getLogger(__name__)
Action = RecordOutcome.Action


class UnlinkedRecords:
    """Records of a page without a link (or with a one-sided one): screen, match, merge or create."""

    # Provided by the Engine that mixes this in (engine.runner).
    sides: dict[str, SideContext]

    def sync_unlinked(self, side: str, items: Sequence[tuple[Record, RecordLink | None]]) -> None:
        there = other(side)
        now = self.now()
        eligible = self.screen(side, items)
        matches, their_links, shared_keys = self.match(side, [r for r, _ in eligible])
        merges, creates, duplicates = [], [], []
        for record, link in eligible:
            found = matches.get(record.id)
            change = LinkChange(link)
            if found == TAKEN:
                keys = "/".join(self.sides[side].match_fields)
                message = f"Another record with the same {keys} is already synced."
                change.link.fail(ErrorCategory.DUPLICATE_RECORD, message, now)
                change.outcomes.append(Outcome(Action.FAILED, there, ErrorCategory.DUPLICATE_RECORD, message))
                duplicates.append(change)
            elif found is not None:
                merges.append(self.merge(side, record, change, found, their_links.get(found.id), shared_keys.get(record.id)))
            else:
                link.modified_a, link.modified_b = (record.modified_at, None) if side == A else (None, record.modified_at)
                plan = plan_create(self.pairs, record.values, side)
                creates.append(Pending(change, plan, Action.CREATED, create_on=there))
        self.store.save_changes(self.sync, self.run, duplicates, now)
        self.write_updates(merges)
        self.write_creates(there, creates)

    def screen(self, side: str, items: Sequence[tuple[Record, RecordLink | None]]) -> list[tuple[Record, RecordLink]]:
        """Records that may enter the sync, each with its (maybe new) link; the rest are excluded."""
        excluded, eligible = [], []
        for record, link in items:
            link = link or RecordLink(**{f"id_{side}": record.id})
            self.name(link, {side: record.values})
            why = self.exclusion(side, record)
            if why:
                link.exclude(why.message)
                outcome = Outcome(Action.EXCLUDED, "", None, why.message, details.excluded_by(why.reason, why.detail))
                excluded.append(LinkChange(link, [outcome]))
            else:
                eligible.append((record, link))
        self.store.save_changes(self.sync, self.run, excluded, self.now())
        return eligible

    def exclusion(self, side: str, record: Record) -> Exclusion | None:
        """Why `record` may not enter the sync (None when it may)."""
        if not self.sync.flows_to(other(side)):
            message = f"This sync only writes to {SIDE_NAMES[side]}: records that exist only here are not copied."
            return Exclusion(details.DIRECTION, f"The sync only writes to {SIDE_NAMES[side]}", message)
        context = self.sides[side]
        why = exclusion(record.values, context.conditions, email_field=context.email_field)
        if why is None and self.stages is not None and (reason := self.stages.unmapped(side, record.values)):
            return Exclusion(details.UNMAPPED_STAGE, self.stages.sides[side].describe(record.values.get(STAGE_KEY)), reason)
        return why

    def merge(
        self, side: str, record: Record, change: LinkChange, found: Record, theirs: RecordLink | None,
        key: tuple[str, str] | None = None,
    ) -> Pending:
        """Link `record` with the record `found` by match `key` (key, value), and plan their merge."""
        there = other(side)
        if theirs is not None:  # the other record was excluded or failing alone: one link now
            if change.link.pk:
                change.absorb = theirs
            else:
                theirs.status = change.link.status
                change.link = theirs
        change.link.set_id(side, record.id)
        change.link.set_id(there, found.id)
        records = {side: record, there: found}
        self.set_modified(change.link, records)
        self.name(change.link, {s: r.values for s, r in records.items()})
        plan = plan_link(
            self.pairs, {}, records[A].values, records[B].values,
            modified_a=records[A].modified_at, modified_b=records[B].modified_at,
            conflict_winner=self.sync.conflict_winner,
        )
        keys = "/".join(self.sides[side].match_fields)
        return Pending(change, plan, Action.MATCHED, message=f"Matched {record.id} with {found.id} by {keys}.",
                       details=details.matched_by(*key) if key else {})

    def match(self, side: str, records: Sequence[Record]) -> tuple[dict[str, Any], dict[str, RecordLink], dict]:
        """For each record, a free record of the other app sharing a match key, TAKEN, or nothing;
        the links of those found, and for each record matched the (key, value) they share."""
        there = other(side)
        mine, theirs = self.sides[side].match_fields, self.sides[there].match_fields
        shared = {k: mine[k] for k in mine if k in theirs}
        if not (self.sync.match_records and shared and records):
            return {}, {}, {}
        keys = {r.id: record_keys(r.values, shared) for r in records}
        candidates: dict[str, Record] = {}
        for key in shared:
            wanted = set()
            for record in records:
                if key in keys[record.id]:
                    wanted.update(search_values(key, record.values[shared[key]], keys[record.id][key]))
            if wanted:
                for group in self.sides[there].connector.find(self.kind, theirs[key], sorted(wanted)).values():
                    candidates.update((r.id, r) for r in group)
        their_links = self.store.load_links(self.sync, there, candidates)
        taken = {rid for rid, link in their_links.items() if link.id_on(side)}
        pool = [Candidate(r.id, record_keys(r.values, {k: theirs[k] for k in shared})) for r in candidates.values()]
        result = pair_all(((r.id, keys[r.id]) for r in records), pool, taken)
        found = {rid: (candidates[m.found] if m.found not in (None, TAKEN) else m.found) for rid, m in result.items()}
        free = {rid: link for rid, link in their_links.items() if rid not in taken}
        return found, free, {rid: (m.key, m.value) for rid, m in result.items() if m.key}

