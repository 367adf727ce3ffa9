"""Many rows of one model written by prepared statements, without Django's compiler per value.

A run writes a link and one or more outcomes per record. Through bulk_create, building the
model instances and compiling each value (pre_save, get_db_prep_save, a placeholder per value)
was more than half of an initial sync's CPU on memory apps. Here each column's value goes
through a converter chosen once per column, which gives the database what the field's own
get_db_prep_save would (text as is, datetimes and JSON through the backend's adapters, anything
unusual through the field itself).

On PostgreSQL a page's rows go as one array per column (INSERT ... SELECT FROM unnest, UPDATE
... FROM unnest), bound by the server: Django's cursors bind on the client, which quoted every
value and split a statement of 65,000 placeholders in Python (a third of the engine's CPU),
and the server then parsed and planned that text, or one UPDATE per link.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import connections, router
from django.db.models import Field, Model
from django.utils import timezone

Converter = Callable[[Any], Any]


def insert(model: type[Model], names: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """INSERT `rows` (raw attribute values in the order of `names`), as many rows a statement as
    the backend takes parameters for (one statement per row cost PostgreSQL a parse-free but
    still whole execution each: most of its CPU in an initial sync); PostgreSQL: all in one."""
    connection = connections[router.db_for_write(model)]
    converters = _converters(model, tuple(names), connection.alias)
    if connection.vendor == "postgresql":
        rows = list(rows)
        if rows:
            columns = [[c(row[i]) for row in rows] for i, c in enumerate(converters)]
            with _cursor(connection) as cursor:
                cursor.execute(_unnest_insert_sql(model, names, connection), columns)
        return
    prepared = [[c(v) for c, v in zip(converters, row, strict=True)] for row in rows]
    fields = [model._meta.get_field(name) for name in names]
    size = _rows_per_statement(connection, fields, prepared)
    with connection.cursor() as cursor:
        for start in range(0, len(prepared), size):
            chunk = prepared[start : start + size]
            cursor.execute(_insert_sql(model, names, connection, len(chunk)), [v for row in chunk for v in row])


def _rows_per_statement(connection: Any, fields: Sequence[Field], rows: Sequence[Any]) -> int:
    # As many rows per statement as the backend takes parameters (PostgreSQL: 65,535).
    return max(1, min(connection.ops.bulk_batch_size(fields, rows), 65_000 // max(1, len(fields))))


def insert_objects(objects: Sequence[Model]) -> None:
    """INSERT new model instances of one model and set their primary keys, as bulk_create does.

    Each statement inserts as many rows as the backend takes parameters for and returns their
    keys in order (INSERT ... RETURNING, what bulk_create itself relies on for SQLite >= 3.35
    and PostgreSQL). An auto_now field gets the current time, as pre_save gives it.
    """
    if not objects:
        return
    model = type(objects[0])
    meta = model._meta
    connection = connections[router.db_for_write(model)]
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    names = tuple(f.attname for f in fields)
    converters = _converters(model, names, connection.alias)
    automatic = [f.attname for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)]
    postgres = connection.vendor == "postgresql"
    # PostgreSQL: one INSERT ... SELECT FROM unnest(...) for them all, whose keys come back in
    # the order of the arrays (as bulk_create's own UNNEST relies on).
    size = len(objects) if postgres else _rows_per_statement(connection, fields, objects)
    returning = f" RETURNING {connection.ops.quote_name(meta.pk.column)}"
    for start in range(0, len(objects), size):
        chunk = objects[start : start + size]
        now = timezone.now()
        for obj in chunk:
            for name in automatic:
                setattr(obj, name, now)
        pairs = list(zip(converters, names, strict=True))
        if postgres:
            sql, params = _unnest_insert_sql(model, names, connection), [[c(getattr(o, n)) for o in chunk] for c, n in pairs]
        else:
            sql, params = _insert_sql(model, names, connection, len(chunk)), [c(getattr(o, n)) for o in chunk for c, n in pairs]
        with _cursor(connection) as cursor:
            cursor.execute(sql + returning, params)
            keys = cursor.fetchall()
        for obj, (key,) in zip(chunk, keys, strict=True):
            obj.pk = key
            obj._state.adding = False
            obj._state.db = connection.alias


def update(model: type[Model], names: Sequence[str], objects: Sequence[Model]) -> None:
    """UPDATE each object's `names` by primary key, as one prepared statement run for every row
    (PostgreSQL: one UPDATE ... FROM unnest(...) for them all).

    Django's bulk_update builds one CASE WHEN per field listing every row, which the database
    then evaluates row by row: a page of links took ~0.1 s per 100 rows on SQLite. executemany
    sends the same work as N small updates.
    """
    if not objects:
        return
    connection = connections[router.db_for_write(model)]
    meta = model._meta
    converters = _converters(model, tuple(names), connection.alias)
    if connection.vendor == "postgresql":
        _update_unnest(model, names, objects, converters, connection)
        return
    quote = connection.ops.quote_name
    columns = [meta.get_field(name).column for name in names]
    # Only quoted model metadata goes into the text; every value is a parameter.
    assignments = ", ".join(f"{quote(c)} = %s" for c in columns)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608
    rows = [[c(getattr(obj, n)) for c, n in zip(converters, names, strict=True)] + [obj.pk] for obj in objects]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _insert_sql(model: type[Model], names: Sequence[str], connection: Any, count: int) -> str:
    meta = model._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(meta.get_field(name).column) for name in names)
    row = "(" + ", ".join(["%s"] * len(names)) + ")"
    # Only quoted model metadata goes into the text; every value is a parameter.
    return f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES {', '.join([row] * count)}"  # noqa: S608


def load(model: type[Model], where: dict[str, Any], key: str, values: Sequence[Any]) -> list[Model]:
    """The rows of `model` whose fields equal `where` and whose `key` is one of `values`, as
    model instances, in one query (what filter(**where, key__in=values) gives).

    On PostgreSQL the keys go as one array (= ANY) and the rows come back in binary: through
    Django's cursor, its timestamp loader parsed every datetime's text in Python and the
    client split a statement of a page's placeholders (a fifth of an initial sync's CPU).
    """
    connection = connections[router.db_for_read(model)]
    meta = model._meta
    fields = meta.concrete_fields
    if connection.vendor != "postgresql" or not all(_loads_as_is(f) for f in fields):
        return list(model._default_manager.using(connection.alias).filter(**where, **{f"{key}__in": values}))
    quote = connection.ops.quote_name
    tests = [f"{quote(meta.get_field(name).column)} = %s" for name in where]
    tests.append(f"{quote(meta.get_field(key).column)} = ANY(%b::{_array_type(meta.get_field(key), connection)})")
    # Only quoted model metadata goes into the text; every value is a parameter.
    sql = f"SELECT {', '.join(quote(f.column) for f in fields)} FROM {quote(meta.db_table)} WHERE {' AND '.join(tests)}"  # noqa: S608
    with _cursor(connection, binary=True) as cursor:
        cursor.execute(sql, [getattr(v, "pk", v) for v in where.values()] + [list(values)])
        found = cursor.fetchall()
    zone, names = connection.timezone, [f.attname for f in fields]
    times = [i for i, f in enumerate(fields) if f.get_internal_type() == "DateTimeField"]
    result = []
    for row in found:
        row = list(row)
        for i in times:
            if row[i] is not None:
                row[i] = row[i].astimezone(zone)  # the zone Django's own loader gives
        result.append(model.from_db(connection.alias, names, row))
    return result


def _loads_as_is(field: Field) -> bool:
    """Whether psycopg's binary loader gives what the ORM would for `field`: no from_db_value,
    or JSON without a custom decoder (psycopg's jsonb loader parses it with json.loads)."""
    if field.get_internal_type() == "JSONField":
        return field.decoder is None
    return not hasattr(field, "from_db_value")


def _update_unnest(
    model: type[Model], names: Sequence[str], objects: Sequence[Model], converters: Sequence[Converter],
    connection: Any,
) -> None:
    meta = model._meta
    quote = connection.ops.quote_name
    latest = list({obj.pk: obj for obj in objects}.values())  # one row per key: the last, as executemany leaves it
    columns = [[obj.pk for obj in latest]]
    columns += [[c(getattr(obj, n)) for obj in latest] for c, n in zip(converters, names, strict=True)]
    fields = [meta.pk] + [meta.get_field(name) for name in names]
    arrays = ", ".join(f"%b::{_array_type(f, connection)}" for f in fields)  # %b: binary arrays
    aliases = ", ".join(f"v{i}" for i in range(len(fields)))
    assignments = ", ".join(f"{quote(f.column)} = v.v{i}" for i, f in enumerate(fields[1:], start=1))
    table = quote(meta.db_table)
    # Only quoted model metadata goes into the text; every value is in a parameter.
    sql = (f"UPDATE {table} SET {assignments} FROM unnest({arrays}) AS v({aliases}) "  # noqa: S608
           f"WHERE {table}.{quote(meta.pk.column)} = v.v0")
    with _cursor(connection) as cursor:
        cursor.execute(sql, columns)


def _unnest_insert_sql(model: type[Model], names: Sequence[str], connection: Any) -> str:
    meta = model._meta
    quote = connection.ops.quote_name
    fields = [meta.get_field(name) for name in names]
    columns = ", ".join(quote(f.column) for f in fields)
    arrays = ", ".join(f"%b::{_array_type(f, connection)}" for f in fields)  # %b: binary arrays
    # Only quoted model metadata goes into the text; every value is in a parameter.
    return f"INSERT INTO {quote(meta.db_table)} ({columns}) SELECT * FROM unnest({arrays})"  # noqa: S608


def _array_type(field: Field, connection: Any) -> str:
    # varchar[], not varchar(100)[], as Django's own UNNEST does: the column checks the length.
    target = field.target_field if field.is_relation else field
    return target.db_type(connection).split("(")[0] + "[]"


@contextmanager
def _cursor(connection: Any, *, binary: bool = False) -> Iterator[Any]:
    """A cursor of `connection`; on PostgreSQL one whose parameters the server binds (psycopg's
    own Cursor, not the ClientCursor Django's settings give), wrapped as Django wraps its
    cursors (execute wrappers, error translation, the debug log), `binary`: results too."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            yield cursor
        return
    from django.db.backends.postgresql.base import ServerBindingCursor
    from psycopg.pq import Format

    connection.ensure_connection()
    raw = ServerBindingCursor(connection.connection)
    if binary:
        raw.format = Format.BINARY
    cursor = connection.make_debug_cursor(raw) if connection.queries_logged else connection.make_cursor(raw)
    with cursor:
        yield cursor


@lru_cache(maxsize=64)
def _converters(model: type[Model], names: tuple[str, ...], alias: str) -> tuple[Converter, ...]:
    connection = connections[alias]
    meta = model._meta
    return tuple(converter(meta.get_field(name), connection) for name in names)


def converter(field: Field, connection: Any) -> Converter:
    """A function giving the database what `field.get_db_prep_save(value)` gives, faster for
    the common cases (text, aware datetimes, JSON, keys and numbers)."""

    def slow(value: Any) -> Any:
        return field.get_db_prep_save(value, connection)

    kind = field.get_internal_type()
    if kind in ("CharField", "TextField"):
        # What CharField.to_python does: any str (a TextChoices member too) passes as it is.
        return lambda v: v if v is None or isinstance(v, str) else slow(v)
    if kind == "DateTimeField":
        return _datetime_converter(connection, slow)
    if kind == "JSONField":
        return _json_converter(field.encoder)
    if kind in ("ForeignKey", "AutoField", "BigAutoField", "IntegerField", "PositiveIntegerField", "BooleanField"):
        plain = (bool,) if kind == "BooleanField" else (int,)
        return lambda v: v if v is None or type(v) in plain else slow(v)
    return slow


def _datetime_converter(connection: Any, slow: Converter) -> Converter:
    ops = connection.ops
    # SQLite takes UTC text: a time already in the connection's zone (timezone.now()'s) is
    # what make_naive would give, without its conversions.
    zone = connection.timezone if connection.vendor == "sqlite" and settings.USE_TZ else None

    def adapt(value: Any) -> Any:
        if type(value) is datetime and value.tzinfo is not None:
            if value.tzinfo is zone:
                return str(value.replace(tzinfo=None))
            return ops.adapt_datetimefield_value(value)
        return slow(value)

    return adapt


def _json_converter(encoder: Any) -> Converter:
    # JSON text, as SQLite's adapt_json_value gives it, for PostgreSQL too: its arrays are cast
    # from text[] to jsonb[] (engine.rows' unnest), which spares a Jsonb wrapper and its dumper
    # per value. Empty containers (most links' associations and warnings) are encoded once.
    def encode(value: Any) -> str:
        return json.dumps(value, cls=encoder)

    empty = {t: encode(t()) for t in (dict, list)}

    def adapt(value: Any) -> Any:
        if value is None:
            return None
        if not value and type(value) in empty:
            return empty[type(value)]
        return encode(value)

    return adapt
