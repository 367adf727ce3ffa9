"""HubSpot values (always strings) to plain Python values and back, by field type."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.base import FieldSpec, FieldType, number_text

_INT = re.compile(r"^-?\d+$")


def parse_datetime(value: str) -> datetime | None:
    """ISO-8601 (with Z) or epoch milliseconds, as an aware UTC datetime."""
    text = str(value).strip()
    if not text:
        return None
    if _INT.match(text):
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def from_hubspot(spec: FieldSpec | None, value: Any) -> Any:
    """A HubSpot property value as a plain Python value; unparseable values stay strings."""
    if value is None or value == "":
        return None
    if spec is None:
        return value
    text = str(value)
    try:
        if spec.type is FieldType.NUMBER:
            return int(text) if _INT.match(text) else Decimal(text)
        if spec.type is FieldType.BOOL:
            return text.lower() == "true"
        if spec.type is FieldType.DATETIME:
            return parse_datetime(text)
        if spec.type is FieldType.DATE:
            return date.fromisoformat(text[:10]) if not _INT.match(text) else parse_datetime(text).date()
    except (ValueError, InvalidOperation):
        return text
    return text


def to_hubspot(spec: FieldSpec | None, value: Any) -> str:
    """A plain Python value as HubSpot's string; ValueError when it does not fit the field."""
    if value is None:
        return ""
    kind = spec.type if spec else None
    if kind is FieldType.NUMBER:
        if isinstance(value, bool):
            raise ValueError(f"{value!r} is not a number")
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
        if not number.is_finite():
            raise ValueError(f"{value!r} is not a finite number")
        return number_text(number)
    if kind is FieldType.BOOL:
        if isinstance(value, bool):
            return "true" if value else "false"
        text = str(value).strip().lower()
        if text in ("true", "1", "yes"):
            return "true"
        if text in ("false", "0", "no"):
            return "false"
        raise ValueError(f"{value!r} is not a yes/no value")
    if kind is FieldType.DATETIME:
        moment = value if isinstance(value, datetime) else _parse_or_fail(value)
        if isinstance(moment, date) and not isinstance(moment, datetime):
            moment = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    if kind is FieldType.DATE:
        return midnight_utc(value)
    if kind is FieldType.ENUMERATION and isinstance(value, list | tuple | set):
        return ";".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal | float | int):
        return number_text(value)
    return str(value)


def midnight_utc(value: Any) -> str:
    """A date property's value: epoch milliseconds of the day's midnight UTC (HubSpot refuses
    any other time of day for date properties)."""
    if isinstance(value, datetime):
        day = value.astimezone(UTC).date() if value.tzinfo else value.date()
    elif isinstance(value, date):
        day = value
    else:
        day = _parse_or_fail(value).date()
    return str(int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1000)


def _parse_or_fail(value: Any) -> datetime:
    try:
        parsed = parse_datetime(str(value))
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValueError(f"{value!r} is not a date")
    return parsed
