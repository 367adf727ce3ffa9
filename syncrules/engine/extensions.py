"""What a per-object-type step of a run is (associations, deletions, re-evaluation); which steps
an object type has is the table in engine.steps.

An extension sees each page once its records are synced and saved, before the page's cursor
moves (so whatever it records is durable first), every link the run finds deleted on a side,
and the run before and after both sides are read and after the retries:

    class Associations(Extension):
        def after_page(self, engine, side, records): ...  # Record.associations -> write_associations
        def after_sides(self, engine): ...  # association changes the record reads missed

Each receives the run as a RunContext (engine.context), never the engine itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from connectors.base import Record

if TYPE_CHECKING:
    from syncrules.engine.context import RunContext as Engine
    from syncrules.models import RecordLink


class Extension:
    """A step of a run beyond field values; the defaults do nothing."""

    def before_sides(self, engine: Engine) -> None:
        return None

    def after_deletions(self, engine: Engine, side: str, links: Sequence[RecordLink]) -> None:
        """`links` were just saved as deleted on `side` (their record there is gone)."""
        return None

    def after_page(self, engine: Engine, side: str, records: Sequence[Record]) -> None:
        return None

    def after_sides(self, engine: Engine) -> None:
        return None

    def after_retries(self, engine: Engine) -> None:
        return None


# canonical object type -> step factories, instantiated once per run. The table itself is written
# out in engine.steps (which imports the steps); it lives here so a test may swap a type's steps.
EXTENSIONS: dict[str, list[Callable[[], Extension]]] = {}
