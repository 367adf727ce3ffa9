"""Where per-object-type steps plug into a run (associations, deletions: issue 6).

An extension sees each page once its records are synced and saved, before the page's cursor
moves (so whatever it records is durable first), and the run once both sides are read:

    class Associations(Extension):
        def after_page(self, engine, side, records): ...  # Record.associations -> write_associations
        def after_sides(self, engine): ...  # e.g. read_deleted -> links deleted_a / deleted_b

    EXTENSIONS["contacts"].append(Associations)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from connectors.base import Record

if TYPE_CHECKING:
    from syncrules.engine.runner import Engine


class Extension:
    """A step of a run beyond field values; the defaults do nothing."""

    def after_page(self, engine: Engine, side: str, records: Sequence[Record]) -> None:
        return None

    def after_sides(self, engine: Engine) -> None:
        return None


# canonical object type -> extension factories, instantiated once per run
EXTENSIONS: defaultdict[str, list[Callable[[], Extension]]] = defaultdict(list)
