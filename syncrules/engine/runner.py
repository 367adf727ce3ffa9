"""One run of one object sync: read -> match -> merge -> write -> record outcomes.

Per side (A, then B) the engine reads the pages of records changed since that side's cursor.
For each page it loads the page's links in one query, then:
- linked records: the side's delta against the link's last synced values; only records with a
  delta get their counterpart read (one batched read), a merge plan (merge.plan_link), and
  batched updates on either side;
- unlinked records: the Limit filters, then matching against the other app (batched `find`),
  then a merge (matched) or a create (batched to the target's batch size; each batch's new ids
  are saved in their own transaction right after the write, so a crash loses at most the
  answer to one batch, whose records a re-run finds again by matching).
Only once every record of a page is saved (and the object type's extensions have seen it) does
the side's cursor move past it. Last, failing links that are due for a retry are read again and
reprocessed. A crash anywhere leaves the cursors at the last saved page: the re-run reads those
records again, finds its own writes as "no change" or "both sides agree", and finds the records
it created by matching.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from connectors.base import COMPANIES, CONTACTS, DEALS, Connector, FieldSpec, FieldType, Record, WriteResult
from connectors.errors import ConnectorError, ErrorCategory
from syncrules.engine import associations, deletions, details, store, values  # noqa: F401 - some register extensions
from syncrules.engine.extensions import EXTENSIONS
from syncrules.engine.filters import Condition, Exclusion, exclusion
from syncrules.engine.helpers import described, http_calls, no_answer, search_values
from syncrules.engine.mappings import PIPELINE_KEYS, build_pairs
from syncrules.engine.match import MATCH_KEYS, TAKEN, Candidate, pair_all, record_keys
from syncrules.engine.merge import A, B, FieldPair, Plan, other, plan_create, plan_link
from syncrules.engine.names import NameFields
from syncrules.engine.pipelines import STAGE_KEY, DealStages
from syncrules.engine.store import LinkChange, Outcome
from syncrules.models import LinkStatus, ObjectSync, RecordLink, RecordOutcome, Side, SyncRun

logger = logging.getLogger(__name__)
Action = RecordOutcome.Action
RETRY_LIMIT = 1000  # failing links retried per run; the rest wait for the next one
SIDE_NAMES = {side: f"side {side.letter}" for side in Side}


@dataclass
class SideContext:
    side: str
    connector: Connector
    specs: dict[str, FieldSpec]
    match_fields: dict[str, str]  # canonical match key -> this app's field
    email_field: str | None  # set when contacts must have a valid email to enter the sync
    conditions: list[Condition]
    calls_at_start: int = 0
    names: NameFields | None = None


@dataclass
class Pending:
    """A record on its way: the link it will update and the plan of writes for it."""

    change: LinkChange
    plan: Plan
    action: str  # created, matched or updated
    create_on: str | None = None
    message: str = ""
    results: dict[str, WriteResult] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)  # of the matched outcome


SUPPORTED_TYPES = {CONTACTS, COMPANIES, DEALS}
STAGE_LABEL = "pipeline and stage"


class NotSupported(Exception):
    """The object sync asks for something this engine cannot do yet."""


class Engine:
    """Runs one SyncRun of one ObjectSync against the two apps' connectors."""

    def __init__(
        self, sync: ObjectSync, run: SyncRun, *, now: Callable[[], datetime] = timezone.now, persistence: Any = None
    ) -> None:
        self.sync, self.run, self.now = sync, run, now
        # Where links, outcomes and progress go: engine.store, or a preview's recorder (engine.preview).
        self.store = persistence or store
        self.kind = sync.object_type
        self.sides: dict[str, SideContext] = {}
        self.pairs: list[FieldPair] = []
        self.problems: list[str] = []
        self.extensions = [make() for make in EXTENSIONS.get(self.kind, [])]
        self.stages: DealStages | None = None
        self.created: dict[str, set[str]] = {A: set(), B: set()}  # ids this run created, per side

    # --- setup ---------------------------------------------------------------------------
    def prepare(self, connectors: dict[str, Connector] | None = None) -> None:
        if self.kind not in SUPPORTED_TYPES:
            raise NotSupported(f"Syncing {self.kind} is not supported yet.")
        filters = list(self.sync.filters.all())
        for side in (A, B):
            connector = (connectors or {}).get(side) or self.sync.connection(side).connector()
            calls = http_calls(connector)
            specs = {s.name: s for s in connector.fields(self.kind)}
            defaults = {d.key: d.field for d in connector.default_fields(self.kind)}
            match_fields = {k: defaults[k] for k in MATCH_KEYS.get(self.kind, ()) if defaults.get(k) in specs}
            email = defaults.get("email") if self.kind == CONTACTS and self.sync.require_email else None
            conditions = [Condition(f.field, f.operator, f.value, filter_words(f, specs)) for f in filters if f.side == side]
            names = NameFields.from_defaults(self.kind, defaults, specs)
            self.sides[side] = SideContext(side, connector, specs, match_fields, email, conditions, calls, names)
        casefold = {f for s in self.sides.values() for k, f in s.match_fields.items() if k == "email"}
        mappings = list(self.sync.field_mappings.all())
        if self.kind == DEALS:
            self.stages = self.load_stages()
            reserved = {side: {self.stages.sides[side].pipeline_field, self.stages.sides[side].stage_field} for side in (A, B)}
            kept = [m for m in mappings if m.field_a not in reserved[A] and m.field_b not in reserved[B]]
            self.problems += [
                f"The mapping {m} is left out: a deal's pipeline and stage follow the pipeline mapping." for m in mappings
                if m not in kept and m.enabled
            ]
            mappings = kept
        addable = {side: self.addable_fields(side) for side in (A, B)}
        pairs, problems = build_pairs(self.sync, mappings, self.sides[A].specs, self.sides[B].specs, casefold, addable)
        self.problems += problems
        self.pairs = pairs + ([self.stages.pair(self.sync)] if self.stages else [])

    def addable_fields(self, side: str) -> set[str]:
        """Enumerations of `side` whose app can add a missing option (the add_option policy)."""
        context = self.sides[side]
        return {name for name, spec in context.specs.items()
                if spec.type is FieldType.ENUMERATION and context.connector.can_add_options(self.kind, spec)}

    def load_stages(self) -> DealStages:
        """The deal sync's pipelines and stage mappings; NotSupported says what is missing (F3.5, F6.1)."""
        connectors = {side: context.connector for side, context in self.sides.items()}
        switch = [SIDE_NAMES[s] for s, c in connectors.items() if getattr(c, "deal_switch", False)]
        if switch and not self.sync.sync_deals:
            raise NotSupported(
                f"Turn on 'Sync deals' for this sync first: the app on {' and '.join(switch)} asks for it "
                "before any deal is created from its records."
            )
        fields = {}
        for side, connector in connectors.items():
            defaults = {d.key: d.field for d in connector.default_fields(self.kind) if d.key in PIPELINE_KEYS}
            specs = self.sides[side].specs
            if defaults.get("stage") not in specs:
                raise NotSupported(f"The app on {SIDE_NAMES[side]} has no deal stages the sync can read, so deals cannot sync.")
            fields[side] = {k: f for k, f in defaults.items() if f in specs}
        try:
            stages = DealStages.load(self.sync, connectors, fields)
        except ConnectorError as exc:
            raise NotSupported(f"The deal pipelines could not be read: {exc}") from exc
        if not stages.a_to_b:
            raise NotSupported("Map at least one deal stage: only deals in mapped stages sync.")
        return stages

    # --- the run -------------------------------------------------------------------------
    def execute(self) -> None:
        for extension in self.extensions:
            extension.before_sides(self)
        for side in (A, B):
            cursor = self.sync.cursor_a if side == A else self.sync.cursor_b
            first = True
            for page in self.sides[side].connector.read_changes(self.kind, cursor):
                if first and page.estimated_total is not None:
                    self.run.estimated_total = self.run.processed + page.estimated_total
                first = False
                self.process(side, page.records)
                for extension in self.extensions:
                    extension.after_page(self, side, page.records)
                self.run.processed += len(page.records)
                self.save_progress(side, page.cursor)
        for extension in self.extensions:
            extension.after_sides(self)
        self.retry_due()
        for extension in self.extensions:
            extension.after_retries(self)
        self.save_progress()

    def save_progress(self, side: str | None = None, cursor: Any = None) -> None:
        self.run.http_calls = sum(http_calls(s.connector) - s.calls_at_start for s in self.sides.values())
        self.store.save_progress(self.sync, self.run, side, cursor)

    def read(self, side: str, ids: Sequence[str]) -> dict[str, Record]:
        """Records of `side` by id (batched by the connector), ready for the merge."""
        found = self.sides[side].connector.read(self.kind, ids)
        self.prepare_records(side, found.values())
        return found

    def prepare_records(self, side: str, records: Iterable[Record]) -> None:
        if self.stages is not None:
            for record in records:
                self.stages.augment(side, record.values)

    def process(self, side: str, records: Sequence[Record], *, forced: bool = False) -> None:
        """Sync one page of records read from `side`."""
        unique = {r.id: r for r in records if not r.archived}  # archived ones reach read_deleted
        self.prepare_records(side, unique.values())
        self.follow_merges(side, unique.values())
        links = self.store.load_links(self.sync, side, unique)
        linked, unlinked = [], []
        for record in unique.values():
            link = links.get(record.id)
            if link is not None and link.id_a and link.id_b:
                if link.is_deleted:
                    self.run.skipped += 1
                else:
                    linked.append((record, link))
            else:
                unlinked.append((record, link))
        self.sync_linked(side, linked, forced=forced)
        self.sync_unlinked(side, unlinked)

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

    # --- linked records ------------------------------------------------------------------
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
        for extension in self.extensions:
            extension.after_deletions(self, there, [c.link for c in gone])
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

    def deleted(self, link: RecordLink, side: str) -> LinkChange:
        message = f"The record {link.id_on(side)} no longer exists on {SIDE_NAMES[side]}."
        link.mark_deleted(side, message)
        return LinkChange(link, [Outcome(Action.FAILED, side, ErrorCategory.RECORD_DELETED, message)])

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

    # --- unlinked records ----------------------------------------------------------------
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

    # --- writes --------------------------------------------------------------------------
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
            for extension in self.extensions if gone else ():
                extension.after_deletions(self, side, gone)

    def resync_deleted(self, side: str, links: Sequence[RecordLink]) -> None:
        """Recreate on `side` the records deleted there (F5.6); see engine.deletions."""
        from syncrules.engine.deletions import resync_deleted

        resync_deleted(self, side, links)
        self.save_progress()

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

    # --- retries -------------------------------------------------------------------------
    def retry_due(self) -> None:
        """Reprocess failing links whose retry time has come (transient errors, manual retries)."""
        # Links this run already saved are left alone (every failing link it touched is saved).
        due = self.store.due_links(self.sync, self.now(), self.run.started_at, RETRY_LIMIT)
        for side in (A, B):
            # Linked pairs are retried from side A; one-sided links from the side they exist on.
            links = [link for link in due if link.id_on(side) and (side == A or not link.id_a)]
            size = max(1, self.sides[side].connector.batch_size)
            for start in range(0, len(links), size):
                self.retry(side, links[start : start + size])

    def retry(self, side: str, links: Sequence[RecordLink]) -> None:
        ids = [link.id_on(side) for link in links]
        found = self.read(side, ids)
        missing = [link for link, rid in zip(links, ids, strict=True) if rid not in found]
        self.store.save_changes(self.sync, self.run, [self.deleted(link, side) for link in missing], self.now())
        for extension in self.extensions:
            extension.after_deletions(self, side, missing)
        present = [found[rid] for rid in ids if rid in found]
        self.process(side, present, forced=True)
        for extension in self.extensions:
            extension.after_page(self, side, present)
        self.run.processed += len(present)


def filter_words(row: Any, specs: dict[str, FieldSpec]) -> str:
    """A SyncFilter as a person reads it: "Country is equal to FR"."""
    spec = specs.get(row.field)
    value = "" if row.operator in ("known", "unknown") else row.value
    return f"{(spec.label if spec else '') or row.field} {row.get_operator_display()} {value}".strip()
