"""Evaluating a parsed SOQL plan over rows in Python, and the pre-filters it allows in the database.

Rows are dicts of field values (system datetimes as datetime objects), with relationships nested
under their relationship name. Text compares case-insensitively, ids case-sensitively.
"""

from __future__ import annotations

import functools
import operator
import re
from datetime import UTC, date, datetime, time
from typing import Any

from django.db.models import Q

from sandbox.salesforce.soql import Cond, Literal, SoqlError


def _typed(value: Any, ftype: str) -> Any:
    if value is None:
        return None
    if ftype == "datetime":
        return value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if ftype == "date":
        return value if isinstance(value, date) else date.fromisoformat(value)
    if isinstance(value, str) and ftype not in ("id", "reference"):
        return value.lower()  # Salesforce compares text case-insensitively; ids are case-sensitive
    return value


def _literal(lit: Literal, ftype: str) -> Any:
    value = lit.value
    if lit.kind == "string":
        if ftype == "datetime":
            raise SoqlError(
                "INVALID_FIELD",
                "value of filter criterion must be of type dateTime and should not be enclosed in quotes",
            )
        if ftype == "date":
            raise SoqlError(
                "INVALID_FIELD",
                "value of filter criterion must be of type date and should not be enclosed in quotes",
            )
        if ftype in ("id", "reference"):
            return _full_id(value)  # a 15-character id names the same record as its 18-character form
        return value.lower()
    if lit.kind == "datetime" and ftype == "date":
        return value.date()
    if lit.kind == "date" and ftype == "datetime":
        return datetime.combine(value, time(), UTC)
    return value


def get_path(row: dict, path: tuple[str, ...]) -> Any:
    """A value from a row whose relationships are nested dicts keyed by relationship name."""
    current: Any = row
    for name in path:
        if current is None:
            return None
        found = current.get(name, _MISSING)
        current = current.get(_ci_key(current, name)) if found is _MISSING else found
    return current


_MISSING = object()


def _ci_key(row: dict, name: str) -> str:
    lower = name.lower()
    return next((k for k in row if k.lower() == lower), name)


def matches(cond: Cond | None, row: dict, types: dict) -> bool:
    if cond is None:
        return True
    if cond.op == "and":
        return all(matches(c, row, types) for c in cond.children)
    if cond.op == "or":
        return any(matches(c, row, types) for c in cond.children)
    if cond.op == "not":
        return not matches(cond.children[0], row, types)
    ftype = types[cond.path]
    value = _typed(get_path(row, cond.path), ftype)
    if cond.op in ("in", "not in"):
        found = value in _literal_set(cond, ftype)
        return found if cond.op == "in" else not found
    lit = cond.values[0]
    if cond.op == "like":
        pattern = re.escape(str(lit.value).lower()).replace("%", ".*").replace("_", ".")
        return value is not None and re.fullmatch(pattern, str(value), re.S) is not None
    if lit.kind == "range":
        return _in_range(cond.op, value, lit.value, ftype)
    return _compare(cond.op, value, _literal(lit, ftype))


def _literal_set(cond: Cond, ftype: str) -> frozenset:
    """The values of an IN list, converted once per query rather than once per row (kept on
    the parsed condition, which lives as long as the query)."""
    cached = cond.__dict__.get("_literal_set")
    if cached is None or cached[0] != ftype:
        cached = (ftype, frozenset(_literal(v, ftype) for v in cond.values))
        cond.__dict__["_literal_set"] = cached
    return cached[1]


def _in_range(op: str, value: Any, bounds: tuple[datetime, datetime], ftype: str) -> bool:
    if value is None:
        return op == "!="
    start, end = bounds if ftype == "datetime" else (bounds[0].date(), bounds[1].date())
    inside = start <= value < end
    return {
        "=": inside,
        "!=": not inside,
        "<": value < start,
        "<=": value < end,
        ">": value >= end,
        ">=": value >= start,
    }[op]


def _compare(op: str, a: Any, b: Any) -> bool:
    if op == "=":
        return a == b
    if op == "!=":
        return a != b
    if a is None or b is None:
        return False
    try:
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
    except TypeError:
        return False


def sort_rows(rows: list[dict], order, types: dict) -> list[dict]:
    """Stable multi-key sort with Salesforce's null placement."""
    for path, desc, nulls_last in reversed(order):
        ftype = types[path]
        present = [r for r in rows if get_path(r, path) is not None]
        absent = [r for r in rows if get_path(r, path) is None]
        present.sort(key=lambda r, p=path, t=ftype: _typed(get_path(r, p), t), reverse=desc)
        rows = present + absent if nulls_last else absent + present
    return rows


# Audit fields and the id are real, indexed columns: conditions on them can run in the database.
COLUMNS = {
    "systemmodstamp": "system_modstamp",
    "createddate": "created_date",
    "lastmodifieddate": "last_modified_date",
    "id": "sf_id_c",
    "isdeleted": "is_deleted",
}
LOOKUPS = {"=": "exact", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte", "in": "in"}


def db_filter(cond: Cond | None) -> Q | None:
    """A Q that every matching row satisfies (a superset filter), or None.

    AND keeps the parts that translate; OR and NOT need every part to. Ids compare in the
    "C" collation (see `query.rows`) so the database orders them as Python does. Rows are
    still checked in Python afterwards, so a loose filter costs time, never correctness.
    """
    if cond is None:
        return None
    if cond.op == "and":
        parts = [q for q in (db_filter(c) for c in cond.children) if q is not None]
        return functools.reduce(operator.and_, parts) if parts else None
    if cond.op == "or":
        parts = [db_filter(c) for c in cond.children]
        return None if any(q is None for q in parts) else functools.reduce(operator.or_, parts)
    if cond.op == "not" or len(cond.path) != 1 or cond.op not in LOOKUPS:
        return None
    column = COLUMNS.get(cond.path[0].lower())
    wanted = {"sf_id_c": "string", "is_deleted": "bool"}.get(column, "datetime")
    if column is None or any(v.kind != wanted for v in cond.values):
        return None
    values = [_full_id(v.value) if column == "sf_id_c" else v.value for v in cond.values]
    if cond.op == "in":
        return Q(**{f"{column}__in": values})
    if column == "sf_id_c" and len(str(cond.values[0].value)) == 15 and cond.op != "=":
        return None  # a 15-character bound compares differently from the stored 18-character ids
    return Q(**{f"{column}__{LOOKUPS[cond.op]}": values[0]})


def _full_id(value: str) -> str:
    from sandbox.salesforce.store import id18

    return id18(value) if len(value) == 15 else value


def reference_filter(cond: Cond | None) -> tuple[str, set[str]] | None:
    """A top-level `<Reference>Id IN (...)` restriction (e.g. OpportunityId), to pre-filter."""
    if cond is None:
        return None
    if cond.op == "and":
        return next((r for r in (reference_filter(c) for c in cond.children) if r), None)
    if cond.path and len(cond.path) == 1 and cond.op in ("=", "in") and cond.path[0].lower().endswith("id"):
        if cond.path[0].lower() != "id" and all(v.kind == "string" for v in cond.values):
            return cond.path[0], {str(v.value) for v in cond.values}
    return None


TEXT_TYPES = {"string", "email", "phone", "url", "picklist", "combobox", "textarea"}


def text_filter(cond: Cond | None, types: dict) -> tuple[str, set[str]] | None:
    """A top-level `<TextField> = 'x'` or `IN (...)` restriction (e.g. matching by Email), as the
    lowercased values to pre-filter on. Only for ASCII literals: SQLite's LOWER() folds ASCII
    only, so a non-ASCII literal could match in Python and not there. (A stored value whose
    Python lowercase is ASCII while it is not, like the Kelvin sign, is the one case left.)"""
    if cond is None:
        return None
    if cond.op == "and":
        return next((r for r in (text_filter(c, types) for c in cond.children) if r), None)
    if len(cond.path) != 1 or cond.op not in ("=", "in") or types.get(cond.path) not in TEXT_TYPES:
        return None
    if not all(v.kind == "string" and str(v.value).isascii() for v in cond.values):
        return None
    return cond.path[0], {str(v.value).lower() for v in cond.values}
