"""Value normalisation and conversion between field types (FEATURES F2.4). Pure: no ORM.

Two jobs, kept apart:
- `normalize` turns a value read from an app into a canonical, JSON-safe form, so that a value
  the sync wrote reads back equal (Decimal "10.50" vs 10.5, datetime formats and zones, email
  case). Record links store last synced values in this form.
- `convert` turns a value of one field into a value for another field (maybe of another type),
  or raises ConversionError with the error category the record's outcome should carry.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.base import FieldSpec, FieldType, Option
from connectors.errors import ErrorCategory

T = FieldType

# Which source type may flow into which target type (F2.4; peers.md 1.4). A mapping is two-way
# only when both directions are allowed; reference fields are handled by associations (issue 6).
ALLOWED_FLOWS: dict[FieldType, frozenset[FieldType]] = {
    T.TEXT: frozenset({T.TEXT}),
    T.NUMBER: frozenset({T.NUMBER, T.TEXT}),
    T.BOOL: frozenset({T.BOOL, T.TEXT}),
    T.DATE: frozenset({T.DATE, T.DATETIME, T.TEXT}),
    T.DATETIME: frozenset({T.DATETIME, T.DATE, T.TEXT}),
    T.ENUMERATION: frozenset({T.ENUMERATION, T.TEXT}),
    T.REFERENCE: frozenset(),
}

TRUE_WORDS = {"true", "yes", "1", "y", "on"}
FALSE_WORDS = {"false", "no", "0", "n", "off"}


class ConversionError(ValueError):
    """A value that cannot be written to the target field; `category` says why."""

    def __init__(self, category: ErrorCategory, message: str, field: str = "") -> None:
        super().__init__(message)
        self.category = category
        self.message = message
        self.field = field


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def can_flow(source: FieldSpec, target: FieldSpec) -> bool:
    """Whether values of `source` may be written into `target`."""
    return not target.read_only and target.type in ALLOWED_FLOWS.get(source.type, frozenset())


def mapping_directions(spec_a: FieldSpec, spec_b: FieldSpec) -> set[str]:
    """The directions a mapping between these fields may take: subset of two_way, to_a, to_b."""
    to_b = can_flow(spec_a, spec_b)
    to_a = can_flow(spec_b, spec_a)
    directions = set()
    if to_b:
        directions.add("to_b")
    if to_a:
        directions.add("to_a")
    if to_a and to_b:
        directions.add("two_way")
    return directions


def explain_incompatibility(spec_a: FieldSpec, spec_b: FieldSpec) -> str:
    """A sentence for the wizard when a pair cannot be mapped in any direction ('' if it can)."""
    if mapping_directions(spec_a, spec_b):
        return ""
    if spec_a.read_only and spec_b.read_only:
        return f"{spec_a.label or spec_a.name} and {spec_b.label or spec_b.name} are both read-only."
    return (
        f"A {spec_a.type.value} field ({spec_a.label or spec_a.name}) cannot be mapped to a "
        f"{spec_b.type.value} field ({spec_b.label or spec_b.name}): map it to a compatible field, "
        f"e.g. a text field."
    )


def mapping_problem(spec_a: FieldSpec, spec_b: FieldSpec, direction: str) -> str:
    """Why a mapping between these fields cannot sync in `direction` ('' when it can).

    What the wizard calls when a person picks two fields and a direction (F2.4).
    """
    allowed = mapping_directions(spec_a, spec_b)
    if direction in allowed:
        return ""
    if not allowed:
        return explain_incompatibility(spec_a, spec_b)
    possible = " or ".join(sorted({"to_a": "only to side A", "to_b": "only to side B"}[d] for d in allowed - {"two_way"}))
    return (
        f"{spec_a.label or spec_a.name} ({spec_a.type.value}) and {spec_b.label or spec_b.name} "
        f"({spec_b.type.value}) can only sync {possible}."
    )


# --- parsing -------------------------------------------------------------------------------
def _mismatch(value: Any, kind: str) -> ConversionError:
    return ConversionError(ErrorCategory.TYPE_MISMATCH, f"{value!r} is not a valid {kind}.")


def to_decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise _mismatch(value, "number")
    try:
        number = Decimal(str(value).strip().replace(",", "")) if isinstance(value, str) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise _mismatch(value, "number")
    if not number.is_finite():
        raise _mismatch(value, "number")
    return number


def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise _mismatch(value, "yes/no value")


def to_datetime(value: Any) -> datetime:
    """A timezone-aware UTC datetime; naive values are taken as UTC, dates as midnight UTC."""
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, date):
        result = datetime.combine(value, time(0), tzinfo=UTC)
    elif isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        try:
            result = datetime.fromtimestamp(float(value) / 1000 if value > 10**11 else float(value), tz=UTC)
        except (ValueError, OverflowError, OSError, ArithmeticError):  # out of range, NaN
            raise _mismatch(value, "date and time")
    else:
        try:
            result = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise _mismatch(value, "date and time")
    if result.tzinfo is None:
        result = result.replace(tzinfo=UTC)
    return result.astimezone(UTC)


def to_date(value: Any) -> date:
    if isinstance(value, datetime):
        return to_datetime(value).date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        return to_datetime(value).date()


def decimal_text(number: Decimal) -> str:
    """'10.50' -> '10.5', '1E+1' -> '10': one spelling per number."""
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "") else text


def enum_values(value: Any, multi: bool) -> list[str]:
    if isinstance(value, list | tuple | set):
        parts = [str(v) for v in value]
    else:
        parts = str(value).split(";") if multi else [str(value)]
    return [p.strip() for p in parts if p.strip()]


# --- normalisation -------------------------------------------------------------------------
def normalize(value: Any, spec: FieldSpec, *, casefold: bool = False) -> Any:
    """The canonical, JSON-safe form of a value of `spec` (None for empty).

    Values that do not parse as their declared type are kept as text so a comparison still works.
    """
    if is_empty(value):
        return None
    try:
        return _normalize(value, spec, casefold)
    except (ConversionError, ValueError, TypeError, ArithmeticError, OverflowError):
        return str(value).strip()


def normalizer(spec: FieldSpec, *, casefold: bool = False) -> Callable[[Any], Any]:
    """`normalize` for one field, its type looked up once (the merge calls it per field per record)."""
    if spec.type is not T.TEXT:
        return functools.partial(normalize, spec=spec, casefold=casefold)

    def text(value: Any) -> Any:
        if isinstance(value, str):  # what normalize does with text, without its type dispatch
            value = value.strip()
            return (value.casefold() if casefold else value) if value else None
        return normalize(value, spec, casefold=casefold)

    return text


def _normalize(value: Any, spec: FieldSpec, casefold: bool) -> Any:
    kind = spec.type
    if kind == T.NUMBER:
        return decimal_text(to_decimal(value))
    if kind == T.BOOL:
        return to_bool(value)
    if kind == T.DATE:
        return to_date(value).isoformat()
    if kind == T.DATETIME:
        # Seconds precision: apps differ in sub-second storage, people do not edit below it.
        return to_datetime(value).replace(microsecond=0).isoformat()
    if kind == T.ENUMERATION:
        parts = enum_values(value, spec.multi)
        return ";".join(sorted(parts)) if spec.multi else (parts[0] if parts else None)
    text = str(value).strip()
    return text.casefold() if casefold else text


# --- conversion ----------------------------------------------------------------------------
def convert(
    value: Any, source: FieldSpec, target: FieldSpec, value_map: dict[str, str] | None = None
) -> Any:
    """`value` of field `source` as a value for field `target`; ConversionError if impossible."""
    if is_empty(value):
        return None
    result = _converted(value, source, target, value_map or {})
    check_length(result, target)
    return result


def _converted(value: Any, source: FieldSpec, target: FieldSpec, value_map: dict[str, str]) -> Any:
    try:
        return _convert(value, source, target, value_map)
    except ConversionError as exc:
        exc.field = target.name
        raise
    except (ValueError, TypeError, ArithmeticError, OverflowError) as exc:  # a value no parser expected
        raise ConversionError(ErrorCategory.TYPE_MISMATCH, f"{value!r} cannot be converted: {exc}", target.name)


def check_length(result: Any, target: FieldSpec) -> None:
    if isinstance(result, str) and target.max_length and len(result) > target.max_length:
        raise ConversionError(
            ErrorCategory.VALUE_TOO_LONG,
            f"{target.label or target.name} allows {target.max_length} characters; the value has {len(result)}.",
            target.name,
        )


def _convert(value: Any, source: FieldSpec, target: FieldSpec, value_map: dict[str, str]) -> Any:
    kind = target.type
    if source.type == T.ENUMERATION and kind == T.ENUMERATION:
        return _convert_options(value, source, target, value_map)
    if kind == T.TEXT:
        return _as_text(value, source)
    if kind == T.NUMBER:
        number = to_decimal(value)
        return int(number) if number == number.to_integral_value() else number
    if kind == T.BOOL:
        return to_bool(value)
    if kind == T.DATE:
        return to_date(value)
    if kind == T.DATETIME:
        return to_datetime(value)
    if kind == T.ENUMERATION:
        return _convert_options(value, source, target, value_map)
    raise ConversionError(
        ErrorCategory.TYPE_MISMATCH, f"{source.type.value} values cannot be written to a {kind.value} field."
    )


def _as_text(value: Any, source: FieldSpec) -> str:
    if source.type == T.NUMBER:
        return decimal_text(to_decimal(value))
    if source.type == T.BOOL:
        return "true" if to_bool(value) else "false"
    if source.type == T.DATE:
        return to_date(value).isoformat()
    if source.type == T.DATETIME:
        return to_datetime(value).replace(microsecond=0).isoformat()
    if source.type == T.ENUMERATION:
        return ";".join(enum_values(value, source.multi))
    return str(value)


def map_options(
    value: Any, source: FieldSpec, target: FieldSpec, value_map: dict[str, str]
) -> tuple[list[str], list[str]]:
    """Each option of `value` through `value_map` (or by same value, then same label): the
    mapped options, and the source options that have no counterpart in `target`."""
    by_label = {o.label.casefold(): o.value for o in target.options}
    allowed = {o.value for o in target.options}
    source_labels = {o.value: o.label for o in source.options}
    mapped, missing = [], []
    for part in enum_values(value, source.multi or target.multi):
        choice = value_map.get(part, part)
        if allowed and choice not in allowed:
            choice = by_label.get(str(source_labels.get(part, choice)).casefold(), choice)
        if allowed and choice not in allowed:
            missing.append(part)
        else:
            mapped.append(choice)
    return mapped, missing


def no_option(part: str, target: FieldSpec) -> ConversionError:
    return ConversionError(
        ErrorCategory.INVALID_PROPERTY_VALUE,
        f"{part!r} has no matching option in {target.label or target.name}: add the option "
        f"or map it in the field mapping's value map.",
        target.name,
    )


def join_options(out: list[str], target: FieldSpec) -> Any:
    if target.multi:
        return ";".join(dict.fromkeys(out))
    if len(out) > 1:
        raise ConversionError(
            ErrorCategory.TYPE_MISMATCH, f"{target.label or target.name} takes one option; the value has {len(out)}."
        )
    return out[0] if out else None


def _convert_options(value: Any, source: FieldSpec, target: FieldSpec, value_map: dict[str, str]) -> Any:
    mapped, missing = map_options(value, source, target, value_map)
    if missing:
        raise no_option(missing[0], target)
    return join_options(mapped, target)


# --- policies: a value the target cannot hold --------------------------------------------
SKIP_FIELD, FAIL_RECORD, FALLBACK_OPTION, ADD_OPTION, TRUNCATE = (
    "skip_field", "fail_record", "fallback_option", "add_option", "truncate"
)
POLICIES = (SKIP_FIELD, FAIL_RECORD, FALLBACK_OPTION, ADD_OPTION, TRUNCATE)


@dataclass(frozen=True)
class Evaluation:
    """What one value becomes on the target: a value to write, a warning (the field is left as
    it is there, the rest of the record syncs) or a failure (the record fails there).

    `new_options` are options the target must gain before `value` is written (add_option).
    """

    value: Any = None
    warning: ConversionError | None = None
    failure: ConversionError | None = None
    new_options: tuple[Option, ...] = ()

    @property
    def outcome(self) -> str:
        return "failure" if self.failure else "warning" if self.warning else "value"


def policies_for(source: FieldSpec, target: FieldSpec, *, can_add_options: bool = False) -> list[str]:
    """The policies a mapping writing `source` into `target` may offer (skip and fail always)."""
    offered = [SKIP_FIELD, FAIL_RECORD]
    if target.type == T.ENUMERATION and source.type in (T.ENUMERATION, T.TEXT):
        offered.append(FALLBACK_OPTION)
        if can_add_options:
            offered.append(ADD_OPTION)
    if target.type == T.TEXT:
        offered.append(TRUNCATE)
    return offered


def evaluate(
    value: Any,
    source: FieldSpec,
    target: FieldSpec,
    value_map: dict[str, str] | None = None,
    *,
    policy: str = SKIP_FIELD,
    fallback: str = "",
    can_add_options: bool = False,
) -> Evaluation:
    """The one evaluation of a value for a target field under a mapping's policy. Pure; never
    raises: whatever the value, the result is a value, a warning or a failure."""
    value_map = value_map or {}
    if is_empty(value):
        return Evaluation(None)
    try:
        result = _converted(value, source, target, value_map)
        check_length(result, target)
        return Evaluation(result)
    except ConversionError as exc:
        problem = exc
    except Exception as exc:  # noqa: BLE001 - any value of any type: a failure, never a crash
        problem = ConversionError(ErrorCategory.TYPE_MISMATCH, f"{value!r} cannot be converted: {exc}", target.name)
    problem.field = problem.field or target.name
    if policy == FAIL_RECORD:
        return Evaluation(failure=problem)
    rescued = _rescue(value, source, target, value_map, policy, fallback, can_add_options, problem)
    return rescued or Evaluation(warning=problem)


def _rescue(value, source, target, value_map, policy, fallback, can_add, problem) -> Evaluation | None:
    """The value the policy makes of a value that does not fit, or None (skip with a warning)."""
    try:
        if policy == TRUNCATE and problem.category is ErrorCategory.VALUE_TOO_LONG and target.type == T.TEXT:
            return Evaluation(truncate(_converted(value, source, target, value_map), target.max_length))
        if problem.category is not ErrorCategory.INVALID_PROPERTY_VALUE or target.type != T.ENUMERATION:
            return None
        mapped, missing = map_options(value, source, target, value_map)
        if policy == FALLBACK_OPTION:
            if fallback not in {o.value for o in target.options}:
                problem.message += f" The fallback option {fallback!r} is not an option of {target.label or target.name}."
                return None
            return Evaluation(join_options(mapped + [fallback], target))
        if policy == ADD_OPTION and can_add:
            labels = {o.value: o.label for o in source.options}
            added = tuple(Option(value_map.get(p, p), labels.get(p, p)) for p in missing)
            return Evaluation(join_options(mapped + [o.value for o in added], target), new_options=added)
    except ConversionError as exc:
        problem.message = exc.message
    return None


def truncate(text: str, length: int | None) -> str:
    """`text` cut to `length` characters, never inside a character: a base letter is not left
    without the combining marks that follow it, nor a surrogate half kept."""
    if not length or len(text) <= length:
        return text
    cut = text[:length]
    while cut and (unicodedata.combining(text[len(cut)]) or "\ud800" <= cut[-1] <= "\udbff"):
        cut = cut[:-1]
    return cut
