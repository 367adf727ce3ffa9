"""Values the other app cannot hold (FEATURES F2.4, F5.3): the run's side of the policies.

`convert.evaluate` decides, per value, between a value, a warning and a failure; this module
keeps the warnings on links and outcomes, adds missing options before a write (the "add the
missing option" policy), and re-evaluates links when a mapping's value map or policy changes:
links whose fields were not carried are read again and tried with the new mapping, and failing
links whose values did not fit are retried, without waiting for their records to change (the
step, Reevaluate, names those links; the runner reprocesses them and saves its fingerprints).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from django.db.models import QuerySet

from connectors.base import Option
from connectors.errors import ConnectorError, ErrorCategory
from syncrules.engine import store
from syncrules.engine.context import StepResult
from syncrules.engine.extensions import Extension
from syncrules.engine.merge import A, B, FieldPair, Plan
from syncrules.models import LinkStatus, ObjectSync, RecordLink, RecordOutcome

if TYPE_CHECKING:
    from syncrules.engine.context import Pending, RunContext, SideContext
    from syncrules.engine.store import LinkChange

# Failing links of these categories may sync once a mapping's value map or policy changes.
VALUE_CATEGORIES = frozenset(c.code for c in (
    ErrorCategory.INVALID_PROPERTY_VALUE, ErrorCategory.VALUE_TOO_LONG, ErrorCategory.TYPE_MISMATCH,
))
FINGERPRINTS = "mappings"  # key of ObjectSync.extra_cursors: mapping key -> fingerprint
WRITTEN = (RecordOutcome.Action.CREATED, RecordOutcome.Action.UPDATED)


def with_warnings(sync: ObjectSync, status: str) -> QuerySet[RecordLink]:
    """The sync's links of `status` that carry warnings, by primary key, read through the
    (sync, status, has_warnings) index on any database. `has_warnings=True` is written as the
    bare column, which SQLite does not look up in an index: it walked every link of the sync
    in key order instead (0.2 to 2 s a run at 1,000,000 links); `IN (true)` it looks up."""
    return RecordLink.objects.filter(object_sync=sync, status=status, has_warnings__in=[True]).order_by("pk")


def retry_keys(link: RecordLink) -> dict[str, str]:
    """Mapping key -> the side a field was not carried to, from the link's warnings."""
    return {w["mapping"]: w["side"] for w in link.warnings or [] if isinstance(w, dict) and w.get("mapping")}


def settle_warnings(change: LinkChange, plan: Plan, failed_sides: Iterable[str]) -> None:
    """The link keeps its warnings until a run carries those fields; this run's new warnings go
    on its outcomes (the write to that side, else the record's first outcome)."""
    failed = set(failed_sides)
    new = {side: list(items) for side, items in plan.warnings.items() if side not in failed and items}
    link = change.link
    kept = [w for w in link.warnings or []
            if not (isinstance(w, dict) and w.get("mapping") in plan.settled and w.get("side") not in failed)]
    link.set_warnings(kept + [w for items in new.values() for w in items])
    for outcome in change.outcomes:
        if outcome.action in WRITTEN and outcome.side in new:
            outcome.warnings = new.pop(outcome.side)
            outcome.message = f"{outcome.message} {describe(outcome.warnings)}".strip()
    leftover = [w for items in new.values() for w in items]
    if not leftover:
        return
    target = next((o for o in change.outcomes if o.action != RecordOutcome.Action.FAILED), None)
    if target is None:
        target = store.Outcome(RecordOutcome.Action.SKIPPED, "", None, "")
        change.outcomes.append(target)
    target.warnings = [*target.warnings, *leftover]
    target.message = f"{target.message} {describe(leftover)}".strip()


def describe(warnings: Sequence[dict]) -> str:
    """'Synced with warnings: industry (…), …' for an outcome's message."""
    fields = "; ".join(f"{w['field']} ({w['reason']})" for w in warnings)
    return f"Synced with warnings, not carried: {fields}"


# --- the "add the missing option" policy -----------------------------------------------------
class Writer(Protocol):
    """What adding options needs of the run's writes (engine.writes): the sides' specs, which it
    updates, and the mappings, which it replaces with ones holding the new specs."""

    kind: str
    sides: dict[str, SideContext]
    pairs: list[FieldPair]


def add_missing_options(engine: Writer, side: str, pendings: Sequence[Pending]) -> None:
    """Before writing `pendings` to `side`, add the options their values need to the app's
    fields (one call per field); a field whose options cannot be added is skipped with a warning."""
    wanted: dict[str, list[Option]] = {}
    for pending in pendings:
        for name, options in pending.plan.new_options[side].items():
            wanted.setdefault(name, []).extend(o for o in options if o not in wanted.get(name, []))
    connector = engine.sides[side].connector
    for name, options in wanted.items():
        try:
            spec = connector.add_options(engine.kind, name, options)
        except (ConnectorError, NotImplementedError) as exc:
            problem = exc if isinstance(exc, ConnectorError) else ConnectorError(
                ErrorCategory.PERMISSION_DENIED, "this app cannot add options")
            _skip_field(pendings, side, name, problem)
            continue
        engine.sides[side].specs[name] = spec
        engine.pairs = [_with_spec(pair, side, spec) for pair in engine.pairs]


def _with_spec(pair: FieldPair, side: str, spec) -> FieldPair:
    if side == A and pair.spec_a.name == spec.name:
        return replace(pair, spec_a=spec)
    if side == B and pair.spec_b.name == spec.name:
        return replace(pair, spec_b=spec)
    return pair


def _skip_field(pendings: Sequence[Pending], side: str, name: str, error: ConnectorError) -> None:
    for pending in pendings:
        plan = pending.plan
        if name not in plan.new_options[side]:
            continue
        value = plan.writes[side].pop(name, None)
        options = ", ".join(repr(o.value) for o in plan.new_options[side].pop(name))
        for key in [k for k in plan.written_keys[side] if k.split("|")[0 if side == A else 1] == name]:
            plan.written_keys[side].remove(key)
            old = (pending.change.link.last_values or {}).get(key)
            if old is None:
                plan.last.pop(key, None)
            else:
                plan.last[key] = list(old)
            plan.warnings[side].append({
                "field": name, "value": str(value)[:500], "side": side, "mapping": key,
                "reason": f"The option {options} could not be added: {error.message}",
                "category": error.category.code,
            })


# --- re-evaluation when a mapping changes ----------------------------------------------------
def fingerprints(pairs: Sequence[FieldPair]) -> dict[str, str]:
    """What decides how a mapping's values convert, per mapping key, as a short digest."""
    out = {}
    for pair in pairs:
        raw = json.dumps([pair.policy, pair.fallback, pair.value_map], sort_keys=True, default=str)
        out[pair.key] = hashlib.sha256(raw.encode()).hexdigest()[:16]
    return out


class Reevaluate(Extension):
    """Links affected by a changed value map or policy are tried again in this run."""

    def before_sides(self, run: RunContext) -> StepResult | None:
        self.current = fingerprints(run.pairs)
        stored = (run.sync.extra_cursors or {}).get(FINGERPRINTS)
        stored = stored if isinstance(stored, dict) else {}
        self.changed = {key for key, digest in self.current.items() if stored.get(key) != digest}
        return StepResult(due_categories=VALUE_CATEGORIES) if self.changed else None

    def after_sides(self, run: RunContext) -> StepResult | None:
        if not self.changed:
            return None
        rows = with_warnings(run.sync, LinkStatus.IN_SYNC).exclude(updated_at__gte=run.run.started_at)
        due = [link for link in rows.iterator() if link.id_a and link.id_b and set(retry_keys(link)) & self.changed]
        return StepResult(retry={A: due}) if due else None

    def after_retries(self, run: RunContext) -> StepResult | None:
        if self.changed or set((run.sync.extra_cursors or {}).get(FINGERPRINTS) or {}) != set(self.current):
            return StepResult(cursors={FINGERPRINTS: self.current})
        return None
