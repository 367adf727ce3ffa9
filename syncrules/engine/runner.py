"""One run of one object sync: read -> match -> merge -> write -> record outcomes.

This module holds the page and retry loop; the linked-record step is engine.linked, the
unlinked-record step engine.unlinked, the writes engine.writes, and the object type's further
steps (associations, deletions) are listed in engine.steps.

Per side (A, then B) the engine reads the pages of records changed since that side's cursor.
For each page it loads the page's links in one query, then:
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
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from django.utils import timezone

from connectors.base import COMPANIES, CONTACTS, DEALS, Connector, FieldSpec, FieldType, Record
from connectors.errors import ConnectorError
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
from syncrules.models import ObjectSync, RecordLink, RecordOutcome, SyncRun

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
        self.hook("before_sides")
        for side in (A, B):
            cursor = self.sync.cursor_a if side == A else self.sync.cursor_b
            first = True
            for page in self.sides[side].connector.read_changes(self.kind, cursor):
                if first and page.estimated_total is not None:
                    self.run.estimated_total = self.run.processed + page.estimated_total
                first = False
                self.process(side, page.records)
                self.hook("after_page", side, page.records)
                self.run.processed += len(page.records)
                self.save_progress(side, page.cursor)
        self.hook("after_sides")
        self.retry_due()
        self.hook("after_retries")
        self.save_progress()

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


def filter_words(row: Any, specs: dict[str, FieldSpec]) -> str:
    """A SyncFilter as a person reads it: "Country is equal to FR"."""
    spec = specs.get(row.field)
    value = "" if row.operator in ("known", "unknown") else row.value
    return f"{(spec.label if spec else '') or row.field} {row.get_operator_display()} {value}".strip()
