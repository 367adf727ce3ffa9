"""Limit filters (F2.6, F2.8): which records may enter a sync. Pure: no ORM.

Filters only gate a record's first inclusion; the engine does not evaluate them for linked
records.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from syncrules.engine import details
from syncrules.engine.convert import ConversionError, is_empty, to_decimal

# Pragmatic address check: something@domain.tld, no spaces; apps reject the rest.
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")


def normalize_email(value: Any) -> str:
    """Emails compare case- and whitespace-insensitively."""
    return "" if value is None else "".join(str(value).split()).casefold()


def is_valid_email(value: Any) -> bool:
    return bool(EMAIL_RE.match(normalize_email(value)))


@dataclass(frozen=True)
class Condition:
    """One filter row: field, operator (SyncFilter.Operator values) and value; `words` says it
    as a person reads it ("Country is equal to FR")."""

    field: str
    operator: str
    value: str = ""
    words: str = ""

    def __str__(self) -> str:
        return self.words or f"{self.field} {self.operator} {self.value}".strip()


@dataclass(frozen=True)
class Exclusion:
    """Why a record may not enter a sync: a details reason, its detail in words, the message."""

    reason: str
    detail: str
    message: str


def _as_number(value: Any) -> Decimal | None:
    try:
        return to_decimal(value)
    except ConversionError:
        return None


def _compare(left: Any, right: str, greater: bool) -> bool:
    a, b = _as_number(left), _as_number(right)
    if a is not None and b is not None:
        return a > b if greater else a < b
    return (str(left) > right) if greater else (str(left) < right)


def passes(condition: Condition, values: Mapping[str, Any]) -> bool:
    """Whether a record's values satisfy one condition (text compares case-insensitively)."""
    raw = values.get(condition.field)
    op = condition.operator
    if op == "known":
        return not is_empty(raw)
    if op == "unknown":
        return is_empty(raw)
    if is_empty(raw):
        return op in ("neq", "not_contains")
    text = str(raw).strip().casefold()
    wanted = condition.value.strip().casefold()
    if op == "eq":
        return text == wanted or (_as_number(raw) is not None and _as_number(raw) == _as_number(wanted))
    if op == "neq":
        return not passes(Condition(condition.field, "eq", condition.value), values)
    if op == "contains":
        return wanted in text
    if op == "not_contains":
        return wanted not in text
    if op == "in":
        return text in {part.strip().casefold() for part in condition.value.split(",")}
    if op in ("gt", "lt"):
        return _compare(raw, condition.value.strip(), op == "gt")
    raise ValueError(f"unknown filter operator {op!r}")


def exclusion_reason(
    values: Mapping[str, Any], conditions: Iterable[Condition], *, email_field: str | None = None
) -> str:
    """Why a record may not enter the sync ('' when it may): all conditions must hold."""
    found = exclusion(values, conditions, email_field=email_field)
    return found.message if found else ""


def exclusion(
    values: Mapping[str, Any], conditions: Iterable[Condition], *, email_field: str | None = None
) -> Exclusion | None:
    """Why a record may not enter the sync (None when it may): all conditions must hold."""
    if email_field is not None and not is_valid_email(values.get(email_field)):
        raw = values.get(email_field)
        if is_empty(raw):
            return Exclusion(details.NO_EMAIL, "No email address",
                             "No email address (the sync only includes contacts with an email address).")
        return Exclusion(details.NO_EMAIL, f"Invalid email address {str(raw)!r}", f"Invalid email address "
                         f"{str(raw)!r} (the sync only includes contacts with a valid email address).")
    for condition in conditions:
        if not passes(condition, values):
            return Exclusion(details.FILTER, str(condition), f"Outside the sync's filter: {condition}.")
    return None
