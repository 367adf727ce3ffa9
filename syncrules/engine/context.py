"""What the steps of a run share: a side's context, a record on its way (Pending), and the
narrow view of a run (RunContext) that the per-object-type steps (engine.steps) receive.

Nothing here imports the runner, so steps depend on this module, never on the engine itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from connectors.base import Connector, FieldSpec, Record, WriteResult
from syncrules.engine.filters import Condition
from syncrules.engine.merge import FieldPair, Plan
from syncrules.engine.names import NameFields
from syncrules.engine.store import LinkChange
from syncrules.models import ObjectSync, RecordLink, Side, SyncRun

if TYPE_CHECKING:
    from syncrules.engine.pipelines import DealStages

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


class RunContext(Protocol):
    """The run as a step sees it: the sync and its run (counters), the clock, each side's
    connector, problems to report, and the link writes it may ask for."""

    sync: ObjectSync
    run: SyncRun
    kind: str
    now: Callable[[], datetime]
    sides: dict[str, SideContext]
    pairs: list[FieldPair]
    problems: list[str]
    stages: DealStages | None
    created: dict[str, set[str]]  # ids this run created, per side

    def read(self, side: str, ids: Sequence[str]) -> dict[str, Record]: ...

    def deleted(self, link: RecordLink, side: str) -> LinkChange: ...

    def name(self, link: RecordLink, values: dict[str, Any]) -> bool: ...

    def write_creates(self, side: str, pendings: Sequence[Pending]) -> None: ...

    def after_page(self, side: str, records: Iterable[Record]) -> None: ...

    def retry(self, side: str, links: Sequence[RecordLink]) -> None: ...
