"""Durable memory of a run: links, outcomes and run counters, written in short transactions.

Nothing here talks to an app: callers read and write over HTTP first, then hand the results
here, so no database transaction is ever open across an HTTP call.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction

from connectors.errors import ErrorCategory
from syncrules.engine import rows
from syncrules.models import (
    MAX_BACKOFF,
    LinkStatus,
    ObjectSync,
    RecordLink,
    RecordOutcome,
    Side,
    SyncRun,
    backoff,
)

LINK_FIELDS = [
    "id_a", "id_b", "status", "last_values", "associations", "modified_a", "modified_b", "last_synced_at",
    "error_category", "last_error", "fail_count", "next_retry_at", "updated_at",
    "name_a", "name_b", "match_key",
    "warnings", "has_warnings",
]
__all__ = ["MAX_BACKOFF", "LinkChange", "Outcome", "backoff"]  # backoff lives with RecordLink now


@dataclass
class Outcome:
    action: str
    side: str = ""
    category: ErrorCategory | None = None
    message: str = ""
    details: dict = field(default_factory=dict)  # engine.details: the why, JSON-safe
    warnings: list[dict] = field(default_factory=list)  # fields not carried (engine.values)


@dataclass
class LinkChange:
    """The new state of one link (existing or new) and the outcomes that explain it.

    `absorb` is a one-sided link of the other record that this link replaces (a record that
    was excluded or failing on the other side and has now matched): it is deleted first.
    """

    link: RecordLink
    outcomes: list[Outcome] = field(default_factory=list)
    absorb: RecordLink | None = None


def load_links(sync: ObjectSync, side: str, ids: Iterable[str]) -> dict[str, RecordLink]:
    """The links of `sync` holding any of `ids` on `side`, by that id (one query)."""
    ids = list(set(ids))
    if not ids:
        return {}
    found = rows.load(RecordLink, {"object_sync": sync}, f"id_{Side(side)}", ids)
    return {link.id_on(side): link for link in found}


def due_links(sync: ObjectSync, now: datetime, saved_since: datetime, limit: int) -> list[RecordLink]:
    """Failing links whose retry time has come, leaving out those saved since `saved_since`."""
    due = RecordLink.objects.filter(object_sync=sync, status=LinkStatus.FAILING, next_retry_at__lte=now)
    return list(due.exclude(updated_at__gte=saved_since).order_by("next_retry_at")[:limit])


def save_changes(sync: ObjectSync, run: SyncRun, changes: Sequence[LinkChange], now: datetime) -> None:
    """Write links and their outcomes in one short transaction, and count the outcomes."""
    if not changes:
        return
    for change in changes:
        link = change.link
        if link._state.fields_cache.get("object_sync") is not sync:
            link.object_sync = sync
        link.updated_at = now
    with transaction.atomic():
        absorbed = [c.absorb.pk for c in changes if c.absorb is not None and c.absorb.pk]
        if absorbed:
            RecordLink.objects.filter(pk__in=absorbed).delete()
        existing = [c.link for c in changes if c.link.pk]
        new = [c.link for c in changes if not c.link.pk]
        if existing:
            update_rows(existing, LINK_FIELDS)
        rows.insert_objects(new)
        for link in new:
            link.mark_saved()
        rows.insert(RecordOutcome, OUTCOME_COLUMNS, _outcome_rows(sync, run, changes, now))
    _count(run, changes)


def save_names(links: Sequence[RecordLink]) -> None:
    """Store the display names and match keys of links that changed nothing else."""
    if links:
        update_rows(links, ["name_a", "name_b", "match_key"])


def update_rows(links: Sequence[RecordLink], fields: Sequence[str]) -> None:
    """UPDATE each link's `fields` by primary key, as one prepared statement (engine.rows) per
    set of indexed fields that changed: an indexed column left out of the SET keeps its index
    entries as they are (SQLite rewrites the entries of every indexed column set, changed or not)."""
    indexed = set(RecordLink.INDEXED_FIELDS)
    groups: dict[tuple[str, ...], list[RecordLink]] = {}
    for link in links:
        groups.setdefault(link.changed_indexed_fields(), []).append(link)
    for changed, group in groups.items():
        rows.update(RecordLink, [f for f in fields if f not in indexed or f in changed], group)
        for link in group:
            link.mark_saved()


OUTCOME_COLUMNS = (
    "run_id", "object_sync_id", "link_id", "id_a", "id_b", "side", "action", "category", "message", "hint",
    "created_at", "details", "warnings",
)


def _outcome_rows(
    sync: ObjectSync, run: SyncRun, changes: Sequence[LinkChange], now: datetime, *, linked: bool = True
) -> list[tuple]:
    """RecordOutcome rows (in OUTCOME_COLUMNS' order) for the changes' outcomes."""
    result = []
    for change in changes:
        link = change.link
        head = (run.pk, sync.pk, link.pk if linked else None, link.id_a or "", link.id_b or "")
        for outcome in change.outcomes:
            category = outcome.category
            result.append((
                *head, outcome.side, outcome.action, category.code if category else "", outcome.message,
                category.hint if category else "", now, _details(outcome, link), outcome.warnings,
            ))
    return result


def _details(outcome: Outcome, link: RecordLink) -> dict:
    """The outcome's details; a failure the link will retry by itself says when (the time the
    link's failure was settled with, in LinkChange.fail or the associations' settle)."""
    if outcome.action == RecordOutcome.Action.FAILED and link.status == LinkStatus.FAILING and link.next_retry_at:
        return {**outcome.details, "next_retry_at": link.next_retry_at.isoformat()}
    return outcome.details


def _count(run: SyncRun, changes: Sequence[LinkChange]) -> None:
    for change in changes:
        actions = {o.action for o in change.outcomes}
        if RecordOutcome.Action.FAILED in actions:
            run.failed += 1
        elif any(o.warnings for o in change.outcomes):
            run.warned += 1
        for outcome in change.outcomes:
            if outcome.action == RecordOutcome.Action.CREATED:
                run.created += 1
            elif outcome.action == RecordOutcome.Action.UPDATED:
                run.updated += 1
            elif outcome.action == RecordOutcome.Action.MATCHED:
                run.matched += 1
            elif outcome.action == RecordOutcome.Action.EXCLUDED:
                run.excluded += 1
            elif outcome.action == RecordOutcome.Action.SKIPPED:
                run.skipped += 1
            elif outcome.action == RecordOutcome.Action.DELETED:
                run.deleted += 1


PROGRESS_FIELDS = [
    "processed", "estimated_total", "created", "updated", "matched", "skipped", "excluded", "failed", "deleted",
    "associated", "waiting", "http_calls",
    "warned",
]


def save_progress(sync: ObjectSync, run: SyncRun, side: str | None = None, cursor: object = None) -> None:
    """Store the run's counters and, when given, the cursor of `side` (after its page is saved)."""
    with transaction.atomic():
        SyncRun.objects.filter(pk=run.pk).update(**{f: getattr(run, f) for f in PROGRESS_FIELDS})
        updates: dict[str, object] = {}
        if side is not None:
            updates[f"cursor_{side}"] = cursor
            setattr(sync, f"cursor_{side}", cursor)
        if sync.initial_sync_done_at is None:
            updates["initial_processed"] = run.processed
            updates["initial_total"] = run.estimated_total
        if updates:
            ObjectSync.objects.filter(pk=sync.pk).update(**updates)


def remove_links(sync: ObjectSync, run: SyncRun, changes: Sequence[LinkChange], now: datetime) -> None:
    """Forget links whose records are gone from both apps; their outcomes keep the ids."""
    if not changes:
        return
    outcomes = _outcome_rows(sync, run, changes, now, linked=False)
    with transaction.atomic():
        RecordLink.objects.filter(pk__in=[c.link.pk for c in changes if c.link.pk]).delete()
        rows.insert(RecordOutcome, OUTCOME_COLUMNS, outcomes)
    _count(run, changes)


def save_extra_cursors(sync: ObjectSync, cursors: dict) -> None:
    """Store the cursors of a run's other reads (deletions, association changes)."""
    sync.extra_cursors = cursors
    ObjectSync.objects.filter(pk=sync.pk).update(extra_cursors=cursors)


def make_due(sync: ObjectSync, categories: Iterable[str], now: datetime) -> None:
    """Failing links of `categories` are due for a retry now (e.g. a mapping they failed on changed)."""
    RecordLink.objects.filter(
        object_sync=sync, status=LinkStatus.FAILING, error_category__in=list(categories),
    ).update(next_retry_at=now)
