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
