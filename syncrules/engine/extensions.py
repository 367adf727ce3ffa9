"""Where per-object-type steps plug into a run: associations and deletions.

An extension sees each page once its records are synced and saved, before the page's cursor
moves (so whatever it records is durable first), every link the run finds deleted on a side,
and the run before and after both sides are read and after the retries:

    class Associations(Extension):
        def after_page(self, engine, side, records): ...  # Record.associations -> write_associations
        def after_sides(self, engine): ...  # association changes the record reads missed

    EXTENSIONS["contacts"].append(Associations)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from connectors.base import Record

if TYPE_CHECKING:
    from syncrules.engine.runner import Engine
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


# canonical object type -> extension factories, instantiated once per run
EXTENSIONS: defaultdict[str, list[Callable[[], Extension]]] = defaultdict(list)
