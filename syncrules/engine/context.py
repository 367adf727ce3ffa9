"""What the parts of a run share: a side's context, a record on its way (Pending), and what the
per-object-type steps (engine.steps) see and give back.

A step receives a RunContext: the sync, its run (the counters), the clock, each side's
connector, the problems to report, and the little it needs of the run beyond those (the
mappings, the ids this run created). It returns StepResults: the link changes it found, links to
forget, its cursors, links to reprocess. The runner (engine.runner.Engine.apply) saves them
through the store, in one place; a step never writes links, outcomes or cursors itself.

Nothing here imports the runner, so steps depend on this module, never on the engine itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.base import Connector, FieldSpec, WriteResult
from connectors.errors import ErrorCategory
from syncrules.engine.filters import Condition
from syncrules.engine.merge import FieldPair, Plan
from syncrules.engine.names import NameFields
from syncrules.engine.store import LinkChange, Outcome
from syncrules.models import ObjectSync, RecordLink, RecordOutcome, Side, SyncRun

SIDE_NAMES = {side: f"side {side.letter}" for side in Side}
STAGE_LABEL = "pipeline and stage"


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


@dataclass
class RunContext:
    """The run as a step sees it. The lists and dicts are the run's own (a problem appended
    here is the run's problem); the connectors are for reading and writing the apps only."""

    sync: ObjectSync
    run: SyncRun  # the counters a step adds to (associated, waiting); its pk names this run
    now: Callable[[], datetime]
    connectors: dict[str, Connector]  # side -> its app's connector
    problems: list[str]  # shown on the run: what could not be read, and why
    pairs: Sequence[FieldPair] = ()  # the field mappings as the run prepared them
    # Ids this run created, per side: their associations are known without a read (none yet).
    created: dict[str, set[str]] = field(default_factory=lambda: {side.value: set() for side in Side})

    @property
    def kind(self) -> str:
        return self.sync.object_type


@dataclass
class StepResult:
    """What a step found, for the runner to save in this order: links forgotten (with their
    outcomes), links changed (with theirs), failing links made due, then the step's cursors (so a
    cursor never moves past what is not saved); last, links the runner reads again and syncs."""

    changes: list[LinkChange] = field(default_factory=list)
    removed: list[LinkChange] = field(default_factory=list)  # links whose records are gone: forgotten
    cursors: dict[str, Any] = field(default_factory=dict)  # keys of ObjectSync.extra_cursors to set
    due_categories: frozenset[str] = frozenset()  # failing links of these categories: retry them now
    retry: dict[str, list[RecordLink]] = field(default_factory=dict)  # side -> links to reprocess from it

    def __bool__(self) -> bool:
        return bool(self.changes or self.removed or self.cursors or self.due_categories or self.retry)


# What a step's hook may return: nothing, one result, or results one after another (a generator:
# each is saved before the step goes on, so a long step saves as it goes).
Results = StepResult | Iterable[StepResult] | None


def deleted(link: RecordLink, side: str) -> LinkChange:
    """The change of a link whose record on `side` is gone: it stops syncing, and says so."""
    message = f"The record {link.id_on(side)} no longer exists on {SIDE_NAMES[side]}."
    link.mark_deleted(side, message)
    return LinkChange(link, [Outcome(RecordOutcome.Action.FAILED, side, ErrorCategory.RECORD_DELETED, message)])
