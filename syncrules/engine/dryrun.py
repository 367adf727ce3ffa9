"""The stand-ins a preview runs the engine with (see engine.preview): apps that are read but
never written, and the engine's memory kept in memory.

- `DryConnector` wraps each app's connector: reads go to the app; writes go nowhere. A write is
  answered as the app would answer it for what the field specs tell (`preflight`: too long, no
  such option, a required field missing on a create), and is remembered, so later reads and
  lookups of the same run see the records the run would have created or changed, in the order
  the app would return them (written records last, as apps list records by modification time).
- `DryStore` takes the place of `engine.store`: links stay in memory and every change is handed
  to the preview's tally; the database is only read; no cursor moves.
"""

from __future__ import annotations

import copy
import dataclasses
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from connectors.base import (
    COMPANIES,
    CONTACTS,
    DEALS,
    Connector,
    FieldSpec,
    FieldType,
    Option,
    Page,
    Record,
    WriteResult,
)
from connectors.errors import ConnectorError, ErrorCategory
from syncrules.engine import store
from syncrules.engine.convert import enum_values, is_empty
from syncrules.engine.helpers import http_calls
from syncrules.engine.merge import A, B
from syncrules.engine.store import LinkChange
from syncrules.models import ObjectSync, RecordLink, SyncRun

Progress = Callable[[int, int | None, int], None]  # (records processed, estimated total, HTTP calls) per page
# A display name per object type: default-field keys joined, then the extra shown in brackets.
NAME_KEYS = {
    CONTACTS: (("first_name", "first"), ("last_name", "last"), ("email",)),
    COMPANIES: (("name",), (), ("domain",)),
    DEALS: (("deal_name",), (), ()),
}


def preflight(specs: Mapping[str, FieldSpec], values: Mapping[str, Any], *, create: bool) -> ConnectorError | None:
    """The refusal the app would answer to writing `values` (None: accepted), from its field specs.

    One function on purpose: the run's own pre-write evaluation is meant to share it.
    """
    for name, value in values.items():
        spec = specs.get(name)
        if spec is None or is_empty(value):
            continue
        label = spec.label or name
        if spec.max_length and isinstance(value, str) and len(value) > spec.max_length:
            return ConnectorError(ErrorCategory.VALUE_TOO_LONG, f"{label} allows {spec.max_length} characters; "
                                  f"the value has {len(value)}.", field=name)
        if spec.type == FieldType.ENUMERATION and spec.options:
            allowed = {o.value for o in spec.options}
            wrong = [v for v in enum_values(value, spec.multi) if v not in allowed]
            if wrong:
                return ConnectorError(ErrorCategory.INVALID_PROPERTY_VALUE,
                                      f"{wrong[0]!r} is not an option of {label}.", field=name)
    if create:
        for spec in specs.values():
            if spec.required and not spec.read_only and is_empty(values.get(spec.name)):
                return ConnectorError(ErrorCategory.MISSING_REQUIRED_FIELD,
                                      f"{spec.label or spec.name} is required and the record has no value for it.",
                                      field=spec.name)
    return None


def display_name(kind: str, values: Mapping[str, Any], fields: Mapping[str, str]) -> str:
    """'Ann Lee (ann@example.com)', 'Acme (acme.com)', 'Big deal': how a person knows the record."""
    first, second, extra = NAME_KEYS.get(kind, ((), (), ()))

    def value(keys: Iterable[str]) -> str:
        found = next((values.get(fields[k]) for k in keys if fields.get(k) and values.get(fields[k])), "")
        return str(found).strip()

    name = " ".join(p for p in (value(first), value(second)) if p)
    more = value(extra)
    if name and more:
        return f"{name} ({more})"
    return name or more


# --- the apps, read but never written -------------------------------------------------------
class DryConnector:
    """A connector whose writes are recorded instead of sent (see the module's docstring)."""

    def __init__(self, inner: Connector, side: str) -> None:
        self.inner, self.side = inner, side
        self.specs: dict[str, FieldSpec] = {}
        self.name_fields: dict[str, str] = {}
        self.unique: list[str] = []  # unique fields to check before a create (see _held)
        self.kind = ""
        self.created: dict[str, Record] = {}  # fake id -> the record as written
        self.changed: dict[str, dict[str, Any]] = {}  # id -> values written
        self.touched: dict[str, int] = {}  # id -> its last write's number, in write order
        self.names: dict[str, str] = {}
        self.records: dict[str, Record] = {}  # as first read: re-reading what the run wrote costs nothing
        self.read_count = 0
        self.writes = 0
        self.calls_at_start = self.http_calls

    def __getattr__(self, name: str) -> Any:  # fields, default_fields, pipelines, batch_size ...
        value = getattr(self.inner, name)
        if not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            with self.blamed():
                return value(*args, **kwargs)

        return call

    @contextmanager
    def blamed(self) -> Iterator[None]:
        """An app's error leaves marked with the side it came from, for the failure's sentence."""
        try:
            yield
        except ConnectorError as exc:
            exc.side = getattr(exc, "side", self.side)
            raise

    @property
    def http_calls(self) -> int:
        return http_calls(self.inner)

    def close(self) -> None:
        self.inner.close()

    # --- reads, with the run's own writes laid over them --------------------------------
    def _seen(self, record: Record) -> Record:
        self.records.setdefault(record.id, record)
        if record.id in self.changed:
            record = copy.copy(record)
            record.values = {**record.values, **self.changed[record.id]}
        self.names[record.id] = display_name(self.kind, record.values, self.name_fields)
        return record

    def read_changes(self, object_type: str, cursor: Any = None) -> Iterator[Page]:
        """The app's pages, re-cut so that records the run would have written come last."""
        with self.blamed():
            yield from self._recut(object_type, cursor)

    def _recut(self, object_type: str, cursor: Any) -> Iterator[Page]:
        size, waiting, total = 0, [], None
        for page in self.inner.read_changes(object_type, cursor):
            self.read_count += len(page.records)
            total = page.estimated_total if total is None else total
            size = max(size, len(page.records))
            waiting += [r for r in page.records if r.id not in self.touched]
            while size and len(waiting) >= size:
                yield Page([self._seen(r) for r in waiting[:size]], None, total)
                waiting, total = waiting[size:], None
        # The app returns written records after all others, in write order, and again when
        # written again after being read (the run reads its own writes back as "no change").
        done, size = 0, max(size, 1)
        while True:
            fresh = [rid for rid, seq in self.touched.items() if seq > done][:size - min(len(waiting), size)]
            page, waiting = waiting[:size] + self._again(fresh), waiting[size:]
            if not page:
                return
            done = max([done] + [self.touched[rid] for rid in fresh])
            yield Page([self._seen(r) for r in page], None, total)
            total = None

    def _again(self, ids: Sequence[str]) -> list[Record]:
        """The records the run wrote, as the app would return them after the writes."""
        unknown = [rid for rid in ids if rid not in self.created and rid not in self.records]
        with self.blamed():
            fetched = self.inner.read(self.kind, unknown) if unknown else {}
        found = {**self.records, **fetched}
        return [copy.copy(self.created[rid]) if rid in self.created else found[rid] for rid in ids
                if rid in self.created or rid in found]

    def read(self, object_type: str, ids: Sequence[str]) -> dict[str, Record]:
        mine = {rid: copy.copy(self.created[rid]) for rid in ids if rid in self.created}
        theirs = [rid for rid in ids if rid not in self.created]
        with self.blamed():
            found = self.inner.read(object_type, theirs) if theirs else {}
        return {rid: self._seen(r) for rid, r in {**found, **mine}.items()}

    def find(self, object_type: str, field_name: str, values: Sequence[str]) -> dict[str, list[Record]]:
        wanted = {str(v).strip().casefold(): v for v in values}
        found: dict[str, list[Record]] = defaultdict(list)
        with self.blamed():
            answer = self.inner.find(object_type, field_name, values)
        for value, records in answer.items():
            for record in records:
                record = self._seen(record)
                if record.id not in self.changed or _key(record.values.get(field_name)) in wanted:
                    found[value].append(record)
        listed = {r.id for group in found.values() for r in group}
        more = [r for r in self.created.values() if _key(r.values.get(field_name)) in wanted]
        written = [rid for rid, v in self.changed.items() if _key(v.get(field_name)) in wanted and rid not in listed]
        more += self.read(object_type, written).values() if written else []
        for record in more:
            if record.id not in listed:
                listed.add(record.id)
                found[wanted[_key(record.values.get(field_name))]].append(self._seen(copy.copy(record)))
        return dict(found)

    # --- writes, recorded ----------------------------------------------------------------
    def add_options(self, object_type: str, field_name: str, options: Sequence[Option]) -> FieldSpec:
        """The "add the missing option" policy: the field as it would be with the options added,
        without asking the app (the run adds them; a preview only says it would)."""
        specs = self.specs or {s.name: s for s in self.inner.fields(object_type)}
        spec = specs[field_name]
        added = tuple(o for o in options if o.value not in {known.value for known in spec.options})
        spec = dataclasses.replace(spec, options=spec.options + added)
        if self.specs:  # the pre-flight check then knows the options too
            self.specs[field_name] = spec
        return spec

    def write(self, object_type: str, creates: Sequence[dict] = (), updates: Mapping[str, dict] | None = None
              ) -> list[WriteResult]:
        results = []
        held = self._held(object_type, creates)
        for index, values in enumerate(creates):
            error = preflight(self.specs, values, create=True) or self._duplicate(values, held)
            if error is not None:
                results.append(WriteResult(index, error=error))
                continue
            record_id = f"preview-{self.side}-{len(self.created) + 1}"
            self.created[record_id] = Record(record_id, {k: v for k, v in values.items() if not is_empty(v)})
            for name in held:
                held[name].add(_key(values.get(name)))
            self._touch(record_id)
            results.append(WriteResult(index, record_id))
        for record_id, values in (updates or {}).items():
            error = preflight(self.specs, values, create=False)
            if error is None:
                target = self.created[record_id].values if record_id in self.created else self.changed.setdefault(record_id, {})
                target.update(values)
                self._touch(record_id)
            results.append(WriteResult(record_id, None if error else record_id, error))
        return results

    def _held(self, object_type: str, creates: Sequence[dict]) -> dict[str, set[str]]:
        """Per unique field the engine did not look up (matching is off), the values of `creates`
        that records of the app hold already: the app refuses such a create as a duplicate."""
        held = {}
        for name in self.unique:
            wanted = sorted({str(v[name]).strip() for v in creates if not is_empty(v.get(name))})
            found = self.find(object_type, name, wanted) if wanted else {}
            held[name] = {_key(r.values.get(name)) for group in found.values() for r in group}
        return held

    def _duplicate(self, values: Mapping[str, Any], held: Mapping[str, set[str]]) -> ConnectorError | None:
        for name in held:
            if not is_empty(values.get(name)) and _key(values.get(name)) in held[name]:
                label = self.specs[name].label or name
                return ConnectorError(ErrorCategory.DUPLICATE_RECORD,
                                      f"A record with the {label} {values[name]} exists already.", field=name)
        return None

    def _touch(self, record_id: str) -> None:
        self.touched.pop(record_id, None)
        self.touched[record_id] = self.writes = self.writes + 1

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("A preview never writes to an app.")

    delete = write_associations = remove_associations = create_pipeline = _refuse


def _key(value: Any) -> str:
    return "" if value is None else str(value).strip().casefold()


# --- the engine's memory, kept in memory -----------------------------------------------------
def _clone(link: RecordLink) -> RecordLink:
    twin = copy.copy(link)
    twin.last_values = copy.deepcopy(link.last_values)
    twin.associations = copy.deepcopy(link.associations)
    return twin


class DryStore:
    """Stands in for engine.store: the database is read, never written; outcomes are tallied."""

    def __init__(self, tally: Any, on_progress: Progress | None = None) -> None:
        self.tally, self.on_progress = tally, on_progress
        self.links: dict[int, RecordLink] = {}  # pk -> link as this preview saved it (new links: pk < 0)
        self.index: dict[str, dict[str, int]] = {A: {}, B: {}}  # record id -> pk, per side
        self.gone: set[int] = set()  # database links this preview merged into others
        self.next_pk = -1

    def load_links(self, sync: ObjectSync, side: str, ids: Iterable[str]) -> dict[str, RecordLink]:
        ids = set(ids)
        found = {rid: link for rid, link in store.load_links(sync, side, ids).items()
                 if link.pk not in self.links and link.pk not in self.gone}
        found.update({rid: _clone(self.links[self.index[side][rid]]) for rid in ids if rid in self.index[side]})
        return found

    def due_links(self, sync: ObjectSync, now: Any, saved_since: Any, limit: int) -> list[RecordLink]:
        return [link for link in store.due_links(sync, now, saved_since, limit)
                if link.pk not in self.links and link.pk not in self.gone]

    def save_changes(self, sync: ObjectSync, run: SyncRun, changes: Sequence[LinkChange], now: Any) -> None:
        for change in changes:
            if change.absorb is not None and change.absorb.pk:
                self._forget(change.absorb.pk)
                self.gone.add(change.absorb.pk)
            link = change.link
            if not link.pk:  # like bulk_create, which gives the saved links their primary keys
                link.pk, self.next_pk = self.next_pk, self.next_pk - 1
            self._forget(link.pk)
            self.links[link.pk] = _clone(link)
            for side in (A, B):
                if link.id_on(side):
                    self.index[side][link.id_on(side)] = link.pk
            self.tally.add(change)
        store._count(run, changes)  # noqa: SLF001 - the run's own counting, so progress reads alike

    def _forget(self, pk: int) -> None:
        old = self.links.pop(pk, None)
        for side in (A, B):
            rid = getattr(old, f"id_{side}", None) if old is not None else None
            if rid and self.index[side].get(rid) == pk:
                del self.index[side][rid]

    def save_progress(self, sync: ObjectSync, run: SyncRun, side: str | None = None, cursor: Any = None) -> None:
        if self.on_progress is not None:
            self.on_progress(run.processed, run.estimated_total, run.http_calls)

    def save_names(self, links: Sequence[RecordLink]) -> None:
        """A preview never writes the database, not even the names a run would refresh."""

    def remove_links(self, *args: Any) -> None:
        raise RuntimeError("A preview runs without the engine's extensions.")

    save_extra_cursors = remove_links
