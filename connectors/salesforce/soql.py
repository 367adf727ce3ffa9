"""Building SOQL safely: literals are escaped here; names come only from describe() or constants."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from urllib.parse import quote_plus

# A query travels in the GET URL (`/query?q=`): Salesforce takes at most 16,384 bytes of URI and
# headers together (a longer URI is a 414), and at most 100,000 characters of SOQL. The URI of
# one query is kept under URI_BUDGET, which leaves ~1.4 KB for the instance's path prefix and
# the headers (bearer token, Accept, Sforce-Query-Options); the longer the SELECT list, the
# fewer values an IN list holds, and the more queries a lookup takes.
URI_BUDGET = 15_000
SOQL_MAX = 100_000
STRING_MAX = 4_000  # characters of one string literal in a WHERE clause


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


def in_chunks(
    values: Sequence[str], query: Callable[[str], str], *, budget: int = URI_BUDGET
) -> Iterator[tuple[list[str], str]]:
    """Split `values` into as few queries as the URI allows: yields (the values, the SOQL text)
    where `query` builds the text around an IN list, e.g. lambda in_: f"... WHERE Email IN {in_}".

    The budget counts the URL-encoded text (as it goes out in `?q=`). A value that cannot fit
    alone, or longer than Salesforce's 4,000 characters for one string, is left out: no record
    can match it through a query.
    """
    base = len(quote_plus(query("()")))
    chunk: list[str] = []
    used = base
    for value in values:
        text = str(value)
        size = len(quote_plus(string(text))) + (len(quote_plus(", ")) if chunk else 0)
        if len(text) > STRING_MAX or base + size > budget:
            continue
        if chunk and used + size > budget:
            yield chunk, query(in_list(chunk))
            chunk, used = [], base
            size = len(quote_plus(string(text)))
        chunk.append(text)
        used += size
    if chunk:
        text = query(in_list(chunk))
        if len(text) > SOQL_MAX:  # unreachable while URI_BUDGET < SOQL_MAX, kept as the rule
            raise ValueError("SOQL longer than Salesforce's 100,000 characters")
        yield chunk, text


def chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
