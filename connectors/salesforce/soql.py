"""Building SOQL safely: literals are escaped here; names come only from describe() or constants."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

ID_CHUNK = 300  # ids per `IN (...)`: keeps the GET URL well under Salesforce's 16 KB
VALUE_CHUNK = 100


def string(value: str) -> str:
    """A SOQL string literal (backslash and quote escaped)."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def in_list(values: Sequence[str]) -> str:
    return "(" + ", ".join(string(v) for v in values) + ")"


def datetime_literal(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def select(fields: Sequence[str], sobject: str, where: str = "", order: str = "") -> str:
    """SELECT ... FROM ... [WHERE ...] [ORDER BY ...]; `where` must be built from literals above."""
    text = f"SELECT {', '.join(fields)} FROM {sobject}"  # noqa: S608 (SOQL; names from describe, values escaped)
    if where:
        text += f" WHERE {where}"
    if order:
        text += f" ORDER BY {order}"
    return text


def chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
