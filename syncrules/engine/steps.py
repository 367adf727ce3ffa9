"""The steps of a run beyond field values, per object type, in the order they run.

Each step (an engine.extensions.Extension) receives the run as a RunContext (engine.context) and
returns what it finds as StepResults, which the runner saves (engine.runner.Engine.apply); none
imports the runner or writes to the store.
"""

from __future__ import annotations

from collections.abc import Callable

from connectors.base import COMPANIES, CONTACTS, DEALS
from syncrules.engine.associations import Associations
from syncrules.engine.deletions import Deletions
from syncrules.engine.extensions import EXTENSIONS, Extension
from syncrules.engine.values import Reevaluate

STEPS: dict[str, list[Callable[[], Extension]]] = EXTENSIONS
STEPS.update({
    CONTACTS: [Associations, Deletions, Reevaluate],
    COMPANIES: [Deletions, Reevaluate],
    DEALS: [Associations, Deletions, Reevaluate],
})


def steps_for(kind: str) -> list[Callable[[], Extension]]:
    return list(STEPS.get(kind, ()))
