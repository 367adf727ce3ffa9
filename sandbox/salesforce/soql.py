"""A SOQL subset, parsed with lark into a plan the sandbox evaluates in Python.

Supported: `SELECT` field lists with relationship paths (`Account.Name`) or `COUNT()`, `FROM`
one object, `WHERE` with `= != <> < <= > >=`, `IN`/`NOT IN`, `LIKE`, `AND`/`OR`/`NOT` and
parentheses, string/number/boolean/null literals, dates, datetimes (`Z` or `+HH:MM`) and date
literals (`TODAY`, `LAST_N_DAYS:n`, ...), `ORDER BY` with `ASC`/`DESC`/`NULLS FIRST|LAST`,
`LIMIT` and `OFFSET`. Anything else is a MALFORMED_QUERY, as Salesforce answers it.
String comparisons are case-insensitive, as in Salesforce.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, VisitError

from sandbox.salesforce import schema

GRAMMAR = r"""
start: _SELECT select_list _FROM NAME where? order? limit? offset?
select_list: select_item ("," select_item)*
?select_item: path
            | _COUNT "(" ")"                          -> count
path: NAME ("." NAME)*
where: _WHERE cond
?cond: and_cond
     | cond _OR and_cond                              -> or_
?and_cond: not_cond
         | and_cond _AND not_cond                     -> and_
?not_cond: _NOT not_cond                              -> not_
         | atom
?atom: path OP value                                  -> compare
     | path _IN "(" value ("," value)* ")"            -> in_
     | path _NOT _IN "(" value ("," value)* ")"       -> not_in
     | path _LIKE value                               -> like
     | "(" cond ")"
?value: STRING                                        -> string
      | NUMBER                                        -> number
      | DATETIME                                      -> datetime_
      | DATE                                          -> date_
      | _TRUE                                         -> true
      | _FALSE                                        -> false
      | _NULL                                         -> null
      | DATE_LITERAL                                  -> date_literal
order: _ORDER _BY order_item ("," order_item)*
order_item: path DIRECTION? nulls?
nulls: _NULLS NULLS_WHERE
limit: _LIMIT INT
offset: _OFFSET INT

_SELECT.3: /select\b/i
_FROM.3: /from\b/i
_WHERE.3: /where\b/i
_AND.3: /and\b/i
_OR.3: /or\b/i
_NOT.3: /not\b/i
_IN.3: /in\b/i
_LIKE.3: /like\b/i
_ORDER.3: /order\b/i
_BY.3: /by\b/i
_LIMIT.3: /limit\b/i
_OFFSET.3: /offset\b/i
_COUNT.3: /count\b/i
_TRUE.3: /true\b/i
_FALSE.3: /false\b/i
_NULL.3: /null\b/i
_NULLS.3: /nulls\b/i
NULLS_WHERE.3: /(first|last)\b/i
DIRECTION.3: /(asc|desc)\b/i
DATE_LITERAL.3: /(today|yesterday|tomorrow|this_week|last_week|next_week|this_month|last_month|next_month|this_year|last_year|next_year|(last|next)_n_days:\d+)\b/i
DATETIME.4: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})/
DATE.3: /\d{4}-\d{2}-\d{2}/
NUMBER.2: /-?\d+(\.\d+)?/
INT: /\d+/
OP: "!=" | "<>" | "<=" | ">=" | "=" | "<" | ">"
STRING: /'(?:[^'\\]|\\.)*'/
NAME: /[A-Za-z_][A-Za-z0-9_]*/
%ignore /\s+/
"""

_parser = Lark(GRAMMAR, parser="lalr", maybe_placeholders=False)


class SoqlError(Exception):
    """A query Salesforce would refuse: `code` is its errorCode (MALFORMED_QUERY, INVALID_FIELD...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Literal:
    value: Any
    kind: str  # string, number, datetime, date, bool, null, range


@dataclass
class Cond:
    op: str  # compare ops, "in", "not in", "like", "and", "or", "not"
    path: tuple[str, ...] = ()
    values: tuple[Literal, ...] = ()
    children: tuple[Cond, ...] = ()


@dataclass
class Query:
    sobject: str
    paths: list[tuple[str, ...]]
    count: bool = False
    where: Cond | None = None
    order: list[tuple[tuple[str, ...], bool, bool]] = field(default_factory=list)  # path, desc, nulls_last
    limit: int | None = None
    offset: int = 0
    types: dict[tuple[str, ...], str] = field(default_factory=dict)  # path -> field type


def _unescape(raw: str) -> str:
    return re.sub(
        r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m.group(1), m.group(1)), raw[1:-1]
    )


def _date_range(literal: str, today: date) -> tuple[datetime, datetime]:
    """The [start, end) UTC range a date literal stands for."""
    word = literal.lower()
    day = timedelta(days=1)
    if ":" in word:
        word, n = word.split(":")
        n = int(n)
        start, end = (
            (today - n * day, today + day) if word == "last_n_days" else (today + day, today + (n + 1) * day)
        )
    elif word in ("today", "yesterday", "tomorrow"):
        start = today + {"today": 0, "yesterday": -1, "tomorrow": 1}[word] * day
        end = start + day
    elif word.endswith("week"):
        monday = today - timedelta(days=today.weekday())
        start = monday + {"this": 0, "last": -7, "next": 7}[word.split("_")[0]] * day
        end = start + 7 * day
    elif word.endswith("month"):
        first = today.replace(day=1)
        shift = {"this": 0, "last": -1, "next": 1}[word.split("_")[0]]
        month_index = first.year * 12 + first.month - 1 + shift
        start = date(month_index // 12, month_index % 12 + 1, 1)
        end = date((month_index + 1) // 12, (month_index + 1) % 12 + 1, 1)
    else:  # this_year, last_year, next_year
        year = today.year + {"this": 0, "last": -1, "next": 1}[word.split("_")[0]]
        start, end = date(year, 1, 1), date(year + 1, 1, 1)
    return (datetime.combine(start, time(), UTC), datetime.combine(end, time(), UTC))


@v_args(inline=True)
class _Build(Transformer):
    def __init__(self, today: date) -> None:
        super().__init__()
        self.today = today

    def path(self, *names: Token) -> tuple[str, ...]:
        return tuple(str(n) for n in names)

    def string(self, tok):
        return Literal(_unescape(str(tok)), "string")

    def number(self, tok):
        text = str(tok)
        return Literal(float(text) if "." in text else int(text), "number")

    def datetime_(self, tok):
        text = str(tok).replace("Z", "+00:00")
        return Literal(datetime.fromisoformat(text).astimezone(UTC), "datetime")

    def date_(self, tok):
        return Literal(date.fromisoformat(str(tok)), "date")

    def true(self):
        return Literal(True, "bool")

    def false(self):
        return Literal(False, "bool")

    def null(self):
        return Literal(None, "null")

    def date_literal(self, tok):
        return Literal(_date_range(str(tok), self.today), "range")

    def compare(self, path, op, value):
        return Cond("!=" if str(op) == "<>" else str(op), path, (value,))

    def in_(self, path, *values):
        return Cond("in", path, values)

    def not_in(self, path, *values):
        return Cond("not in", path, values)

    def like(self, path, value):
        return Cond("like", path, (value,))

    def or_(self, a, b):
        return Cond("or", children=(a, b))

    def and_(self, a, b):
        return Cond("and", children=(a, b))

    def not_(self, a):
        return Cond("not", children=(a,))

    def count(self):
        return ("COUNT()",)

    def select_list(self, *items):
        return list(items)

    def where(self, cond):
        return ("where", cond)

    def order_item(self, path, *rest):
        desc = any(str(r).lower() == "desc" for r in rest if isinstance(r, Token))
        nulls = [r for r in rest if isinstance(r, tuple) and r and r[0] == "nulls"]
        nulls_last = nulls[0][1] if nulls else desc  # Salesforce: NULLS FIRST for ASC by default
        return (path, desc, nulls_last)

    def nulls(self, which):
        return ("nulls", str(which).lower() == "last")

    def order(self, *items):
        return ("order", list(items))

    def limit(self, n):
        return ("limit", int(n))

    def offset(self, n):
        return ("offset", int(n))

    def start(self, items, sobject, *clauses):
        count = items == [("COUNT()",)]
        query = Query(str(sobject), [] if count else items, count=count)
        for name, value in clauses:
            setattr(query, name, value)
        return query


def parse(text: str, *, today: date | None = None) -> Query:
    """Parse SOQL text; raise SoqlError(MALFORMED_QUERY) for what the subset does not cover."""
    try:
        tree = _parser.parse(text)
        return _Build(today or datetime.now(UTC).date()).transform(tree)
    except VisitError as exc:
        raise SoqlError("MALFORMED_QUERY", f"unexpected value in query: {exc.orig_exc}") from None
    except LarkError as exc:
        near = getattr(exc, "token", None) or ""
        where = f"unexpected token: '{near}'" if near else "unexpected end of query"
        raise SoqlError(
            "MALFORMED_QUERY",
            f"\n{text[:200]}\n^\nERROR at Row:1:Column:{getattr(exc, 'column', 0)}\n{where}",
        ) from None


def resolve(query: Query, fields_of) -> None:
    """Check every path against the schema (fields_of(sobject) -> {name: F} or None) and note types."""
    if fields_of(query.sobject) is None:
        raise SoqlError(
            "INVALID_TYPE",
            f"\nFROM {query.sobject}\n^\nsObject type '{query.sobject}' is not supported. If you are "
            "attempting to use a custom object, be sure to append the '__c' after the entity name.",
        )
    paths = list(query.paths) + [p for p, _, _ in query.order] + list(_cond_paths(query.where))
    for path in paths:
        query.types[path] = _resolve_path(query.sobject, path, fields_of)


def _cond_paths(cond: Cond | None):
    if cond is None:
        return
    if cond.path:
        yield cond.path
    for child in cond.children:
        yield from _cond_paths(child)


def _resolve_path(sobject: str, path: tuple[str, ...], fields_of) -> str:
    current = sobject
    for i, name in enumerate(path):
        fields = fields_of(current) or {}
        by_lower = {k.lower(): v for k, v in fields.items()}
        if i < len(path) - 1:
            rel = next((f for f in fields.values() if f.relationship.lower() == name.lower()), None)
            if rel is None:
                raise SoqlError(
                    "INVALID_FIELD",
                    f"Didn't understand relationship '{name}' in field path. "
                    "If you are attempting to use a custom relationship, be sure to append the '__r'.",
                )
            current = rel.reference_to
            continue
        f = by_lower.get(name.lower())
        if f is None:
            raise SoqlError(
                "INVALID_FIELD",
                f"\n{'.'.join(path)}\n^\nNo such column '{name}' on entity "
                f"'{current}'. If you are attempting to use a custom field, be sure to append "
                "the '__c' after the custom field name.",
            )
        return f.type
    return "string"


# --- evaluation ---------------------------------------------------------------------------------


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
        return value if ftype in ("id", "reference") else value.lower()
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
        current = current.get(name, current.get(_ci_key(current, name)))
    return current


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
        found = value in {_literal(v, ftype) for v in cond.values}
        return found if cond.op == "in" else not found
    lit = cond.values[0]
    if cond.op == "like":
        pattern = re.escape(str(lit.value).lower()).replace("%", ".*").replace("_", ".")
        return value is not None and re.fullmatch(pattern, str(value), re.S) is not None
    if lit.kind == "range":
        return _in_range(cond.op, value, lit.value, ftype)
    return _compare(cond.op, value, _literal(lit, ftype))


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


def modstamp_lower_bound(cond: Cond | None) -> datetime | None:
    """A lower bound on SystemModstamp every matching row must meet, to pre-filter in the database."""
    if cond is None:
        return None
    if cond.op == "and":
        bounds = [b for b in (modstamp_lower_bound(c) for c in cond.children) if b]
        return max(bounds) if bounds else None
    if cond.op == "or":
        bounds = [modstamp_lower_bound(c) for c in cond.children]
        return None if any(b is None for b in bounds) else min(bounds)
    if cond.path and cond.path[-1].lower() == "systemmodstamp" and len(cond.path) == 1:
        lit = cond.values[0] if cond.values else None
        if lit and cond.op in (">", ">=", "=") and lit.kind == "datetime":
            return lit.value
    return None


def id_filter(cond: Cond | None) -> set[str] | None:
    """The ids a query is restricted to (`Id = 'x'`, `Id IN (...)` at the top level), if any."""
    if cond is None:
        return None
    if cond.op == "and":
        sets = [s for s in (id_filter(c) for c in cond.children) if s is not None]
        return set.intersection(*sets) if sets else None
    if cond.path == ("Id",) or (cond.path and len(cond.path) == 1 and cond.path[0].lower() == "id"):
        if cond.op in ("=", "in") and all(v.kind == "string" for v in cond.values):
            return {str(v.value) for v in cond.values}
    return None


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


__all__ = ["Query", "SoqlError", "get_path", "matches", "parse", "resolve", "schema", "sort_rows"]
