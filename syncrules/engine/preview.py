"""The dry-run preview of an object sync's initial run (the wizard's Review step, F2.9).

The preview runs the engine's own code (read -> filters -> match -> merge -> plan writes) with
two stand-ins (engine.dryrun): each app's connector wrapped so that writes are recorded, never
sent, and the engine's store replaced by one that keeps links in memory. Every rule the run
follows (conversions, value maps, conflict rules, stage mappings, matching, batching) is so the
preview's rule too, and its figures are counted from the outcomes the engine records.

Associations and deletions (the engine's extensions) are not previewed: they write as they go.
Validations an app makes beyond its field specs (an email's format, a unique value held by a
record the sync does not match with) show only in the real run.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from connectors.base import Connector, FieldType
from connectors.errors import ConnectorError, ErrorCategory
from syncrules.engine.dryrun import DryConnector, DryStore, Progress
from syncrules.engine.match import record_keys
from syncrules.engine.merge import A, B, other
from syncrules.engine.runner import Engine, NotSupported
from syncrules.engine.store import LinkChange
from syncrules.models import ObjectSync, RecordLink, RecordOutcome, Side, SyncRun

Action = RecordOutcome.Action
MATCH_SAMPLES = 20
FAILURE_SAMPLES = 5
EXCLUSION_LABELS = {
    "no_email": "No (valid) email address",
    "filter": "Outside the sync's filters",
    "unmapped_stage": "In a pipeline or stage with no mapping",
    "one_way": "Not copied: the sync only writes to this app",
    "other": "Left out",
}


class PreviewFailed(Exception):
    """An app could not be read: the message is a sentence for the page (label and hint)."""


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


# --- the figures ---------------------------------------------------------------------------
class Tally:
    """The preview's figures, counted from the outcomes the engine records, as a run counts them."""

    def __init__(self, apps: Mapping[str, DryConnector], match_fields: Mapping[str, Mapping[str, str]]) -> None:
        self.apps, self.match_fields = apps, match_fields
        self.counts = {side: Counter() for side in (A, B)}
        self.excluded = {side: Counter() for side in (A, B)}
        self.failures: dict[str, dict[str, dict]] = {A: {}, B: {}}
        self.warnings: dict[str, dict[tuple[str, str], dict]] = {A: {}, B: {}}
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
            for item in outcome.warnings:
                self.warning(item, link)
        if any(o.action in (Action.MATCHED, Action.SKIPPED) for o in outcomes):
            for side in (A, B):
                written = any(o.side == side and o.action in (Action.CREATED, Action.UPDATED, Action.FAILED)
                              for o in outcomes)
                if link.id_on(side) and not written:
                    self.counts[side]["unchanged"] += 1

    def name(self, side: str, record_id: str | None) -> str:
        return self.apps[side].names.get(record_id or "", "")

    def match_sample(self, link: RecordLink) -> dict:
        records = {side: self.apps[side].records.get(link.id_on(side) or "") for side in (A, B)}
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
            source = other(side) if link.id_on(other(side)) else side
            record_id = link.id_on(source) or ""
            entry["samples"].append({"id": record_id, "side": source, "name": self.name(source, record_id),
                                     "message": message})

    def warning(self, item: Mapping, link: RecordLink) -> None:
        """A field that would not be carried to item["side"] (its mapping's policy skips it)."""
        side = item.get("side")
        if side not in (A, B):
            return
        category = ErrorCategory.from_code(item.get("category") or "unknown")
        entry = self.warnings[side].setdefault((item.get("field", ""), category.code), {
            "field": item.get("field", ""), "category": category.code, "label": category.label,
            "hint": category.hint, "count": 0, "samples": [],
        })
        entry["count"] += 1
        if len(entry["samples"]) < FAILURE_SAMPLES:
            source = other(side)
            record_id = link.id_on(source) or ""
            entry["samples"].append({"id": record_id, "side": source, "name": self.name(source, record_id),
                                     "message": f"{item.get('value', '')}: {item.get('reason', '')}"})

    def side_result(self, side: str) -> dict:
        counts = self.counts[side]
        return {
            "read": self.apps[side].read_count if side in self.apps else 0,
            "create": counts[Action.CREATED], "update": counts[Action.UPDATED], "unchanged": counts["unchanged"],
            "excluded": dict(self.excluded[side]),
            "failures": sorted(self.failures[side].values(), key=lambda f: (-f["count"], f["category"])),
            "warnings": sorted(self.warnings[side].values(), key=lambda w: (-w["count"], w["field"], w["category"])),
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
    calls = {side: app.http_calls - app.calls_at_start for side, app in apps.items()}
    return {
        A: tally.side_result(A), B: tally.side_result(B), "matched": tally.matched,
        "match_samples": tally.match_samples, "duration_seconds": round(time.monotonic() - started, 3),
        "http_calls": sum(calls.values()), "http_calls_by_side": calls,
        "processed": run.processed, "blocked": blocked, "problems": list(engine.problems),
    }


def _connector(sync: ObjectSync, side: str) -> Connector:
    try:
        return sync.connection(side).connector()
    except ConnectorError as exc:
        exc.side = side
        raise PreviewFailed(failure_sentence(exc, _app_name(sync, side))) from exc


def _app_name(sync: ObjectSync, side: str) -> str:
    return f"{sync.connection(side).name} (side {Side(side).letter})"


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
        context = engine.sides[side]
        app.kind, app.specs = engine.kind, context.specs
        app.name_fields = {d.key: d.field for d in app.inner.default_fields(engine.kind)}
        looked_up = set(context.match_fields.values()) if engine.sync.match_records else set()
        app.unique = [name for name, spec in context.specs.items()
                      if spec.unique and not spec.read_only and spec.type == FieldType.TEXT and name not in looked_up]
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
                "failures": {f["category"]: f["count"] for f in part["failures"]},
                "warnings": {f"{w['field']}: {w['category']}": w["count"] for w in part.get("warnings", [])}}

    return {A: side(A), B: side(B), "matched": result["matched"]}


def run_figures(run: SyncRun) -> dict:
    """A finished run's outcomes in the preview's terms: what `comparable(preview)` must equal."""
    figures = {s: {"create": 0, "update": 0, "excluded": Counter(), "failures": Counter(), "warnings": Counter()}
               for s in (A, B)}
    matched = 0
    rows = RecordOutcome.objects.filter(run=run).values_list("action", "side", "category", "message", "id_a", "warnings")
    for action, side, category, message, id_a, warnings in rows:
        for item in warnings or []:
            if item.get("side") in (A, B):
                figures[item["side"]]["warnings"][f"{item.get('field', '')}: {item.get('category') or 'unknown'}"] += 1
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
        part["warnings"] = dict(part["warnings"])
    return {**figures, "matched": matched}
