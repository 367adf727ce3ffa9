"""One run of one object sync: read -> match -> merge -> write -> record outcomes.

This module holds the page and retry loop; the linked-record step is engine.linked, the
unlinked-record step engine.unlinked, the writes engine.writes, and the object type's further
steps (associations, deletions) are listed in engine.steps.

The engine reads the pages of records changed since each side's cursor, both sides at once:
each side's reader starts at the beginning of the run (in a thread of its own when the
connector reads ahead, connectors.readahead), and the engine, on its one thread, takes the pages
in an order fixed by the pages alone: next, the side that has given fewer records so far, side A
on a tie (connectors.readahead.interleave). Meanwhile the other side reads its next page, so the
rate limit of one app is spent while the engine works on the other's pages, and the order is the
same whatever answers first (a dry-run preview takes the pages in its run's order); then, if the run
wrote to side B, side B is read once more from its cursor (its first pages may have been read
before side A's pages wrote to it: this way B's cursor still ends past the run's own writes,
as when B was read after A; a preview, which writes nothing, does not). The setting
SYNC_INTERLEAVE_SIDES (default on) set off reads side A, then side B, as before. Either way one
page at a time is processed, and each page's cursor moves only once that page is saved. For each page the engine loads the page's links in
one query, then:
- linked records: the side's delta against the link's last synced values; only records with a
  delta get their counterpart read (one batched read), a merge plan (merge.plan_link), and
  batched updates on either side;
- unlinked records: the Limit filters, then matching against the other app (batched `find`),
  then a merge (matched) or a create (batched to the target's batch size; each batch's new ids
  are saved in their own transaction right after the write, so a crash loses at most the
  answer to one batch, whose records a re-run finds again by matching).
Only once every record of a page is saved (and what the object type's steps found in it too:
they return it, `apply` saves it) does the side's cursor move past it. Last, failing links that
are due for a retry are read again and reprocessed. A crash anywhere leaves the cursors at the
last saved page: the re-run reads those records again, finds its own writes as "no change" or
"both sides agree", and finds the records it created by matching.

What reading A wholly before B gave for free, an interleaved run keeps by looking at the links
as each page is processed (never at the page as it was read): a record the other side's pages
already matched, created or synced is linked by then, so it is neither matched again nor
created. One thing is new: a side's page may have been read before the engine, working on the
other side, wrote to one of its records, so the page holds an older copy. A linked record whose
link this run already saved, with a delta but a modified time no later than the copy the run
merged (`link.modified_a`/`_b`, read fresh before it wrote), is that older copy: it is skipped,
not synced back over the newer values. Its associations on the page may be as old, so the
association step reads them again (they are dropped from the page's records it is given).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from connectors.base import COMPANIES, CONTACTS, DEALS, Connector, FieldSpec, FieldType, Record
from connectors.errors import ConnectorError
from connectors.readahead import interleave
from syncrules.engine import resync, store
from syncrules.engine.context import (
    SIDE_NAMES,
    STAGE_LABEL,
    Pending,
    Results,
    RunContext,
    SideContext,
    StepResult,
)
from syncrules.engine.filters import Condition
from syncrules.engine.helpers import http_calls
from syncrules.engine.linked import LinkedRecords
from syncrules.engine.mappings import PIPELINE_KEYS, build_pairs
from syncrules.engine.match import MATCH_KEYS
from syncrules.engine.merge import A, B, FieldPair
from syncrules.engine.names import NameFields
from syncrules.engine.pipelines import DealStages
from syncrules.engine.steps import steps_for
from syncrules.engine.unlinked import UnlinkedRecords
from syncrules.engine.writes import Writes
from syncrules.models import LinkStatus, ObjectSync, RecordLink, RecordOutcome, SyncRun

logger = logging.getLogger(__name__)
Action = RecordOutcome.Action
RETRY_LIMIT = 1000  # failing links retried per run; the rest wait for the next one
__all__ = ["SIDE_NAMES", "STAGE_LABEL", "SUPPORTED_TYPES", "Engine", "NotSupported", "Pending", "SideContext"]
SUPPORTED_TYPES = {CONTACTS, COMPANIES, DEALS}


class NotSupported(Exception):
    """The object sync asks for something this engine cannot do yet."""


class Engine(LinkedRecords, UnlinkedRecords, Writes):
    """Runs one SyncRun of one ObjectSync against the two apps' connectors: the page and retry
    loop lives here; the linked-record step (engine.linked), the unlinked-record step
    (engine.unlinked) and the writes (engine.writes) are mixed in; the object type's steps
    (associations, deletions, re-evaluation: engine.steps) see the run as a RunContext and
    return what they find, which `apply` saves."""

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
        self.extensions = [make() for make in steps_for(self.kind)]
        self.stages: DealStages | None = None
        self.created: dict[str, set[str]] = {A: set(), B: set()}  # ids this run created, per side
        self.context = RunContext(sync, run, now, {}, self.problems, created=self.created)
        # Both sides' pages at once (see the module's docstring), a preview's as its run's.
        self.interleave = bool(getattr(settings, "SYNC_INTERLEAVE_SIDES", True))
        self.began: datetime | None = None  # links saved since then were saved by this run
        self.wrote = {A: False, B: False}  # whether this run wrote records to each side
        self.reads_back = persistence is None  # a preview writes nothing to read back

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
        self.context.connectors.update({side: context.connector for side, context in self.sides.items()})
        self.context.pairs = tuple(self.pairs)

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
        self.began = self.now()
        self.hook("before_sides")
        estimates: dict[str, int] = {}  # side -> records its first page said it has
        counts = {A: 0, B: 0}  # records processed per side
        pages = self.pages()
        try:  # an error ends both sides' readers here, before it leaves the run
            for side, page in pages:
                if counts[side] == 0 and side not in estimates and page.estimated_total is not None:
                    estimates[side] = page.estimated_total
                earlier = self.process(side, page.records)
                self.hook("after_page", side, without_associations(page.records, earlier))
                self.run.processed += len(page.records)
                counts[side] += len(page.records)
                if estimates:  # a side without an estimate counts what it has read so far
                    self.run.estimated_total = sum(max(estimates.get(s, 0), counts[s]) for s in (A, B))
                self.save_progress(side, page.cursor)
        finally:
            pages.close()
        self.hook("after_sides")
        self.retry_due()
        self.hook("after_retries")
        self.save_progress()

    def pages(self) -> Iterator[tuple[str, Any]]:
        """(side, page) of both sides' changes: interleaved, or side A's then side B's."""
        def read(side: str) -> Iterator[Any]:
            cursor = self.sync.cursor_a if side == A else self.sync.cursor_b
            return self.sides[side].connector.read_changes(self.kind, cursor)

        sides = (A, B)
        if self.interleave:
            yield from interleave({side: read(side) for side in (A, B)}, weight=lambda page: len(page.records))
            # Side B's pages may all be read before side A's wrote to it: B once more, so that
            # its cursor ends past the run's own writes, as when B was read after A (a poll of B
            # then finds nothing new, and the next run reads nothing of ours back from B).
            associated = self.run.associated
            sides = (B,) if self.reads_back and (self.wrote[B] or associated) else ()
        for side in sides:
            pages = read(side)
            try:
                for page in pages:
                    yield side, page
            finally:
                getattr(pages, "close", lambda: None)()

    # --- the steps -----------------------------------------------------------------------
    def hook(self, name: str, *args: Any) -> None:
        """Call hook `name` of every step of the object type, and save what each returns."""
        for extension in self.extensions:
            self.apply(getattr(extension, name)(self.context, *args))

    def apply(self, results: Results) -> None:
        """Save what a step found, the one place where steps' findings reach the store: links
        forgotten, links changed, failing links made due, then the step's cursors; then the
        links it asks for are read again and synced. A generator's results are saved one by
        one, each before the step goes on."""
        for result in [results] if isinstance(results, StepResult) else results or ():
            now = self.now()
            self.store.remove_links(self.sync, self.run, result.removed, now)
            self.store.save_changes(self.sync, self.run, result.changes, now)
            if result.due_categories:
                self.store.make_due(self.sync, result.due_categories, now)
            if result.cursors:
                self.store.save_extra_cursors(self.sync, {**(self.sync.extra_cursors or {}), **result.cursors})
            for side, links in result.retry.items():
                size = max(1, self.sides[side].connector.batch_size)
                for start in range(0, len(links), size):
                    self.retry(side, links[start:start + size])

    def save_progress(self, side: str | None = None, cursor: Any = None) -> None:
        self.run.http_calls = sum(http_calls(s.connector) - s.calls_at_start for s in self.sides.values())
        self.store.save_progress(self.sync, self.run, side, cursor)

    def write(self, side: str, creates: Sequence[dict] = (), updates: dict[str, dict] | None = None) -> list:
        self.wrote[side] = self.wrote[side] or bool(creates or updates)
        return super().write(side, creates, updates)

    def read(self, side: str, ids: Sequence[str]) -> dict[str, Record]:
        """Records of `side` by id (batched by the connector), ready for the merge."""
        found = self.sides[side].connector.read(self.kind, ids)
        self.prepare_records(side, found.values())
        return found

    def prepare_records(self, side: str, records: Iterable[Record]) -> None:
        if self.stages is not None:
            for record in records:
                self.stages.augment(side, record.values)

    def process(self, side: str, records: Sequence[Record], *, forced: bool = False) -> set[str]:
        """Sync one page of records read from `side`; the ids whose links this run had saved
        before (an interleaved run's pages only, see the module's docstring)."""
        unique = {r.id: r for r in records if not r.archived}  # archived ones reach read_deleted
        self.prepare_records(side, unique.values())
        self.follow_merges(side, unique.values())
        links = self.store.load_links(self.sync, side, unique)
        earlier = self.saved_this_run(links) if self.interleave and not forced else set()
        linked, unlinked = [], []
        for record in unique.values():
            link = links.get(record.id)
            if link is not None and link.id_a and link.id_b:
                if link.is_deleted or (record.id in earlier and self.older_copy(side, record, link)):
                    self.run.skipped += 1
                else:
                    linked.append((record, link))
            else:
                unlinked.append((record, link))
        self.sync_linked(side, linked, forced=forced)
        self.sync_unlinked(side, unlinked)
        return earlier

    def saved_this_run(self, links: dict[str, RecordLink]) -> set[str]:
        """Ids of `links` this run has saved already (while working on the other side's pages)."""
        began = self.began
        return {rid for rid, link in links.items() if began and link.updated_at and link.updated_at >= began}

    def older_copy(self, side: str, record: Record, link: RecordLink) -> bool:
        """Whether `record` is a copy read before this run merged a newer one: it differs from
        what the run synced, but was modified no later than the copy the run merged."""
        merged = link.modified_on(side)
        if record.modified_at is None or merged is None or link.status == LinkStatus.FAILING:
            return False
        return record.modified_at <= merged and self.has_delta(side, record, link)

    def resync_deleted(self, side: str, links: Sequence[RecordLink]) -> None:
        """Recreate on `side` the records deleted there (F5.6); see engine.resync."""
        resync.resync_deleted(self, side, links)
        self.save_progress()

    def after_page(self, side: str, records: Sequence[Record]) -> None:
        """The object type's steps see a page once its records are saved."""
        self.hook("after_page", side, records)

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
        self.hook("after_deletions", side, missing)
        present = [found[rid] for rid in ids if rid in found]
        self.process(side, present, forced=True)
        self.hook("after_page", side, present)
        self.run.processed += len(present)


def without_associations(records: Sequence[Record], ids: set[str]) -> Sequence[Record]:
    """`records`, those of `ids` without the associations read with them (the association step
    then reads their current ones)."""
    if not ids:
        return records
    return [dataclasses.replace(r, associations={}) if r.id in ids else r for r in records]


def filter_words(row: Any, specs: dict[str, FieldSpec]) -> str:
    """A SyncFilter as a person reads it: "Country is equal to FR"."""
    spec = specs.get(row.field)
    value = "" if row.operator in ("known", "unknown") else row.value
    return f"{(spec.label if spec else '') or row.field} {row.get_operator_display()} {value}".strip()
