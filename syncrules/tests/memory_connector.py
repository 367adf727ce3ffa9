"""A faithful in-memory app speaking the connector contract, for engine tests (never registered).

It behaves like a real app where the engine could tell: its own ids, a modified time and a
change sequence bumped on every write (from a controllable clock), read_changes paged by a
cursor, batch limits with one counted "HTTP call" per batch or page, per-record validation
errors in the app's words (invalid email, value too long, unknown option, unique value taken,
record deleted), and injectable failures for anything else.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.base import (
    COMPANIES,
    CONTACTS,
    CheckResult,
    Connector,
    ConnectorError,
    DefaultField,
    DeletedPage,
    DeletedRecord,
    ErrorCategory,
    FieldSpec,
    FieldType,
    ObjectTypeInfo,
    Option,
    Page,
    Record,
    WriteResult,
)

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")


# Connection pk -> the app it reaches; tests patch Connection.connector to look here.
REGISTRY: dict[int, MemoryApp] = {}


class SimulatedCrash(Exception):
    """The worker died right after the app applied a write (the engine never saw the answer)."""


class Clock:
    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 1, 1, 9, 0, tzinfo=UTC)

    def tick(self, seconds: float = 1) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@dataclass
class Stored:
    values: dict[str, Any]
    modified_at: datetime
    seq: int


def contact_fields(prefix: str) -> list[FieldSpec]:
    """A contact schema: field names differ per app, like HubSpot's and Salesforce's do."""
    p = prefix
    return [
        FieldSpec(f"{p}email", "Email", FieldType.TEXT, unique=True, max_length=80),
        FieldSpec(f"{p}first", "First name", FieldType.TEXT, max_length=40),
        FieldSpec(f"{p}last", "Last name", FieldType.TEXT, max_length=40),
        FieldSpec(f"{p}score", "Score", FieldType.NUMBER),
        FieldSpec(f"{p}birthday", "Birthday", FieldType.DATE),
        FieldSpec(f"{p}vip", "VIP", FieldType.BOOL),
        FieldSpec(
            f"{p}stage", "Stage", FieldType.ENUMERATION,
            options=(Option(f"{p}lead", "Lead"), Option(f"{p}customer", "Customer")),
        ),
        FieldSpec(f"{p}updated", "Last modified", FieldType.DATETIME, read_only=True),
    ]


def company_fields(prefix: str) -> list[FieldSpec]:
    p = prefix
    return [
        FieldSpec(f"{p}name", "Name", FieldType.TEXT, max_length=80),
        FieldSpec(f"{p}domain", "Domain", FieldType.TEXT, max_length=80),
        FieldSpec(f"{p}city", "City", FieldType.TEXT, max_length=40),
        FieldSpec(f"{p}employees", "Employees", FieldType.NUMBER),
    ]


DEFAULT_KEYS = {
    CONTACTS: ["email", "first", "last", "score", "birthday", "vip", "stage"],
    COMPANIES: ["name", "domain", "city", "employees"],
}


class MemoryApp:
    """The state of one emulated app; `connector()` hands out contract instances for it."""

    def __init__(self, prefix: str, clock: Clock | None = None, *, page_size: int = 7, batch_size: int = 5):
        self.prefix = prefix
        self.clock = clock or Clock()
        self.page_size = page_size
        self.batch_size = batch_size
        self.schemas = {CONTACTS: contact_fields(prefix), COMPANIES: company_fields(prefix)}
        self.records: dict[str, dict[str, Stored]] = {CONTACTS: {}, COMPANIES: {}}
        self.deleted: dict[str, list[tuple[int, DeletedRecord]]] = {CONTACTS: [], COMPANIES: []}
        self._ids = itertools.count(1)
        self._seq = itertools.count(1)
        self.calls = 0
        self.written = 0  # records created or updated through the contract
        self.write_calls = 0  # write batches sent
        self.fail_when: Callable[[str, Mapping[str, Any]], ConnectorError | None] | None = None
        self.delete_before_write: set[str] = set()
        self.crash_after_writes: int | None = None
        self.fail_calls: list[ConnectorError] = []  # whole-call failures of any call, in order
        self.fail_write_calls: list[ConnectorError] = []  # whole-call failures of write batches

    # --- what people do in the app (not counted as API calls) ------------------------------
    def field(self, object_type: str, key: str) -> str:
        return f"{self.prefix}{key}"

    def create(self, object_type: str, **values: Any) -> str:
        record_id = f"{self.prefix}{next(self._ids)}"
        self._store(object_type, record_id, {self.field(object_type, k): v for k, v in values.items()})
        return record_id

    def edit(self, object_type: str, record_id: str, **values: Any) -> None:
        changes = {self.field(object_type, k): v for k, v in values.items()}
        self._store(object_type, record_id, {**self.records[object_type][record_id].values, **changes})

    def remove(self, object_type: str, record_id: str) -> None:
        self.records[object_type].pop(record_id, None)
        self.deleted[object_type].append((next(self._seq), DeletedRecord(record_id, self.clock.now)))

    def get(self, object_type: str, record_id: str, key: str) -> Any:
        return self.records[object_type][record_id].values.get(self.field(object_type, key))

    def all(self, object_type: str) -> dict[str, dict[str, Any]]:
        return {rid: dict(r.values) for rid, r in self.records[object_type].items()}

    def _store(self, object_type: str, record_id: str, values: dict[str, Any]) -> None:
        moment = self.clock.tick()
        values[self.field(object_type, "updated")] = moment if object_type == CONTACTS else None
        values = {k: v for k, v in values.items() if v is not None and v != ""}
        self.records[object_type][record_id] = Stored(values, moment, next(self._seq))

    def connector(self) -> MemoryConnector:
        return MemoryConnector(self)

    # --- the API -------------------------------------------------------------------------
    def call(self) -> None:
        self.calls += 1
        if self.fail_calls:
            raise self.fail_calls.pop(0)

    def validate(self, object_type: str, values: Mapping[str, Any], record_id: str | None) -> dict[str, Any]:
        """The values as the app would store them, or the app's error."""
        specs = {s.name: s for s in self.schemas[object_type]}
        stored = {}
        for name, value in values.items():
            spec = specs.get(name)
            if spec is None:
                raise ConnectorError(ErrorCategory.INVALID_PROPERTY_VALUE, f"Property {name} does not exist", field=name)
            if spec.read_only:
                raise ConnectorError(ErrorCategory.PERMISSION_DENIED, f"{name} is read-only", field=name)
            stored[name] = self._coerce(spec, value)
        email = self.field(object_type, "email")
        if object_type == CONTACTS and stored.get(email):
            for other_id, other in self.records[object_type].items():
                if other_id != record_id and str(other.values.get(email, "")).lower() == stored[email]:
                    raise ConnectorError(
                        ErrorCategory.DUPLICATE_RECORD, f"A contact with email {stored[email]} already exists",
                        vendor_code="CONTACT_EXISTS", field=email,
                    )
        if self.fail_when:
            error = self.fail_when(record_id or "", stored)
            if error:
                raise error
        return stored

    def _coerce(self, spec: FieldSpec, value: Any) -> Any:
        if value is None or value == "":
            return None
        if spec.type == FieldType.TEXT:
            text = str(value)
            if spec.name.endswith("email"):
                if not EMAIL_RE.match(text.strip()):
                    raise ConnectorError(ErrorCategory.INVALID_PROPERTY_VALUE, f"Email address {text} is invalid",
                                         vendor_code="INVALID_EMAIL", field=spec.name)
                text = text.strip().lower()  # like HubSpot, the app stores emails in lower case
            if spec.max_length and len(text) > spec.max_length:
                raise ConnectorError(ErrorCategory.VALUE_TOO_LONG, f"{spec.name}: data value too large",
                                     vendor_code="STRING_TOO_LONG", field=spec.name)
            return text
        if spec.type == FieldType.NUMBER:
            try:
                return Decimal(str(value)).quantize(Decimal("0.01"))  # read back as "10.50"
            except InvalidOperation:
                raise ConnectorError(ErrorCategory.TYPE_MISMATCH, f"{value!r} is not a number", field=spec.name)
        if spec.type == FieldType.BOOL:
            if not isinstance(value, bool):
                raise ConnectorError(ErrorCategory.TYPE_MISMATCH, f"{value!r} is not a boolean", field=spec.name)
            return value
        if spec.type == FieldType.DATE:
            if isinstance(value, datetime) or not isinstance(value, date):
                raise ConnectorError(ErrorCategory.TYPE_MISMATCH, f"{value!r} is not a date", field=spec.name)
            return value
        if spec.type == FieldType.ENUMERATION:
            if value not in {o.value for o in spec.options}:
                raise ConnectorError(ErrorCategory.INVALID_PROPERTY_VALUE,
                                     f"{value} was not one of the allowed options", vendor_code="INVALID_OPTION",
                                     field=spec.name)
            return value
        return value


class MemoryConnector(Connector):
    key = "memory"
    label = "Memory app"

    def __init__(self, app: MemoryApp) -> None:
        super().__init__("memory://", {})
        self.app = app
        self.batch_size = app.batch_size

    @property
    def http_calls(self) -> int:
        return self.app.calls

    def object_types(self) -> list[ObjectTypeInfo]:
        return [ObjectTypeInfo(CONTACTS, "contacts"), ObjectTypeInfo(COMPANIES, "companies")]

    def fields(self, object_type: str) -> list[FieldSpec]:
        self.app.call()
        return list(self.app.schemas[object_type])

    def default_fields(self, object_type: str) -> list[DefaultField]:
        return [DefaultField(k, self.app.field(object_type, k)) for k in DEFAULT_KEYS[object_type]]

    def check(self) -> CheckResult:
        return CheckResult(ok=True)

    def _record(self, record_id: str, stored: Stored) -> Record:
        return Record(record_id, dict(stored.values), stored.modified_at)

    def read_changes(self, object_type: str, cursor: Any = None) -> Iterator[Page]:
        after = int(cursor or 0)
        while True:
            self.app.call()
            changed = sorted(
                (r.seq, rid) for rid, r in self.app.records[object_type].items() if r.seq > after
            )
            if not changed:
                return
            page = changed[: self.app.page_size]
            store = self.app.records[object_type]
            after = page[-1][0]
            yield Page([self._record(rid, store[rid]) for _, rid in page], after, estimated_total=len(changed))

    def read(self, object_type: str, ids: Sequence[str]) -> dict[str, Record]:
        for _ in range(math.ceil(len(ids) / self.app.batch_size)):
            self.app.call()
        store = self.app.records[object_type]
        return {rid: self._record(rid, store[rid]) for rid in ids if rid in store}

    def find(self, object_type: str, field_name: str, values: Sequence[str]) -> dict[str, list[Record]]:
        for _ in range(math.ceil(len(values) / self.app.batch_size)):
            self.app.call()
        wanted = {str(v).strip().casefold(): v for v in values}
        found: dict[str, list[Record]] = {}
        for rid, stored in self.app.records[object_type].items():
            key = str(stored.values.get(field_name, "")).strip().casefold()
            if key in wanted:
                found.setdefault(wanted[key], []).append(self._record(rid, stored))
        return found

    def read_deleted(self, object_type: str, cursor: Any = None) -> Iterator[DeletedPage]:
        self.app.call()
        after = int(cursor or 0)
        rows = [(seq, d) for seq, d in self.app.deleted[object_type] if seq > after]
        if rows:
            yield DeletedPage([d for _, d in rows], rows[-1][0])

    def write(self, object_type: str, creates: Sequence[Mapping[str, Any]] = (),
              updates: Mapping[str, Mapping[str, Any]] | None = None) -> list[WriteResult]:
        items = [("create", i, v) for i, v in enumerate(creates)]
        items += [("update", rid, v) for rid, v in (updates or {}).items()]
        results = []
        for start in range(0, len(items), self.app.batch_size):
            self.app.call()
            self.app.write_calls += 1
            if self.app.fail_write_calls:
                raise self.app.fail_write_calls.pop(0)
            results += [self._write_one(object_type, *item) for item in items[start: start + self.app.batch_size]]
            if self.app.crash_after_writes is not None:
                self.app.crash_after_writes -= 1
                if self.app.crash_after_writes <= 0:
                    self.app.crash_after_writes = None
                    raise SimulatedCrash("worker killed after the app applied a write")
        return results

    def _write_one(self, object_type: str, kind: str, ref: Any, values: Mapping[str, Any]) -> WriteResult:
        store = self.app.records[object_type]
        if kind == "update" and ref in self.app.delete_before_write:
            self.app.remove(object_type, ref)
        if kind == "update" and ref not in store:
            return WriteResult(ref, error=ConnectorError(ErrorCategory.RECORD_DELETED, f"Object {ref} not found",
                                                         status=404))
        try:
            stored = self.app.validate(object_type, values, ref if kind == "update" else None)
        except ConnectorError as exc:
            return WriteResult(ref, error=exc)
        self.app.written += 1
        if kind == "create":
            record_id = f"{self.app.prefix}{next(self.app._ids)}"
            self.app._store(object_type, record_id, stored)
            return WriteResult(ref, record_id)
        merged = {**store[ref].values, **stored}
        self.app._store(object_type, ref, {k: v for k, v in merged.items() if v is not None})
        return WriteResult(ref, ref)


@dataclass
class Apps:
    """Two memory apps on one clock, as side A and side B of a sync."""

    clock: Clock = field(default_factory=Clock)
    a: MemoryApp = None  # type: ignore[assignment]
    b: MemoryApp = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.a = self.a or MemoryApp("ha_", self.clock)
        self.b = self.b or MemoryApp("sf_", self.clock)

    def attach(self, connection_a: Any, connection_b: Any) -> None:
        """Make these connections reach apps a and b (once Connection.connector is patched)."""
        REGISTRY[connection_a.pk] = self.a
        REGISTRY[connection_b.pk] = self.b

    @property
    def written(self) -> int:
        return self.a.written + self.b.written
