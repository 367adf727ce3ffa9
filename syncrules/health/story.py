"""One record's story: what happened to a record link across runs, newest first, told from its
RecordOutcome rows and the decisions they carry in `details` (never from logs).

`details` is written by the engine; it is read defensively here, since a malformed value must
still render as a story (with what could be read), never as an error page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from connectors.errors import ErrorCategory
from syncrules.models import ObjectSync, RecordLink, RecordOutcome

STORY_LIMIT = 200

REASONS = {
    "one_sided": "changed in {source} only",
    "conflict_winner": "edited in both apps within 5 minutes: {target_other} is the conflict winner",
    "most_recent": "edited in both apps: the most recent edit ({source}) wins",
    "empty_kept": "the winning value was empty, so the filled value was kept",
    "created": "set when the record was created in {target}",
}
MATCH_KEYS = {"email": "email address", "name": "name", "domain": "domain"}
EXCLUSIONS = {
    "no_email": "no email address (the sync only takes contacts with one)",
    "filter": "a filter of the sync",
    "direction": "the sync's direction (it does not copy records from this app)",
    "unmapped_stage": "its stage (the pipeline mapping leaves it out)",
}


@dataclass
class Change:
    label: str
    old: Any
    new: Any
    target: str
    reason: str


@dataclass
class Chapter:
    outcome: RecordOutcome
    side_name: str
    category: ErrorCategory | None = None
    changes: list[Change] = field(default_factory=list)
    matched_by: str = ""
    excluded_by: str = ""
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    association_type: str = ""
    next_retry_at: datetime | None = None


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _changes(sync: ObjectSync, raw: Any) -> list[Change]:
    names = {"a": sync.connection_a.name, "b": sync.connection_b.name}
    changes = []
    for item in _list(raw):
        item = _dict(item)
        to = item.get("to") if item.get("to") in names else "b"
        source = names["a" if to == "b" else "b"]
        reason = REASONS.get(_text(item.get("reason")), _text(item.get("reason")))
        reason = reason.format(source=source, target=names[to], target_other=source)
        label = _text(item.get("label")) or _text(item.get(f"field_{to}")) or _text(item.get("field_a"))
        changes.append(Change(label, item.get("old"), item.get("new"), names[to], reason))
    return changes


def chapter(sync: ObjectSync, outcome: RecordOutcome) -> Chapter:
    details = _dict(outcome.details)
    side_name = sync.connection(outcome.side).name if outcome.side in ("a", "b") else ""
    entry = Chapter(outcome, side_name, ErrorCategory.from_code(outcome.category) if outcome.category else None)
    entry.changes = _changes(sync, details.get("changes"))
    matched = _dict(details.get("matched_by"))
    if matched:
        entry.matched_by = f"{MATCH_KEYS.get(_text(matched.get('key')), _text(matched.get('key')))} {_text(matched.get('value'))}".strip()
    excluded = _dict(details.get("excluded_by"))
    if excluded:
        reason = EXCLUSIONS.get(_text(excluded.get("reason")), _text(excluded.get("reason")))
        entry.excluded_by = f"{reason}: {_text(excluded.get('detail'))}" if excluded.get("detail") else reason
    assoc = _dict(details.get("associations"))
    entry.association_type = _text(assoc.get("object_type"))
    entry.added = [_text(i) for i in _list(assoc.get("added"))]
    entry.removed = [_text(i) for i in _list(assoc.get("removed"))]
    entry.next_retry_at = _when(details.get("next_retry_at"))
    return entry


def _when(value: Any) -> datetime | None:
    try:
        return parse_datetime(value) if isinstance(value, str) else None
    except ValueError:  # well formed but impossible, e.g. month 13
        return None


def story(link: RecordLink, limit: int = STORY_LIMIT) -> tuple[list[Chapter], bool]:
    """The link's chapters, newest first, and whether older ones were left out by the limit."""
    outcomes = list(
        RecordOutcome.objects.filter(link=link).select_related("run").order_by("-created_at", "-pk")[: limit + 1]
    )
    sync = link.object_sync
    return [chapter(sync, outcome) for outcome in outcomes[:limit]], len(outcomes) > limit
