"""A faithful in-memory app speaking the connector contract, for engine tests (never registered).

It behaves like a real app where the engine could tell: its own ids, a modified time and a
change sequence bumped on every write (from a controllable clock), read_changes paged by a
cursor, batch limits with one counted "HTTP call" per batch or page, per-record validation
errors in the app's words (invalid email, value too long, unknown option, unique value taken,
record deleted, a deal stage outside the deal's pipeline), and injectable failures for anything
else. Deals live in pipelines; contacts, companies and deals are associated, primary company
first, and, as in HubSpot, changing an association does not touch either record (unless
`associations_touch_records`).
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
import sys
from array import array
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from connectors.base import (
    COMPANIES,
    CONTACTS,
    DEALS,
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
    Pipeline,
    Record,
    Stage,
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


class Stored(NamedTuple):
    """One record as the app shows it (app.records[type][id])."""

    values: dict[str, Any]
    modified_at: datetime
    seq: int


class Table(dict):
    """An object type's records, id -> Stored, each kept as a plain tuple of plain values.

    The cycle collector drops such tuples from its passes (it never drops a dict, an object or
    a named tuple): a bench holding a million records would otherwise have every full pass walk
    them, a cost no remote app puts on a run. They take half the memory, too.
    """

    def __setitem__(self, record_id: str, stored: Stored) -> None:
        values, modified_at, seq = stored
        super().__setitem__(record_id, (tuple(itertools.chain.from_iterable(values.items())), modified_at, seq))

    def __getitem__(self, record_id: str) -> Stored:
        return self._unpack(super().__getitem__(record_id))

    def get(self, record_id: str, default: Any = None) -> Any:
        row = super().get(record_id)
        return default if row is None else self._unpack(row)

    def pop(self, record_id: str, *default: Any) -> Any:
        if record_id not in self:
            if default:
                return default[0]
            raise KeyError(record_id)
        return self._unpack(super().pop(record_id))

    def items(self) -> Iterator[tuple[str, Stored]]:  # type: ignore[override]
        return ((rid, self._unpack(row)) for rid, row in super().items())

    def values(self) -> Iterator[Stored]:  # type: ignore[override]
        return (self._unpack(row) for row in super().values())

    def seq(self, record_id: str) -> int | None:
        """The record's change sequence (None: no such record), without unpacking its values."""
        row = super().get(record_id)
        return None if row is None else row[2]

    @staticmethod
    def _unpack(row: tuple) -> Stored:
        flat, modified_at, seq = row
        return Stored(dict(zip(flat[::2], flat[1::2], strict=True)), modified_at, seq)


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


def deal_fields(prefix: str, pipelines: Sequence[Pipeline], implicit_pipeline: bool) -> list[FieldSpec]:
    """A deal schema; an app with a single implicit pipeline (a Salesforce org without record
    types) has no pipeline field at all."""
    p = prefix
    stages = {s.id: Option(s.id, s.label) for pipeline in pipelines for s in pipeline.stages}
    specs = [
        FieldSpec(f"{p}deal_name", "Deal name", FieldType.TEXT, max_length=120),
        FieldSpec(f"{p}amount", "Amount", FieldType.NUMBER),
        FieldSpec(f"{p}close_date", "Close date", FieldType.DATE),
        FieldSpec(f"{p}pipeline", "Pipeline", FieldType.ENUMERATION,
                  options=tuple(Option(x.id, x.label) for x in pipelines)),
        FieldSpec(f"{p}stage", "Stage", FieldType.ENUMERATION, required=True, options=tuple(stages.values())),
        FieldSpec(f"{p}updated", "Last modified", FieldType.DATETIME, read_only=True),
    ]
    return [s for s in specs if not (implicit_pipeline and s.name == f"{p}pipeline")]


def make_pipeline(pipeline_id: str, label: str, *stages: tuple[str, str]) -> Pipeline:
    """A pipeline of (id, label) stages whose last two are closed: won, then lost."""
    n = len(stages)
    return Pipeline(pipeline_id, label, tuple(
        Stage(sid, slabel, i, closed=i >= n - 2, won=i == n - 2) for i, (sid, slabel) in enumerate(stages)
    ))


HUBSPOT_PIPELINE = make_pipeline(
    "default", "Sales Pipeline",
    ("appointmentscheduled", "Appointment scheduled"), ("qualifiedtobuy", "Qualified to buy"),
    ("presentationscheduled", "Presentation scheduled"),
    ("decisionmakerboughtin", "Decision maker bought-in"), ("contractsent", "Contract sent"), ("closedwon", "Closed won"), ("closedlost", "Closed lost"),
)
SALESFORCE_PIPELINE = make_pipeline("master", "Standard pipeline", *((s, s) for s in (
    "Prospecting", "Qualification", "Needs Analysis", "Value Proposition", "Id. Decision Makers",
    "Perception Analysis", "Proposal/Price Quote", "Negotiation/Review", "Closed Won", "Closed Lost",
)))
RENEWALS_PIPELINE = make_pipeline(
    "renewals", "Renewals",
    ("renewal_due", "Renewal due"), ("renewal_quoted", "Quoted"),
    ("renewal_won", "Renewed"), ("renewal_lost", "Churned"),
)
TWO_PIPELINES = (HUBSPOT_PIPELINE, RENEWALS_PIPELINE)

DEFAULT_KEYS = {
    CONTACTS: ["email", "first", "last", "score", "birthday", "vip", "stage"],
    COMPANIES: ["name", "domain", "city", "employees"],
    DEALS: ["deal_name", "amount", "close_date", "pipeline", "stage"],
}
# The canonical DefaultField keys of fields whose short names differ (as HubSpot's and Salesforce's do).
CANONICAL_KEYS = {"first": "first_name", "last": "last_name"}
OBJECT_TYPES = (CONTACTS, COMPANIES, DEALS)
# Which associations the app keeps (each pair with its inverse), and which a read fills in.
ASSOCIATED = {CONTACTS: (COMPANIES, DEALS), COMPANIES: (CONTACTS, DEALS), DEALS: (CONTACTS, COMPANIES)}
READ_WITH = {CONTACTS: (COMPANIES,), DEALS: (CONTACTS, COMPANIES)}


def fold(value: Any) -> str:
    """A value as lookups compare it: text, trimmed, case folded."""
    return str(value).strip().casefold()


def _index_add(index: dict[str, tuple[str, ...]], key: str, record_id: str) -> None:
    ids = index.get(key, ())
    if record_id not in ids:
        index[key] = (*ids, record_id)


class MemoryApp:
    """The state of one emulated app; `connector()` hands out contract instances for it.

    Options: `pipelines` (default: HubSpot's sales pipeline), `implicit_pipeline` (one pipeline
    and no pipeline field), `pipeline_limit` (create_pipeline refuses past it), `mirror_pipelines`
    (mirrored_pipeline_label answers like Salesforce), `propagate_deal_deletions`, `deal_switch`,
    `single_company` (a contact or deal has at most one company, like a Salesforce lookup),
    `associations_touch_records` and `association_feed` (association_changes answers).
    """

    def __init__(
        self, prefix: str, clock: Clock | None = None, *, page_size: int = 7, batch_size: int = 5,
        pipelines: Sequence[Pipeline] = (HUBSPOT_PIPELINE,), implicit_pipeline: bool = False,
        pipeline_limit: int | None = None, mirror_pipelines: bool = False,
        propagate_deal_deletions: bool = False, deal_switch: bool = False, single_company: bool = False,
        associations_touch_records: bool = False, association_feed: bool = False,
    ):
        if implicit_pipeline and len(pipelines) != 1:
            raise ValueError("an app with an implicit pipeline has exactly one")
        self.prefix = prefix
        self.clock = clock or Clock()
        self.page_size = page_size
        self.batch_size = batch_size
        self.pipelines = list(pipelines)
        self.implicit_pipeline = implicit_pipeline
        self.pipeline_limit = pipeline_limit
        self.mirror_pipelines = mirror_pipelines
        self.propagate_deal_deletions = propagate_deal_deletions
        self.deal_switch = deal_switch
        self.single_company = single_company
        self.associations_touch_records = associations_touch_records
        self.association_feed = association_feed
        self.schemas = {
            CONTACTS: contact_fields(prefix), COMPANIES: company_fields(prefix),
            DEALS: deal_fields(prefix, self.pipelines, implicit_pipeline),
        }
        self.records: dict[str, Table] = {t: Table() for t in OBJECT_TYPES}
        # Indexes, so that reads and lookups cost what they would in a real app (not a scan of
        # every record per call): each type's seqs and ids in the order written (an entry whose
        # seq is no longer the record's is stale and skipped; seqs in an array, ids shared with
        # the records: 16 bytes an entry), and field values folded for lookups ((type, field) ->
        # folded value -> ids; built on a field's first lookup, kept up to date).
        self._log: dict[str, tuple[array, list[str]]] = {t: (array("q"), []) for t in OBJECT_TYPES}
        self._index: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {}
        self.deleted: dict[str, list[tuple[int, DeletedRecord]]] = {t: [] for t in OBJECT_TYPES}
        self.merged: dict[str, dict[str, list[str]]] = {t: {} for t in OBJECT_TYPES}  # survivor -> merged ids
        # (from type, from id, to type) -> associated ids, primary first; kept for both directions.
        self.links: dict[tuple[str, str, str], list[str]] = {}
        self.association_log: list[tuple[int, str, str, str]] = []  # (seq, from type, from id, to type)
        self._ids = itertools.count(1)
        self.seq = 0  # the app's change sequence: the last value handed out
        self.calls = 0
        self.calls_by_method: Counter[str] = Counter()
        self.written = 0  # records created or updated through the contract
        self.write_calls = 0  # write batches sent
        self.fail_when: Callable[[str, Mapping[str, Any]], ConnectorError | None] | None = None
        # (from type, from id, to type, to id) -> the app's error for that association, if any
        self.fail_association_when: Callable[[str, str, str, str], ConnectorError | None] | None = None
        self.delete_before_write: set[str] = set()
        self.crash_after_writes: int | None = None
        self.fail_calls: list[ConnectorError] = []  # whole-call failures of any call, in order
        self.fail_write_calls: list[ConnectorError] = []  # whole-call failures of write batches

    # --- what people do in the app (not counted as API calls) ------------------------------
    def field(self, object_type: str, key: str) -> str:
        return sys.intern(f"{self.prefix}{key}")  # one string per field name, not one per record

    def create(self, object_type: str, **values: Any) -> str:
        """A record as a person creates it (no validation); a deal lands in the default pipeline."""
        record_id = f"{self.prefix}{next(self._ids)}"
        stored = {self.field(object_type, k): v for k, v in values.items()}
        if object_type == DEALS and not self.implicit_pipeline:
            stored.setdefault(self.field(DEALS, "pipeline"), self.pipelines[0].id)
        self._store(object_type, record_id, stored)
        return record_id

    def edit(self, object_type: str, record_id: str, **values: Any) -> None:
        changes = {self.field(object_type, k): v for k, v in values.items()}
        self._store(object_type, record_id, {**self.records[object_type][record_id].values, **changes})

    def merge(self, object_type: str, ids: Sequence[str], *, new_id: bool = False) -> str:
        """Merge records as HubSpot does: the first one's values survive, under a new id when
        `new_id` (then every old id resolves to it); the survivor lists the ids merged into it."""
        store = self.records[object_type]
        values = dict(store[ids[0]].values)
        survivor = f"{self.prefix}{next(self._ids)}" if new_id else ids[0]
        for rid in ids:
            if rid != survivor:
                store.pop(rid, None)
        self.merged[object_type][survivor] = [rid for rid in ids if rid != survivor]
        self._store(object_type, survivor, values)
        return survivor

    def remove(self, object_type: str, record_id: str) -> None:
        """Delete a record: it shows in read_deleted and loses its associations on both ends."""
        gone = self.records[object_type].pop(record_id, None)
        if gone is None:
            return
        self._unindex(object_type, record_id, gone.values)
        self.deleted[object_type].append((self._next_seq(), DeletedRecord(record_id, self.clock.now)))
        for to_type in ASSOCIATED[object_type]:
            for other in self.links.pop((object_type, record_id, to_type), []):
                self._drop(to_type, other, object_type, record_id)

    def get(self, object_type: str, record_id: str, key: str) -> Any:
        return self.records[object_type][record_id].values.get(self.field(object_type, key))

    def all(self, object_type: str) -> dict[str, dict[str, Any]]:
        return {rid: dict(r.values) for rid, r in self.records[object_type].items()}

    def associate(
        self, from_type: str, from_id: str, to_type: str, to_id: str, primary: bool = False
    ) -> bool:
        """Associate two existing records (`primary`: to_id becomes the first of from_id's);
        True if anything changed."""
        for object_type, record_id in ((from_type, from_id), (to_type, to_id)):
            if record_id not in self.records[object_type]:
                raise KeyError(f"no {object_type} record {record_id}")
        if to_type not in ASSOCIATED[from_type]:
            raise ValueError(f"{from_type} cannot be associated with {to_type}")
        changed = False
        if self.single_company and COMPANIES in (from_type, to_type):
            owner_type, owner_id, company = (
                (from_type, from_id, to_id) if to_type == COMPANIES else (to_type, to_id, from_id)
            )
            for old in [c for c in self.associations(owner_type, owner_id, COMPANIES) if c != company]:
                changed |= self.dissociate(owner_type, owner_id, COMPANIES, old)
        changed |= self._add(from_type, from_id, to_type, to_id, primary)
        return self._add(to_type, to_id, from_type, from_id, False) or changed

    def dissociate(self, from_type: str, from_id: str, to_type: str, to_id: str) -> bool:
        """Remove an association from both ends; True if it existed."""
        return self._drop(from_type, from_id, to_type, to_id) | self._drop(to_type, to_id, from_type, from_id)

    def associations(self, from_type: str, from_id: str, to_type: str) -> list[str]:
        return list(self.links.get((from_type, from_id, to_type), []))

    def add_pipeline(self, label: str, stages: Sequence[Stage]) -> Pipeline:
        """A new deal pipeline with new ids for it and its stages (labels and flags kept)."""
        pipeline_id = f"{self.prefix}pipeline{next(self._ids)}"
        pipeline = Pipeline(pipeline_id, label, tuple(
            Stage(f"{pipeline_id}_stage{i}", s.label, i, s.closed, s.won) for i, s in enumerate(stages)
        ))
        self.pipelines.append(pipeline)
        self.schemas[DEALS] = deal_fields(self.prefix, self.pipelines, self.implicit_pipeline)
        return pipeline

    def _add(self, from_type: str, from_id: str, to_type: str, to_id: str, primary: bool) -> bool:
        ids = self.links.setdefault((from_type, from_id, to_type), [])
        if (ids[:1] == [to_id]) if primary else (to_id in ids):
            return False
        if to_id in ids:
            ids.remove(to_id)
        ids.insert(0 if primary else len(ids), to_id)
        self._association_changed(from_type, from_id, to_type)
        return True

    def _drop(self, from_type: str, from_id: str, to_type: str, to_id: str) -> bool:
        ids = self.links.get((from_type, from_id, to_type), [])
        if to_id not in ids:
            return False
        ids.remove(to_id)
        self._association_changed(from_type, from_id, to_type)
        return True

    def _association_changed(self, object_type: str, record_id: str, to_type: str) -> None:
        self.association_log.append((self._next_seq(), object_type, record_id, to_type))
        if self.associations_touch_records and record_id in self.records[object_type]:
            self._store(object_type, record_id, dict(self.records[object_type][record_id].values))

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def _store(self, object_type: str, record_id: str, values: dict[str, Any]) -> None:
        moment = self.clock.tick()
        values[self.field(object_type, "updated")] = moment if object_type in (CONTACTS, DEALS) else None
        values = {k: v for k, v in values.items() if v is not None and v != ""}
        before = self.records[object_type].get(record_id)
        if before is not None:
            self._unindex(object_type, record_id, before.values)
        stored = self.records[object_type][record_id] = Stored(values, moment, self._next_seq())
        seqs, ids = self._log[object_type]
        seqs.append(stored.seq)
        ids.append(record_id)
        for (kind, name), index in self._index.items():
            if kind == object_type and name in values:
                _index_add(index, fold(values[name]), record_id)

    def _unindex(self, object_type: str, record_id: str, values: Mapping[str, Any]) -> None:
        for (kind, name), index in self._index.items():
            if kind == object_type and name in values:
                key = fold(values[name])
                if record_id in index.get(key, ()):
                    index[key] = tuple(rid for rid in index[key] if rid != record_id)

    def lookup(self, object_type: str, field_name: str, value: Any) -> list[str]:
        """Ids of the records whose `field_name` folds to `value`'s folding (indexed)."""
        key = (object_type, field_name)
        if key not in self._index:
            index: dict[str, tuple[str, ...]] = {}
            for rid, stored in self.records[object_type].items():
                if field_name in stored.values:
                    _index_add(index, fold(stored.values[field_name]), rid)
            self._index[key] = index
        return sorted(self._index[key].get(fold(value), ()), key=lambda rid: (len(rid), rid))  # creation order

    def changed_since(self, object_type: str, after: int, limit: int) -> tuple[list[tuple[int, str]], int]:
        """Up to `limit` (seq, id) of records changed after `after`, oldest first, and an
        estimate of how many there are (stale entries of the write log included)."""
        (seqs, ids), store = self._log[object_type], self.records[object_type]
        start = bisect.bisect_right(seqs, after)
        page = []
        for index in range(start, len(seqs)):  # by index: islice would walk the log from its start
            seq, rid = seqs[index], ids[index]
            if store.seq(rid) == seq:
                page.append((seq, rid))
                if len(page) == limit:
                    break
        return page, len(seqs) - start

    def footprint(self, object_type: str) -> int:
        """Bytes the type's records take in this process (sys.getsizeof of their rows, ids,
        values, change log and lookup indexes; field names and small values are shared)."""
        table = self.records[object_type]
        total = sys.getsizeof(table) + sum(sys.getsizeof(part) for part in self._log[object_type])
        for record_id, (flat, moment, _) in dict.items(table):
            total += sys.getsizeof(record_id) + sys.getsizeof(flat) + sys.getsizeof(moment) + 64  # the row's tuple
            total += sum(sys.getsizeof(v) for v in flat[1::2] if isinstance(v, str | Decimal))
        for (kind, _), index in self._index.items():
            if kind == object_type:
                total += sys.getsizeof(index) + sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in index.items())
        return total

    def connector(self) -> MemoryConnector:
        return MemoryConnector(self)

    # --- the API -------------------------------------------------------------------------
    def call(self, method: str = "") -> None:
        self.calls += 1
        self.calls_by_method[method] += 1
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
            for other_id in self.lookup(object_type, email, stored[email]):
                other = self.records[object_type][other_id]
                if other_id != record_id and str(other.values.get(email, "")).lower() == stored[email]:
                    raise ConnectorError(
                        ErrorCategory.DUPLICATE_RECORD, f"A contact with email {stored[email]} already exists",
                        vendor_code="CONTACT_EXISTS", field=email,
                    )
        if object_type == DEALS:
            self._check_deal(stored, record_id)
        if self.fail_when:
            error = self.fail_when(record_id or "", stored)
            if error:
                raise error
        return stored

    def _check_deal(self, stored: dict[str, Any], record_id: str | None) -> None:
        """A deal needs a stage, and its stage must belong to its pipeline (HubSpot's rule)."""
        pipeline_f, stage_f = self.field(DEALS, "pipeline"), self.field(DEALS, "stage")
        if record_id and pipeline_f not in stored and stage_f not in stored:
            return
        if not record_id and not self.implicit_pipeline and not stored.get(pipeline_f):
            stored[pipeline_f] = self.pipelines[0].id  # like HubSpot: the default pipeline
        merged = {**(self.records[DEALS][record_id].values if record_id else {}), **stored}
        for name in (stage_f,) if self.implicit_pipeline else (pipeline_f, stage_f):
            if not merged.get(name):
                raise ConnectorError(ErrorCategory.MISSING_REQUIRED_FIELD, f"Required property {name} is missing",
                                     vendor_code="REQUIRED_FIELD_MISSING", field=name)
        pipeline_id = self.pipelines[0].id if self.implicit_pipeline else merged[pipeline_f]
        stages = next(([s.id for s in p.stages] for p in self.pipelines if p.id == pipeline_id), [])
        if merged[stage_f] not in stages:
            raise ConnectorError(ErrorCategory.INVALID_PROPERTY_VALUE,
                                 f"{merged[stage_f]} is not a valid stage of pipeline {pipeline_id}",
                                 vendor_code="INVALID_DEAL_STAGE", field=stage_f)

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

    def association_error(
        self, from_type: str, from_id: str, to_type: str, to_id: str
    ) -> ConnectorError | None:
        """Why the app refuses to associate (or dissociate) these two records, if it does."""
        if to_type not in ASSOCIATED.get(from_type, ()):
            return ConnectorError(ErrorCategory.ASSOCIATION_FAILED,
                                  f"No association type exists between {from_type} and {to_type}",
                                  vendor_code="INVALID_ASSOCIATION_TYPE")
        if from_id not in self.records[from_type]:
            return ConnectorError(ErrorCategory.RECORD_DELETED, f"{from_type} {from_id} not found", status=404)
        if to_id not in self.records[to_type]:
            return ConnectorError(ErrorCategory.ASSOCIATION_FAILED,
                                  f"Cannot associate with {to_type} {to_id}: it does not exist",
                                  vendor_code="OBJECT_NOT_FOUND", status=404)
        if self.fail_association_when:
            return self.fail_association_when(from_type, from_id, to_type, to_id)
        return None


class MemoryConnector(Connector):
    key = "memory"
    label = "Memory app"

    def __init__(self, app: MemoryApp) -> None:
        super().__init__("memory://", {})
        self.app = app
        self.batch_size = app.batch_size
        self.deal_switch = app.deal_switch

    @property
    def http_calls(self) -> int:
        return self.app.calls

    def _calls(self, method: str, count: int) -> None:
        """One counted call per batch of `count` items."""
        for _ in range(math.ceil(count / self.app.batch_size)):
            self.app.call(method)

    def object_types(self) -> list[ObjectTypeInfo]:
        return [ObjectTypeInfo(t, t) for t in OBJECT_TYPES]

    def fields(self, object_type: str) -> list[FieldSpec]:
        self.app.call("fields")
        return list(self.app.schemas[object_type])

    def default_fields(self, object_type: str) -> list[DefaultField]:
        return [DefaultField(CANONICAL_KEYS.get(k, k), self.app.field(object_type, k)) for k in DEFAULT_KEYS[object_type]]

    def pipelines(self, object_type: str) -> list[Pipeline]:
        self.app.call("pipelines")
        return list(self.app.pipelines) if object_type == DEALS else []

    def check(self) -> CheckResult:
        return CheckResult(ok=True)

    def propagates_deletions(self, object_type: str) -> bool:
        return object_type == DEALS and self.app.propagate_deal_deletions

    def mirrored_pipeline_label(self, pipeline: Pipeline, pipelines: Sequence[Pipeline]) -> str | None:
        if not self.app.mirror_pipelines:
            return None
        return "Memory - Standard pipeline" if len(pipelines) == 1 else f"Memory - {pipeline.id}"

    def create_pipeline(self, object_type: str, label: str, stages: Sequence[Stage]) -> Pipeline:
        self.app.call("create_pipeline")
        if object_type != DEALS:
            raise ConnectorError(ErrorCategory.INVALID_PROPERTY_VALUE, f"{object_type} have no pipelines",
                                 status=400)
        if self.app.implicit_pipeline:
            raise ConnectorError(ErrorCategory.PERMISSION_DENIED,
                                 "This account has a single deal pipeline; pipelines cannot be added", status=403)
        limit = self.app.pipeline_limit
        if limit is not None and len(self.app.pipelines) >= limit:
            raise ConnectorError(ErrorCategory.PERMISSION_DENIED,
                                 f"Pipeline limit reached: this account's plan allows {limit} deal pipelines",
                                 vendor_code="PIPELINE_LIMIT_EXCEEDED", status=400)
        return self.app.add_pipeline(label, stages)

    def _record(self, object_type: str, record_id: str, stored: Stored) -> Record:
        linked = READ_WITH.get(object_type, ())
        associations = {t: self.app.associations(object_type, record_id, t) for t in linked}
        merged = list(self.app.merged[object_type].get(record_id, []))
        return Record(record_id, dict(stored.values), stored.modified_at, associations, merged_ids=merged)

    def read_changes(self, object_type: str, cursor: Any = None) -> Iterator[Page]:
        after = int(cursor or 0)
        while True:
            self.app.call("read_changes")
            page, remaining = self.app.changed_since(object_type, after, self.app.page_size)
            if not page:
                return
            store = self.app.records[object_type]
            after = page[-1][0]
            yield Page([self._record(object_type, rid, store[rid]) for _, rid in page], after,
                       estimated_total=remaining)

    def read(self, object_type: str, ids: Sequence[str]) -> dict[str, Record]:
        self._calls("read", len(ids))
        store = self.app.records[object_type]
        return {rid: self._record(object_type, rid, store[rid]) for rid in ids if rid in store}

    def find(self, object_type: str, field_name: str, values: Sequence[str]) -> dict[str, list[Record]]:
        self._calls("find", len(values))
        wanted = {fold(v): v for v in values}
        found: dict[str, list[Record]] = {}
        store = self.app.records[object_type]
        for key, value in wanted.items():
            for rid in self.app.lookup(object_type, field_name, key):
                found.setdefault(value, []).append(self._record(object_type, rid, store[rid]))
        return found

    def read_deleted(self, object_type: str, cursor: Any = None) -> Iterator[DeletedPage]:
        """Records deleted since `cursor` (through the app or `delete`), a page per call."""
        after = int(cursor or 0)
        rows = [(seq, d) for seq, d in self.app.deleted[object_type] if seq > after]
        for start in range(0, max(len(rows), 1), self.app.page_size):
            self.app.call("read_deleted")
            page = rows[start: start + self.app.page_size]
            if page:
                yield DeletedPage([d for _, d in page], page[-1][0])

    def read_associations(self, object_type: str, ids: Sequence[str], to_type: str) -> dict[str, list[str]]:
        if to_type not in ASSOCIATED.get(object_type, ()):
            raise ConnectorError(ErrorCategory.ASSOCIATION_FAILED,
                                 f"No association type exists between {object_type} and {to_type}")
        self._calls("read_associations", len(ids))
        return {rid: self.app.associations(object_type, rid, to_type) for rid in ids}

    def association_changes(
        self, object_type: str, to_type: str, cursor: Any = None
    ) -> tuple[list[str], Any] | None:
        if not self.app.association_feed:
            return None
        self.app.call("association_changes")
        if cursor is None:
            return [], self.app.seq
        changed = (rid for seq, t, rid, to in self.app.association_log
                   if seq > int(cursor) and t == object_type and to == to_type)
        return [rid for rid in dict.fromkeys(changed) if rid in self.app.records[object_type]], self.app.seq

    def write(self, object_type: str, creates: Sequence[Mapping[str, Any]] = (),
              updates: Mapping[str, Mapping[str, Any]] | None = None) -> list[WriteResult]:
        items = [("create", i, v) for i, v in enumerate(creates)]
        items += [("update", rid, v) for rid, v in (updates or {}).items()]
        results = []
        for start in range(0, len(items), self.app.batch_size):
            self.app.call("write")
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

    def delete(self, object_type: str, ids: Sequence[str]) -> list[WriteResult]:
        """Delete records in batches; an id already gone counts as deleted (the goal is reached)."""
        self._calls("delete", len(ids))
        for record_id in ids:
            self.app.remove(object_type, record_id)
        return [WriteResult(record_id, record_id) for record_id in ids]

    def write_associations(
        self, object_type: str, to_type: str, pairs: Sequence[tuple[str, str]]
    ) -> list[WriteResult]:
        """Associate pairs in batches; a company becomes the primary one of its contact or deal."""
        return self._each_pair("write_associations", object_type, to_type, pairs, self._associate_one)

    def remove_associations(
        self, object_type: str, to_type: str, pairs: Sequence[tuple[str, str]]
    ) -> list[WriteResult]:
        return self._each_pair("remove_associations", object_type, to_type, pairs, self.app.dissociate)

    def _associate_one(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        if from_type == COMPANIES:  # the company is primary on its contact's or deal's side
            from_type, from_id, to_type, to_id = to_type, to_id, from_type, from_id
        self.app.associate(from_type, from_id, to_type, to_id, primary=to_type == COMPANIES)

    def _each_pair(self, method: str, object_type: str, to_type: str, pairs: Sequence[tuple[str, str]],
                   apply: Callable[[str, str, str, str], Any]) -> list[WriteResult]:
        self._calls(method, len(pairs))
        results = []
        for from_id, to_id in pairs:
            error = self.app.association_error(object_type, from_id, to_type, to_id)
            if error is None:
                apply(object_type, from_id, to_type, to_id)
            results.append(WriteResult((from_id, to_id), error=error))
        return results


@dataclass
class Apps:
    """Two memory apps on one clock, as side A and side B of a sync: A HubSpot-like (one explicit
    pipeline), B Salesforce-like (a single implicit pipeline, no pipeline field)."""

    clock: Clock = field(default_factory=Clock)
    a: MemoryApp = None  # type: ignore[assignment]
    b: MemoryApp = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.a = self.a or MemoryApp("ha_", self.clock)
        self.b = self.b or MemoryApp(
            "sf_", self.clock, pipelines=(SALESFORCE_PIPELINE,), implicit_pipeline=True
        )

    def attach(self, connection_a: Any, connection_b: Any) -> None:
        """Make these connections reach apps a and b (once Connection.connector is patched)."""
        REGISTRY[connection_a.pk] = self.a
        REGISTRY[connection_b.pk] = self.b

    @property
    def written(self) -> int:
        return self.a.written + self.b.written
