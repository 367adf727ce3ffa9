"""What a per-object-type step of a run is (associations, deletions, re-evaluation); which steps
an object type has is the table in engine.steps.

A step sees each page once its records are synced and saved, before the page's cursor moves,
every link the run finds deleted on a side, and the run before and after both sides are read
and after the retries. Each hook receives the run as a RunContext (engine.context), never the
engine, and returns what it found as StepResults (or None): the runner saves them, so whatever
a step finds is durable before the page's cursor moves, and a step never writes to the store:

    class Associations(Extension):
        def after_page(self, run, side, records): ...  # Record.associations -> write_associations
        def after_sides(self, run): ...  # association changes the record reads missed
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from connectors.base import Record

if TYPE_CHECKING:
    from syncrules.engine.context import Results, RunContext
    from syncrules.models import RecordLink


class Extension:
    """A step of a run beyond field values; the defaults find nothing."""

    def before_sides(self, run: RunContext) -> Results:
        return None

    def after_deletions(self, run: RunContext, side: str, links: Sequence[RecordLink]) -> Results:
        """`links` were just saved as deleted on `side` (their record there is gone)."""
        return None

    def after_page(self, run: RunContext, side: str, records: Sequence[Record]) -> Results:
        return None

    def after_sides(self, run: RunContext) -> Results:
        return None

    def after_retries(self, run: RunContext) -> Results:
        return None


# canonical object type -> step factories, instantiated once per run. The table itself is written
# out in engine.steps (which imports the steps); it lives here so a test may swap a type's steps.
EXTENSIONS: dict[str, list[Callable[[], Extension]]] = {}
