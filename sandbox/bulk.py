"""Reading and writing many rows in one statement, for the sandboxes' batch endpoints.

The ORM's fixed cost per query (building the SQL, then a converter per value) came to more CPU
than the rest of a 100-record batch call, and a sandbox slower than the vendor limit it
emulates hides what a sync does with that limit. These helpers take SQL fragments written
against the model's own columns, run them once, and build model instances directly: the
instances are ordinary ones (save() and the rest work), only cheaper to make. Django's
bulk_update builds a CASE WHEN expression per row and field; `update_rows` runs one prepared
UPDATE with executemany instead.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from django.core.exceptions import EmptyResultSet
from django.db import connections, router
from django.db.models.base import ModelState
from django.db.models.constants import OnConflict


def cursor_for(connection):
    """A cursor that skips the SQL log DEBUG keeps (on SQLite that log costs one more query per
    statement, to quote its parameters), unless a test captures the queries."""
    if connection.force_debug_cursor:
        return connection.cursor()
    # What connection.cursor() does, less the debug wrapper.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        if connection.vendor == "sqlite":
            return connection.make_cursor(connection.connection.cursor(factory=_QmarkCursor))
        return connection.make_cursor(connection.create_cursor())


@functools.lru_cache(maxsize=512)
def _qmark(sql: str) -> str:
    from django.db.backends.sqlite3.base import FORMAT_QMARK_REGEX

    return FORMAT_QMARK_REGEX.sub("?", sql).replace("%%", "%")


class _QmarkCursor(sqlite3.Cursor):
    """Django's SQLite cursor turns %s into ? with a regex on every statement: on the long IN
    lists of a batch that came to a tenth of a call. The same few statements repeat from call
    to call, so the conversion is cached."""

    def execute(self, sql, params=()):
        return super().execute(_qmark(sql), params)

    def executemany(self, sql, params):
        return super().executemany(_qmark(sql), params)


def marks(count: int) -> str:
    """`%s, %s, ...`: the placeholders of an IN list of `count` values."""
    return ", ".join(["%s"] * count)


@functools.lru_cache(maxsize=16384)  # records are read again and again, and a batch shares its moments
def from_datetime(value):
    """A DateTimeField's value as the database returned it, as an aware datetime."""
    if value is None:
        return None
    if isinstance(value, str):  # SQLite without a declared-type converter
        value = datetime.fromisoformat(value)
    # Stored in UTC (USE_TZ): SQLite hands back naive values, PostgreSQL aware ones.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def from_json(value):
    """A JSONField's value as the database returned it, decoded."""
    return json.loads(value) if isinstance(value, str | bytes) else value


PLAIN = {"AutoField", "BigAutoField", "CharField", "SlugField", "TextField", "URLField", "EmailField",
         "IntegerField", "BigIntegerField", "PositiveIntegerField", "SmallIntegerField", "FloatField",
         "ForeignKey"}
CONVERTERS = {"DateTimeField": from_datetime, "BooleanField": bool, "JSONField": from_json}


def _converters(model) -> list:
    cached = model.__dict__.get("_sandbox_converters")
    if cached is None:
        cached = []
        for f in model._meta.concrete_fields:
            kind = f.get_internal_type()
            if kind not in PLAIN and kind not in CONVERTERS:
                raise TypeError(f"sandbox.bulk cannot read {model.__name__}.{f.name} ({kind})")
            cached.append(CONVERTERS.get(kind))
        model._sandbox_converters = cached
    return cached


def _preparers(fields, connection) -> list:
    """Per field, what turns a model value into a query parameter: the database's own adapter
    for dates and JSON, the value itself for plain columns (get_db_prep_save's checks and
    conversions, run for every value, were most of a batch insert's cost)."""
    out = []
    for f in fields:
        kind = f.get_internal_type()
        if kind == "DateTimeField":
            # Cached per call: a batch's rows share a few moments (created and modified at once).
            adapt = _sqlite_datetime if connection.vendor == "sqlite" else connection.ops.adapt_datetimefield_value
            out.append(functools.lru_cache(maxsize=64)(adapt))
        elif kind == "JSONField":
            out.append(functools.partial(connection.ops.adapt_json_value, encoder=f.encoder))
        elif kind in PLAIN or kind == "BooleanField":
            out.append(None)
        else:
            out.append(functools.partial(_prep_save, f, connection))
    return out


def _sqlite_datetime(value: datetime) -> str:
    """What Django's SQLite backend stores for an aware datetime (naive UTC, str()), faster."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(" ")


def _prep_save(field, connection, value):
    return field.get_db_prep_save(value, connection)


def new(model, **values):
    """An unsaved instance from the values of every concrete field (by attname; foreign keys as
    ids), made as `fetch` makes instances: Model.__init__ (descriptors, signals) cost more than
    validating the record when a batch creates 100."""
    attnames = [f.attname for f in model._meta.concrete_fields]
    if set(values) != set(attnames):
        raise TypeError(f"{model.__name__} needs exactly {attnames}: missing {sorted(set(attnames) - set(values))}, "
                        f"unknown {sorted(set(values) - set(attnames))}")
    obj = model.__new__(model)
    obj.__dict__.update(values)
    obj._state = ModelState()
    return obj


def fetch(model, where: str, params: Sequence = (), *, order_by: str = "", limit: int | None = None) -> list:
    """Model instances for `SELECT * FROM <model's table> WHERE <where> [ORDER BY <order_by>]
    [LIMIT <limit>]`.

    `where` and `order_by` name the model's columns; every value is a parameter in `params`.
    """
    alias = router.db_for_read(model)
    connection = connections[alias]
    meta = model._meta
    quote = connection.ops.quote_name
    columns = ", ".join(datetime_text(model, quote(f.column)) if f.get_internal_type() == "DateTimeField"
                        else quote(f.column) for f in meta.concrete_fields)
    sql = f"SELECT {columns} FROM {quote(meta.db_table)} WHERE {where}"  # noqa: S608 (identifiers from meta)
    if order_by:
        sql += f" ORDER BY {order_by}"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return _instances(model, alias, sql, list(params))


def fetch_queryset(queryset) -> list:
    """The instances a queryset (filters, order, slice) finds, built as `fetch` builds them: the
    ORM writes the SQL, a plain cursor runs it."""
    model = queryset.model
    query = queryset.values_list(*[f.attname for f in model._meta.concrete_fields]).query
    try:
        sql, params = query.get_compiler(using=queryset.db).as_sql()
    except EmptyResultSet:  # e.g. an IN list with nothing in it
        return []
    return _instances(model, queryset.db, sql, params)


def queryset_rows(queryset) -> list[tuple]:
    """The raw rows of a values_list queryset: the ORM writes the SQL, a plain cursor runs it
    (no converter per value; see from_json and from_datetime)."""
    try:
        sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    except EmptyResultSet:  # e.g. an IN list with nothing in it
        return []
    return _run(connections[queryset.db], sql, params)


def _run(connection, sql: str, params) -> list[tuple]:
    with cursor_for(connection) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _instances(model, alias: str, sql: str, params) -> list:
    converters = _converters(model)
    rows = _run(connections[alias], sql, params)
    attnames = [f.attname for f in model._meta.concrete_fields]
    converted = [i for i, convert in enumerate(converters) if convert is not None]
    out = []
    for row in rows:
        values = list(row)
        for i in converted:
            if values[i] is not None:
                values[i] = converters[i](values[i])
        # What Model.from_db makes, without __init__'s per-field descriptors and signals (no
        # sandbox model has init signals or deferred fields): the attributes and a loaded state.
        obj = model.__new__(model)
        obj.__dict__.update(zip(attnames, values, strict=True))
        obj._state = ModelState()
        obj._state.adding, obj._state.db = False, alias
        out.append(obj)
    return out


def select(model, sql: str, params: Sequence = ()) -> list[tuple]:
    """Raw tuples from any SELECT (joins included) on `model`'s database."""
    return _run(connections[router.db_for_read(model)], sql, list(params))


def values(model, columns: Sequence[str], where: str, params: Sequence = (), *, order_by: str = "") -> list[tuple]:
    """Raw tuples of `columns` (as the database returns them) for the rows matching `where`."""
    connection = connections[router.db_for_read(model)]
    sql = f"SELECT {', '.join(columns)} FROM {connection.ops.quote_name(model._meta.db_table)} WHERE {where}"  # noqa: S608
    if order_by:
        sql += f" ORDER BY {order_by}"
    return _run(connection, sql, list(params))


def insert_rows(model, objs: Iterable, *, ignore_conflicts: bool = False) -> None:
    """INSERT the (unsaved) model instances `objs`, many rows per statement.

    New auto primary keys are set on the instances (from RETURNING, in input order, as
    bulk_create relies on too), unless `ignore_conflicts`, where rows that conflict with a
    unique constraint are skipped and no ids come back.
    """
    objs = list(objs)
    if not objs:
        return
    meta = model._meta
    auto = meta.auto_field
    fields = [f for f in meta.concrete_fields if not (f is auto and objs[0].pk is None)]
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            for obj in objs:
                f.pre_save(obj, True)
    rows = [tuple(getattr(obj, f.attname) for f in fields) for obj in objs]
    ids = insert_values(model, [f.name for f in fields], rows, ignore_conflicts=ignore_conflicts)
    alias = router.db_for_write(model)
    for i, obj in enumerate(objs):
        if ids:
            setattr(obj, auto.attname, ids[i])
        obj._state.adding, obj._state.db = False, alias


def insert_values(model, fields: Sequence[str], rows: Sequence[tuple], *,
                  ignore_conflicts: bool = False) -> list | None:
    """INSERT rows of values of `fields` (model values: an id for a foreign key), many rows per
    statement; the new auto primary keys in input order, or None when the rows carry their keys
    or `ignore_conflicts` skips the rows that conflict with a unique constraint."""
    if not rows:
        return None
    connection = connections[router.db_for_write(model)]
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    auto = meta.auto_field
    quote = connection.ops.quote_name
    on_conflict = OnConflict.IGNORE if ignore_conflicts else None
    head = (f"{connection.ops.insert_statement(on_conflict=on_conflict)} {quote(meta.db_table)} "
            f"({', '.join(quote(c.column) for c in columns)}) VALUES ")
    tail = ""
    if ignore_conflicts:
        tail = " " + connection.ops.on_conflict_suffix_sql(columns, on_conflict, None, None)
    returning = auto is not None and auto not in columns and not ignore_conflicts
    if returning:
        if not connection.features.can_return_rows_from_bulk_insert:
            raise RuntimeError("the sandbox needs a database that returns ids from bulk inserts")
        tail += f" RETURNING {quote(meta.db_table)}.{quote(auto.column)}"
    size = max(1, connection.ops.bulk_batch_size(columns, rows))
    row = "(" + marks(len(columns)) + ")"
    preparers = _preparers(columns, connection)
    ids = []
    with cursor_for(connection) as cursor:
        for start in range(0, len(rows), size):
            chunk = rows[start:start + size]
            params = [value if prepare is None or value is None else prepare(value)
                      for values in chunk for value, prepare in zip(values, preparers, strict=True)]
            cursor.execute(head + ", ".join([row] * len(chunk)) + tail, params)
            if returning:
                ids += [pk for (pk,) in cursor.fetchall()]
    if returning and len(ids) != len(rows):
        raise RuntimeError(f"an INSERT of {len(rows)} rows returned {len(ids)} ids")
    return ids if returning else None


def delete_rows(model, pks: Sequence) -> None:
    """DELETE the rows with these primary keys (no cascade, no signals: for tables nothing
    references)."""
    connection = connections[router.db_for_write(model)]
    meta = model._meta
    quote = connection.ops.quote_name
    with cursor_for(connection) as cursor:
        for start in range(0, len(pks), 500):
            chunk = list(pks[start:start + 500])
            cursor.execute(f"DELETE FROM {quote(meta.db_table)} WHERE {quote(meta.pk.column)} "  # noqa: S608
                           f"IN ({marks(len(chunk))})", chunk)


def update_rows(model, objs, fields: list[str]) -> None:
    """UPDATE `fields` of every object in `objs` (model instances with a pk), one executemany."""
    objs = {obj.pk: obj for obj in objs}.values()
    attnames = [model._meta.get_field(name).attname for name in fields]
    update_values(model, fields, [(obj.pk, *(getattr(obj, a) for a in attnames)) for obj in objs])


def update_values(model, fields: list[str], rows: Sequence[tuple]) -> None:
    """UPDATE `fields` from rows of (pk, value of each field), one executemany."""
    if not rows:
        return
    connection = connections[router.db_for_write(model)]
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    # Identifiers come from the model's own metadata; every value is a parameter.
    assignments = ", ".join(f"{quote(c.column)} = %s" for c in columns)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608
    preparers = _preparers(columns, connection)
    params = [[value if prepare is None or value is None else prepare(value)
               for value, prepare in zip(row[1:], preparers, strict=True)] + [row[0]] for row in rows]
    with cursor_for(connection) as cursor:
        cursor.executemany(sql, params)


def json_texts(model, column: str, keys: Sequence[str]) -> tuple[list[str], list[str]]:
    """SELECT expressions reading `keys` of a JSON column (`column`: SQL, e.g. a qualified
    name) as text (None when absent), and their parameters: the database reads a few values out
    of each row's JSON, which costs far less than decoding every row's whole document in Python."""
    connection = connections[router.db_for_read(model)]
    if connection.vendor == "sqlite":
        return [f"json_extract({column}, %s)"] * len(keys), [f'$."{key}"' for key in keys]
    return [f"{column} ->> %s"] * len(keys), list(keys)


def datetime_text(model, column: str) -> str:
    """A SELECT expression for a DateTimeField (`column`: SQL) that `from_datetime` reads: on
    SQLite the stored text itself (a bare column gets Django's regex parser, registered for its
    declared type, at several times the cost of datetime.fromisoformat), elsewhere the column."""
    connection = connections[router.db_for_read(model)]
    return f"CAST({column} AS TEXT)" if connection.vendor == "sqlite" else column


def patch_json(model, field: str, rows: Sequence[tuple], also: Sequence[str] = ()) -> None:
    """Set and remove keys of a JSON column in place, from rows of (pk, {key: text or None to
    remove}, value of each field in `also`): one executemany, without reading the documents."""
    if not rows:
        return
    connection = connections[router.db_for_write(model)]
    meta = model._meta
    quote = connection.ops.quote_name
    column = quote(meta.get_field(field).column)
    others = [meta.get_field(name) for name in also]
    preparers = _preparers(others, connection)
    extra = "".join(f", {quote(f.column)} = %s" for f in others)
    where = f" WHERE {quote(meta.pk.column)} = %s"
    params = []
    if connection.vendor == "sqlite":
        # json_patch is RFC 7396: a null member removes the key.
        sql = f"UPDATE {quote(meta.db_table)} SET {column} = json_patch({column}, %s){extra}{where}"  # noqa: S608
        for pk, changes, *values in rows:
            params.append([json.dumps(changes), *_prepared(values, preparers), pk])
    else:
        sql = (f"UPDATE {quote(meta.db_table)} SET {column} = ({column} - %s::text[]) || %s::jsonb{extra}"  # noqa: S608
               f"{where}")
        for pk, changes, *values in rows:
            removed = [k for k, v in changes.items() if v is None]
            kept = {k: v for k, v in changes.items() if v is not None}
            params.append([removed, json.dumps(kept), *_prepared(values, preparers), pk])
    with cursor_for(connection) as cursor:
        cursor.executemany(sql, params)


def _prepared(values, preparers) -> list:
    return [value if prepare is None or value is None else prepare(value)
            for value, prepare in zip(values, preparers, strict=True)]
