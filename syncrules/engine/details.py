"""The "why" of a record outcome (RecordOutcome.details), JSON-safe and small. Pure: no ORM.

Keys, each present only when it applies:

    "changes": [{"field_a", "field_b", "label", "old", "new", "to": "a"|"b", "reason"}]
    "matched_by": {"key": "email"|"name"|"domain", "value"}
    "excluded_by": {"reason": "no_email"|"filter"|"direction"|"unmapped_stage", "detail"}
    "associations": {"object_type", "added": [ids], "removed": [ids]}
    "next_retry_at": ISO datetime of the automatic retry of a failure
    "source_modified_at": ISO datetime of the last edit of the record the changes came from

The decisions are made where the merge, match and filter functions make them; this module
only gives them their stored shape.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

VALUE_LENGTH = 200  # characters kept of a value
ID_LIMIT = 50  # ids kept of an association change

# Why a field change went the way it did (merge.plan_link, plan_create).
ONE_SIDED = "one_sided"  # changed on one side only
CONFLICT_WINNER = "conflict_winner"  # changed on both within 5 minutes: the sync's conflict winner
MOST_RECENT = "most_recent"  # changed on both further apart: the most recent edit
EMPTY_KEPT = "empty_kept"  # the winning side was empty: the filled value was kept
CREATED = "created"  # the record was created with it

# Why a record was kept out (filters.exclusion, runner.screen).
NO_EMAIL = "no_email"  # no valid email while the sync requires one
FILTER = "filter"  # one of the sync's filters failed
DIRECTION = "direction"  # a one-way sync does not copy records from this side
UNMAPPED_STAGE = "unmapped_stage"  # a deal in a stage the pipeline mapping leaves out


def safe(value: Any) -> Any:
    """A JSON value for `value`, text cut to VALUE_LENGTH characters."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    return text if len(text) <= VALUE_LENGTH else text[: VALUE_LENGTH - 1] + "…"


def change(field_a: str, field_b: str, label: str, old: Any, new: Any, to: str, reason: str) -> dict[str, Any]:
    return {"field_a": field_a, "field_b": field_b, "label": safe(label), "old": safe(old), "new": safe(new),
            "to": to, "reason": reason}


def matched_by(key: str, value: Any) -> dict[str, Any]:
    return {"matched_by": {"key": key, "value": safe(value)}}


def excluded_by(reason: str, detail: str) -> dict[str, Any]:
    return {"excluded_by": {"reason": reason, "detail": safe(detail)}}


def associations(object_type: str, added: Iterable[str], removed: Iterable[str]) -> dict[str, Any]:
    return {"associations": {"object_type": object_type, "added": [safe(i) for i in list(added)[:ID_LIMIT]],
                             "removed": [safe(i) for i in list(removed)[:ID_LIMIT]]}}
