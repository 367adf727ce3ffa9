"""Deltas, conflicts and merges: what to write where for one record. Pure: no ORM.

A record link remembers, per mapping, the last synced value of each side in normalised form
(`convert.normalize`). A side's delta is the mappings whose current value differs from that.
Values the sync wrote itself therefore read back as no delta: no ping-pong.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from connectors.base import FieldSpec
from connectors.errors import ErrorCategory
from syncrules.engine import details
from syncrules.engine.convert import (
    FAIL_RECORD,
    ConversionError,
    Evaluation,
    convert,
    evaluate,
    is_empty,
    normalize,
    normalizer,
)
from syncrules.models import Side

A, B = Side.A, Side.B
CONFLICT_WINDOW = timedelta(minutes=5)


_OTHER = {A: B, B: A}


def other(side: str) -> Side:
    return _OTHER.get(side) or Side(side).other


@dataclass(frozen=True)
class FieldPair:
    """One enabled field mapping with both fields' specs and where values may flow."""

    key: str
    spec_a: FieldSpec
    spec_b: FieldSpec
    to_a: bool = True
    to_b: bool = True
    value_map: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    casefold: bool = False
    # A value the target cannot hold: the mapping's policy (convert.POLICIES), its fallback
    # option, and the sides whose app can add a missing option to the field.
    policy: str = FAIL_RECORD
    fallback: str = ""
    add_options_on: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        # Worked out once per run, not once per value: the merge asks for these per field per
        # record. (Not dataclass fields: equality, hashing and replace() ignore them.)
        maps = {target: dict(self.value_map.get(f"{other(target)}_to_{target}") or {}) for target in (A, B)}
        object.__setattr__(self, "_maps", maps)
        object.__setattr__(self, "_normalize_a", normalizer(self.spec_a, casefold=self.casefold))
        object.__setattr__(self, "_normalize_b", normalizer(self.spec_b, casefold=self.casefold))

    def spec(self, side: str) -> FieldSpec:
        return self.spec_a if side == A else self.spec_b

    def flows_to(self, side: str) -> bool:
        return self.to_a if side == A else self.to_b

    def current(self, side: str, values: Mapping[str, Any]) -> Any:
        if side == A:
            return self._normalize_a(values.get(self.spec_a.name))
        return self._normalize_b(values.get(self.spec_b.name))

    def convert_to(self, target: str, value: Any) -> Any:
        """A value of the other side's field, converted for `target`'s field."""
        source = other(target)
        mapping = self.value_map.get(f"{source}_to_{target}") or {}
        return convert(value, self.spec(source), self.spec(target), mapping)

    def evaluate_to(self, target: str, value: Any) -> Evaluation:
        """The other side's value for `target`'s field under this mapping's policy."""
        source, spec = (self.spec_b, self.spec_a) if target == A else (self.spec_a, self.spec_b)
        return evaluate(
            value, source, spec, self._maps[target],
            policy=self.policy, fallback=self.fallback, can_add_options=target in self.add_options_on,
        )


def warning_item(pair: FieldPair, target: str, raw: Any, problem: ConversionError) -> dict:
    """How a field not carried is remembered on outcomes and links."""
    return {
        "field": pair.spec(target).name, "value": str(raw)[:500], "reason": problem.message,
        "category": problem.category.code, "side": target, "mapping": pair.key,
    }


@dataclass
class Plan:
    """What one record needs: the writes per side, and the link's last values once written.

    `errors` holds, per side, the conversion error that blocks the write to that side: the
    record then fails there and keeps its old last values for the fields it could not write.
    `changes` says, per field written, from what to what and why (engine.details' shape).
    """

    writes: dict[str, dict[str, Any]] = field(default_factory=lambda: {A: {}, B: {}})
    last: dict[str, list] = field(default_factory=dict)
    errors: dict[str, ConversionError] = field(default_factory=dict)
    written_keys: dict[str, list[str]] = field(default_factory=lambda: {A: [], B: []})
    # Fields skipped by their policy (warning items, per side not written), options to add to
    # a side's field before its write, and the mappings whose values this plan settled.
    warnings: dict[str, list[dict]] = field(default_factory=lambda: {A: [], B: []})
    new_options: dict[str, dict[str, list]] = field(default_factory=lambda: {A: {}, B: {}})
    settled: set[str] = field(default_factory=set)
    changes: list[dict[str, Any]] = field(default_factory=list)

    def changes_to(self, side: str) -> list[dict[str, Any]]:
        return [c for c in self.changes if c["to"] == side]

    def last_after(self, failed_sides: Sequence[str], old: Mapping[str, list]) -> dict[str, list]:
        """The last values to store when the writes to `failed_sides` did not happen."""
        result = dict(self.last)
        for side in failed_sides:
            for key in self.written_keys[side]:
                if key in old:
                    result[key] = list(old[key])
                else:
                    result.pop(key, None)
        return result


def pick_winner(modified_a: datetime | None, modified_b: datetime | None, conflict_winner: str) -> str:
    """Edits within 5 minutes of each other: the conflict winner; otherwise the latest edit."""
    return decide(modified_a, modified_b, conflict_winner)[0]


def decide(modified_a: datetime | None, modified_b: datetime | None, conflict_winner: str) -> tuple[str, str]:
    """The winning side of a conflict, and why (details.CONFLICT_WINNER or details.MOST_RECENT)."""
    if modified_a is None or modified_b is None or abs(modified_a - modified_b) <= CONFLICT_WINDOW:
        return conflict_winner, details.CONFLICT_WINNER
    return (A if modified_a > modified_b else B), details.MOST_RECENT


def agree(pair: FieldPair, values_a: Mapping[str, Any], values_b: Mapping[str, Any]) -> bool:
    """Whether both sides hold the same value once converted into either side's type."""
    raw_a, raw_b = values_a.get(pair.spec_a.name), values_b.get(pair.spec_b.name)
    if is_empty(raw_a) or is_empty(raw_b):
        return is_empty(raw_a) and is_empty(raw_b)
    for target, raw_source, raw_target in ((B, raw_a, raw_b), (A, raw_b, raw_a)):
        spec = pair.spec(target)
        try:
            converted = normalize(pair.convert_to(target, raw_source), spec, casefold=pair.casefold)
        except ConversionError:
            continue
        return converted == normalize(raw_target, spec, casefold=pair.casefold)
    return False


def plan_link(
    pairs: Sequence[FieldPair],
    last: Mapping[str, list],
    values_a: Mapping[str, Any],
    values_b: Mapping[str, Any],
    *,
    modified_a: datetime | None = None,
    modified_b: datetime | None = None,
    conflict_winner: str = A,
    retry: Mapping[str, str] | None = None,
) -> Plan:
    """The writes that bring a linked pair of records in line.

    A mapping with no last value (a fresh match, or a mapping added later) counts as edited on
    both sides, so matching merges by the conflict rules and fills blanks both ways. `retry`
    (mapping key -> side) names fields an earlier run could not carry to that side: unless
    either side changed since, they are tried again.
    """
    plan = Plan()
    values = {A: values_a, B: values_b}
    for pair in pairs:
        cur = {A: pair.current(A, values_a), B: pair.current(B, values_b)}
        old = last.get(pair.key)
        changed = {side: old is None or cur[side] != old[0 if side == A else 1] for side in (A, B)}
        plan.last[pair.key] = [cur[A], cur[B]]
        if not changed[A] and not changed[B]:
            if pair.key not in (retry or {}):
                continue
            source, reason = other(retry[pair.key]), details.RETRIED
        elif changed[A] and changed[B]:
            if agree(pair, values_a, values_b):
                plan.settled.add(pair.key)
                continue
            source, reason = decide(modified_a, modified_b, conflict_winner)
            if cur[source] is None and cur[other(source)] is not None:
                # an empty winning value never overwrites a filled one
                source, reason = other(source), details.EMPTY_KEPT
        else:
            source, reason = (A if changed[A] else B), details.ONE_SIDED
        _copy(plan, pair, source, values[source].get(pair.spec(source).name), cur, old, reason)
    _block_failed_sides(plan, last)
    return plan


def _copy(plan: Plan, pair: FieldPair, source: str, raw: Any, cur: dict, old: list | None, reason: str) -> None:
    target = other(source)
    if not pair.flows_to(target):
        return
    result = pair.evaluate_to(target, raw)
    if result.failure is not None:
        plan.errors.setdefault(target, result.failure)
        if old is None:
            plan.last.pop(pair.key, None)
        else:
            plan.last[pair.key] = list(old)
        return
    plan.settled.add(pair.key)
    if result.warning is not None:  # the target keeps its value; both sides' values are remembered
        plan.warnings[target].append(warning_item(pair, target, raw, result.warning))
        return
    value = result.value
    written = normalize(value, pair.spec(target), casefold=pair.casefold)
    plan.last[pair.key] = [cur[A], written] if target == B else [written, cur[B]]
    if written != cur[target]:
        plan.writes[target][pair.spec(target).name] = value
        plan.written_keys[target].append(pair.key)
        plan.changes.append(_change(pair, target, cur[target], written, reason))
        _want_options(plan, pair, target, result)


def _change(pair: FieldPair, target: str, old: Any, new: Any, reason: str) -> dict[str, Any]:
    spec = pair.spec(target)
    return details.change(pair.spec_a.name, pair.spec_b.name, spec.label or spec.name, old, new, target, reason)


def _want_options(plan: Plan, pair: FieldPair, target: str, result: Evaluation) -> None:
    if result.new_options:
        wanted = plan.new_options[target].setdefault(pair.spec(target).name, [])
        wanted += [o for o in result.new_options if o not in wanted]


def _block_failed_sides(plan: Plan, old: Mapping[str, list]) -> None:
    for side in list(plan.errors):
        plan.last = plan.last_after([side], old)
        plan.writes[side] = {}
        plan.written_keys[side] = []
        plan.changes = [c for c in plan.changes if c["to"] != side]
        plan.warnings[side] = []
        plan.new_options[side] = {}


def plan_create(pairs: Sequence[FieldPair], values: Mapping[str, Any], source: str) -> Plan:
    """The values to create a record with on the other side, and the new link's last values.

    A field skipped by its policy is left empty on the new record, unless the app requires it:
    then the record fails with the field's own problem.
    """
    plan = Plan()
    target = other(source)
    for pair in pairs:
        cur = pair.current(source, values)
        if not pair.flows_to(target):
            plan.last[pair.key] = [cur, None] if source == A else [None, cur]
            continue
        spec = pair.spec(target)
        raw = values.get(pair.spec(source).name)
        result = pair.evaluate_to(target, raw)
        failure = result.failure
        if failure is None and result.warning is not None and spec.required:
            failure = result.warning
        elif failure is None and is_empty(result.value) and result.warning is None and spec.required:
            failure = ConversionError(
                ErrorCategory.MISSING_REQUIRED_FIELD,
                f"{spec.label or spec.name} is required in the other app and the record has no value for it.",
                spec.name,
            )
        if failure is not None:
            plan.errors.setdefault(target, failure)
            continue
        plan.settled.add(pair.key)
        if result.warning is not None:
            plan.warnings[target].append(warning_item(pair, target, raw, result.warning))
            plan.last[pair.key] = [cur, None] if source == A else [None, cur]
            continue
        written = normalize(result.value, spec, casefold=pair.casefold)
        plan.last[pair.key] = [cur, written] if source == A else [written, cur]
        if not is_empty(result.value):
            plan.writes[target][spec.name] = result.value
            plan.written_keys[target].append(pair.key)
            plan.changes.append(_change(pair, target, None, written, details.CREATED))
            _want_options(plan, pair, target, result)
    if plan.errors:
        plan.writes[target] = {}
        plan.changes = []
    return plan
