"""The dry-run preview of an object sync's initial run (the wizard's Review step, F2.9).

The preview runs the engine's own code (read -> filters -> match -> merge -> plan writes) with
two stand-ins, so every rule the run follows (conversions, value maps, conflict rules, stage
mappings, matching) is the preview's rule too:

- `DryConnector` wraps each app's connector: reads go to the app; writes go nowhere. A write
  is answered as the app would answer it for what the engine can know from the field specs
  (`preflight`: too long, no such option, a required field missing on a create), and is
  remembered, so later reads and lookups of the same run see the records the run would have
  created or changed, in the order the app would return them (changed records last).
- `DryStore` takes the place of `engine.store`: links and outcomes stay in memory (and are
  tallied into the preview's figures), the database is only read; no cursor moves.

Associations and deletions (the engine's extensions) are not previewed: they write as they go.
Validations an app makes beyond its field specs (an email's format, a unique value held by a
record the sync does not match with) show only in the real run.
"""

from __future__ import annotations

import copy
import time
from collections import Counter, defaultdict
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
    Page,
    Record,
    WriteResult,
)
from connectors.errors import ConnectorError, ErrorCategory
from syncrules.engine import store
from syncrules.engine.convert import enum_values, is_empty
from syncrules.engine.match import record_keys
from syncrules.engine.merge import A, B, other
from syncrules.engine.runner import Engine, NotSupported
from syncrules.engine.store import LinkChange
from syncrules.models import ObjectSync, RecordLink, RecordOutcome, SyncRun

Action = RecordOutcome.Action
Progress = Callable[[int, int | None, int], None]  # (records processed, estimated total, HTTP calls) per page
MATCH_SAMPLES = 20
FAILURE_SAMPLES = 5
# A display name per object type: default-field keys joined, then the extra shown in brackets.
NAME_KEYS = {
    CONTACTS: (("first_name", "first"), ("last_name", "last"), ("email",)),
    COMPANIES: (("name",), (), ("domain",)),
    DEALS: (("deal_name",), (), ()),
}
EXCLUSION_LABELS = {
    "no_email": "No (valid) email address",
    "filter": "Outside the sync's filters",
    "unmapped_stage": "In a pipeline or stage with no mapping",
    "one_way": "Not copied: the sync only writes to this app",
    "other": "Left out",
}


class PreviewFailed(Exception):
    """An app could not be read: the message is a sentence for the page (label and hint)."""


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


def exclusion_code(message: str) -> str:
    """The reason code of an exclusion outcome's message (the engine words them; see filters)."""
    if message.startswith(("No email address", "Invalid email address")):
        return "no_email"
    if message.startswith("Outside the sync's filter"):
        return "filter"
    if message.startswith("The deal is in"):
        return "unmapped_stage"
    if message.startswith("This sync only writes to"):
        return "one_way"
    return "other"


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
        self.kind = ""
        self.created: dict[str, Record] = {}  # fake id -> the record as written
        self.changed: dict[str, dict[str, Any]] = {}  # id -> values written
        self.touched: dict[str, None] = {}  # ids in write order: the app returns them last
        self.names: dict[str, str] = {}
        self.records: dict[str, Record] = {}  # as first read: re-reading what the run wrote costs nothing
        self.read_count = 0
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
        from syncrules.engine.helpers import http_calls

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
        tail = waiting + self._again(list(self.touched))
        for start in range(0, len(tail), max(size, 1)):
            yield Page([self._seen(r) for r in tail[start:start + max(size, 1)]], None, total)

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
    def write(self, object_type: str, creates: Sequence[dict] = (), updates: Mapping[str, dict] | None = None
              ) -> list[WriteResult]:
        results = []
        for index, values in enumerate(creates):
            error = preflight(self.specs, values, create=True)
            if error is not None:
                results.append(WriteResult(index, error=error))
                continue
            record_id = f"preview-{self.side}-{len(self.created) + 1}"
            self.created[record_id] = Record(record_id, {k: v for k, v in values.items() if not is_empty(v)})
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

    def _touch(self, record_id: str) -> None:
        self.touched.pop(record_id, None)
        self.touched[record_id] = None

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

    def __init__(self, tally: Tally, on_progress: Progress | None = None) -> None:
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
                if getattr(link, f"id_{side}"):
                    self.index[side][getattr(link, f"id_{side}")] = link.pk
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

    def remove_links(self, *args: Any) -> None:
        raise RuntimeError("A preview runs without the engine's extensions.")

    save_extra_cursors = remove_links


# --- the figures ---------------------------------------------------------------------------
class Tally:
    """The preview's figures, counted from the outcomes the engine records, as a run counts them."""

    def __init__(self, apps: Mapping[str, DryConnector], match_fields: Mapping[str, Mapping[str, str]]) -> None:
        self.apps, self.match_fields = apps, match_fields
        self.counts = {side: Counter() for side in (A, B)}
        self.excluded = {side: Counter() for side in (A, B)}
        self.failures: dict[str, dict[str, dict]] = {A: {}, B: {}}
        self.matched = 0
        self.match_samples: list[dict] = []

    def add(self, change: LinkChange) -> None:
        link, outcomes = change.link, change.outcomes
        for outcome in outcomes:
            if outcome.action in (Action.CREATED, Action.UPDATED) and outcome.side in (A, B):
                self.counts[outcome.side][outcome.action] += 1
            elif outcome.action == Action.MATCHED:
                self.matched += 1
                if len(self.match_samples) < MATCH_SAMPLES:
                    self.match_samples.append(self.match_sample(link))
            elif outcome.action == Action.EXCLUDED:
                self.excluded[A if link.id_a else B][exclusion_code(outcome.message)] += 1
            elif outcome.action == Action.FAILED and outcome.side in (A, B) and outcome.category is not None:
                self.failure(outcome.side, outcome.category, link, outcome.message)
        if any(o.action in (Action.MATCHED, Action.SKIPPED) for o in outcomes):
            for side in (A, B):
                written = any(o.side == side and o.action in (Action.CREATED, Action.UPDATED, Action.FAILED)
                              for o in outcomes)
                if getattr(link, f"id_{side}") and not written:
                    self.counts[side]["unchanged"] += 1

    def name(self, side: str, record_id: str | None) -> str:
        return self.apps[side].names.get(record_id or "", "")

    def match_sample(self, link: RecordLink) -> dict:
        records = {side: self.apps[side].records.get(getattr(link, f"id_{side}") or "") for side in (A, B)}
        keys = {side: record_keys(r.values, self.match_fields[side]) if r else {} for side, r in records.items()}
        shared = [f"{k} {v}" for k, v in keys[A].items() if keys[B].get(k) == v]
        return {"id_a": link.id_a or "", "name_a": self.name(A, link.id_a), "id_b": link.id_b or "",
                "name_b": self.name(B, link.id_b), "key": ", ".join(shared)}

    def failure(self, side: str, category: ErrorCategory, link: RecordLink, message: str) -> None:
        entry = self.failures[side].setdefault(category.code, {
            "category": category.code, "label": category.label, "hint": category.hint, "count": 0, "samples": [],
        })
        entry["count"] += 1
        if len(entry["samples"]) < FAILURE_SAMPLES:
            # The record the write came from (the other app's), else the one it was for.
            source = other(side) if getattr(link, f"id_{other(side)}") else side
            record_id = getattr(link, f"id_{source}") or ""
            entry["samples"].append({"id": record_id, "side": source, "name": self.name(source, record_id),
                                     "message": message})

    def side_result(self, side: str) -> dict:
        counts = self.counts[side]
        return {
            "read": self.apps[side].read_count if side in self.apps else 0,
            "create": counts[Action.CREATED], "update": counts[Action.UPDATED], "unchanged": counts["unchanged"],
            "excluded": dict(self.excluded[side]),
            "failures": sorted(self.failures[side].values(), key=lambda f: (-f["count"], f["category"])),
            "warnings": [],
        }


# --- the preview ---------------------------------------------------------------------------
def preview(
    sync: ObjectSync,
    connectors: Mapping[str, Connector] | None = None,
    on_progress: Progress | None = None,
) -> dict:
    """What `sync`'s initial run would do now, as PREVIEW_SHAPE's `result`; PreviewFailed when an
    app cannot be read. Nothing is written to either app or to the database."""
    started = time.monotonic()
    given = dict(connectors or {})
    # The initial run reads both apps from the start: so does the preview (in memory only).
    sync.cursor_a = sync.cursor_b = sync.initial_sync_done_at = None
    run = SyncRun(object_sync=sync, kind=SyncRun.Kind.INITIAL, trigger=SyncRun.Trigger.MANUAL)  # never saved
    apps: dict[str, DryConnector] = {}
    try:
        for side in (A, B):
            apps[side] = DryConnector(given.get(side) or _connector(sync, side), side)
        tally = Tally(apps, {})
        engine = Engine(sync, run, persistence=DryStore(tally, on_progress))
        blocked = _prepare(engine, apps)
        tally.match_fields = {side: context.match_fields for side, context in engine.sides.items()}
        if not blocked:
            with _blame(sync):
                engine.execute()
    finally:
        for side, app in apps.items():
            if side not in given:  # the caller's own connectors stay open
                app.close()
    return {
        A: tally.side_result(A), B: tally.side_result(B), "matched": tally.matched,
        "match_samples": tally.match_samples, "duration_seconds": round(time.monotonic() - started, 3),
        "http_calls": run.http_calls, "http_calls_by_side": {s: a.http_calls - a.calls_at_start for s, a in apps.items()},
        "processed": run.processed, "blocked": blocked, "problems": list(engine.problems),
    }


def _connector(sync: ObjectSync, side: str) -> Connector:
    try:
        return sync.connection(side).connector()
    except ConnectorError as exc:
        exc.side = side
        raise PreviewFailed(failure_sentence(exc, _app_name(sync, side))) from exc


def _app_name(sync: ObjectSync, side: str) -> str:
    return f"{sync.connection(side).name} (side {side.upper()})"


def _prepare(engine: Engine, apps: Mapping[str, DryConnector]) -> str:
    """Set the engine up on the dry apps; why the run would not start ('' when it would)."""
    try:
        with _blame(engine.sync):
            engine.prepare(dict(apps))
    except NotSupported as exc:
        if isinstance(exc.__cause__, ConnectorError):  # the pipelines could not be read
            raise PreviewFailed(f"{exc} {exc.__cause__.category.hint}") from exc
        return str(exc)  # e.g. Sync deals is off: the run creates nothing, and says why
    engine.extensions = []  # associations and deletions write as they go: not previewed
    for side, app in apps.items():
        app.kind, app.specs = engine.kind, engine.sides[side].specs
        app.name_fields = {d.key: d.field for d in app.inner.default_fields(engine.kind)}
    return ""


@contextmanager
def _blame(sync: ObjectSync) -> Iterator[None]:
    """An app's error as a sentence naming the app, the category and what to do."""
    try:
        yield
    except ConnectorError as exc:
        side = getattr(exc, "side", None)
        name = _app_name(sync, side) if side in (A, B) else "One of the apps"
        raise PreviewFailed(failure_sentence(exc, name)) from exc


def failure_sentence(exc: ConnectorError, name: str) -> str:
    message = exc.message.rstrip(".")
    return f"{name} could not be read. {exc.category.label}: {message}. {exc.category.hint}"


# --- comparing with a run --------------------------------------------------------------------
def comparable(result: Mapping) -> dict:
    """The figures of a preview's result that its initial run must reproduce (see run_figures)."""
    def side(s: str) -> dict:
        part = result[s]
        return {"create": part["create"], "update": part["update"], "excluded": dict(part["excluded"]),
                "failures": {f["category"]: f["count"] for f in part["failures"]}}

    return {A: side(A), B: side(B), "matched": result["matched"]}


def run_figures(run: SyncRun) -> dict:
    """A finished run's outcomes in the preview's terms: what `comparable(preview)` must equal."""
    figures = {s: {"create": 0, "update": 0, "excluded": Counter(), "failures": Counter()} for s in (A, B)}
    matched = 0
    rows = RecordOutcome.objects.filter(run=run).values_list("action", "side", "category", "message", "id_a")
    for action, side, category, message, id_a in rows:
        if action == Action.MATCHED:
            matched += 1
        elif action in (Action.CREATED, Action.UPDATED) and side in (A, B):
            figures[side]["create" if action == Action.CREATED else "update"] += 1
        elif action == Action.EXCLUDED:
            figures[A if id_a else B]["excluded"][exclusion_code(message)] += 1
        elif action == Action.FAILED and side in (A, B) and category:
            figures[side]["failures"][category] += 1
    for part in figures.values():
        part["excluded"], part["failures"] = dict(part["excluded"]), dict(part["failures"])
    return {**figures, "matched": matched}
