"""Polling Salesforce for changes: one SOQL query per object sync and Salesforce side (two for deals), every
CHANGE_POLL_SECONDS (default 15), that returns nothing when nothing changed.

The query asks for the rows stamped at or after the last stamp seen, newest first; the rows at
that stamp already seen are not changes (SystemModstamp has one-second precision, so `>` could
miss a write later in the same second). A change queues the sync's debounced run; the run reads
Salesforce's changes from its own cursor (Salesforce's query has no search lag).

A deal sync's poll asks a second query of OpportunityContactRole the same way (queryAll: a
removed role counts): a deal's contacts change without touching the Opportunity's stamp. Rows
holding only what the sync last synced (a run's own writes) are no change (webhooks.echo).

Where the side's deletions carry over to the other app (an opportunity deleted deletes its deal,
F6.4), the poll's one query is a queryAll: a record deleted since the last poll is a change when
its link still stands, so the deletion arrives in seconds too. Elsewhere a deletion only changes
how the link shows, which the scheduled run's read of the recycle bin does.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections, connections
from django.db.models import Q
from django.utils import timezone

from connectors.base import CONTACTS, DEALS
from connectors.errors import ConnectorError
from connectors.salesforce import soql
from syncrules.models import ObjectSync, Side
from syncrules.webhooks import echo
from syncrules.webhooks.debounce import notify_changes, queue_waiting
from syncrules.webhooks.models import PollLease, SyncTrigger

logger = logging.getLogger(__name__)

POLLED_KINDS = ("salesforce",)
LEASE = "changes"
ROLES = "OpportunityContactRole"  # a deal's contacts, polled beside the Opportunity
PAGE = 200  # more than this many changes since the last poll: a run reads them all anyway


def poll_seconds() -> float:
    return float(getattr(settings, "CHANGE_POLL_SECONDS", 15))


def polled_syncs():
    return ObjectSync.objects.filter(
        Q(connection_a__kind__in=POLLED_KINDS) | Q(connection_b__kind__in=POLLED_KINDS),
        state=ObjectSync.State.ACTIVE, initial_sync_done_at__isnull=False,
    )


def poll_once() -> list[int]:
    """Poll every polled side of every triggerable sync once; the ids of the syncs queued."""
    syncs = polled_syncs().select_related("connection_a", "connection_b")
    connectors, changed = {}, {}
    try:
        for sync in syncs:
            for side in (Side.A, Side.B):
                connection = sync.connection(side)
                if connection.kind not in POLLED_KINDS:
                    continue
                if connection.pk not in connectors:
                    connectors[connection.pk] = connection.connector()
                if _poll_side(sync, side, connectors[connection.pk]):
                    changed[(sync.pk, side)] = ()
    finally:
        for connector in connectors.values():
            connector.close()
    return notify_changes(changed) if changed else []


def _poll_side(sync: ObjectSync, side: str, connector) -> bool:
    """One query (two for deals): True when the side has records changed since the last poll."""
    trigger, _ = SyncTrigger.objects.get_or_create(object_sync=sync)
    cursors = dict(trigger.poll_cursor or {})
    # The first poll starts where the sync's own cursor stands: what it read there is no change.
    start = (getattr(sync, f"cursor_{side}") or {}).get("modstamp") or ""
    deletions = connector.propagates_deletions(sync.object_type)
    changed = _poll(sync, side, connector, cursors, side, connector.sobject(sync.object_type), start,
                    deleted=deletions)
    if sync.object_type == DEALS and connector.sobject(CONTACTS) != "Lead":
        # Adding, changing or removing a deal's contact role leaves the Opportunity's
        # SystemModstamp alone; the role has its own (and a deleted one shows in queryAll).
        changed = _poll(sync, side, connector, cursors, f"{side}:roles", ROLES, "", deleted=True) or changed
    SyncTrigger.objects.filter(pk=trigger.pk).update(last_polled_at=timezone.now(), poll_cursor=cursors)
    return changed


def _poll(sync: ObjectSync, side: str, connector, cursors: dict, key: str, sobject: str, start: str, *,
          deleted: bool = False) -> bool:
    """One query of `sobject`'s rows stamped since cursors[key] (moved on in `cursors`): True when
    one of them is a change (not already seen, not our own write)."""
    cursor = dict(cursors.get(key) or {})
    first = not cursor.get("stamp")
    if first:
        cursor = {"stamp": start, "ids": []}
    where = ""
    if cursor["stamp"]:
        stamp = datetime.fromisoformat(str(cursor["stamp"]).replace("Z", "+00:00"))
        where = f"SystemModstamp >= {soql.datetime_literal(stamp)}"
    rows, fields = _query(connector, sync, side if key == side else "", sobject, where, deleted)
    if rows is None:
        return False
    seen = set(cursor.get("ids") or [])
    if first:
        seen = {r["Id"] for r in rows if _same(r["SystemModstamp"], cursor["stamp"])}
    new = [r for r in rows if not (_same(r["SystemModstamp"], cursor["stamp"]) and r["Id"] in seen)]
    if key == side and len(rows) < PAGE:  # a full page may hide older changes: then it is a change
        gone = [r for r in new if r.get("IsDeleted") is True]
        # Our own writes read back are no change; nor is a deletion the link already knows of.
        new = echo.changed_rows(sync.pk, side, [r for r in new if r.get("IsDeleted") is not True], fields)
        new += echo.deleted_rows(sync.pk, side, gone)
    if rows:
        newest = rows[0]["SystemModstamp"]
        ids = [r["Id"] for r in rows if _same(r["SystemModstamp"], newest)]
        if not _same(newest, cursor["stamp"]):
            seen = set()
        cursors[key] = {"stamp": newest, "ids": sorted(seen | set(ids))}
    return bool(new) and bool(cursor["stamp"])


def _query(connector, sync: ObjectSync, echo_side: str, sobject: str, where: str, deleted: bool
           ) -> tuple[list[dict] | None, list[str]]:
    """The newest rows stamped since the last poll (None when the query failed), with the
    mapped fields of `echo_side` to tell our own writes from changes, and those fields."""
    fields = echo.poll_fields(sync.pk, echo_side) if echo_side else []
    order = "SystemModstamp DESC, Id DESC"
    stamp = ["Id", "SystemModstamp", *(["IsDeleted"] if deleted and echo_side else [])]
    try:
        try:
            batch = _first_page(connector, soql.select([*stamp, *fields], sobject, where, order), deleted)
        except ConnectorError:
            if not fields:
                raise
            # A field the poll cannot select (say one deleted since): compare nothing, lose nothing.
            fields = []
            batch = _first_page(connector, soql.select(stamp, sobject, where, order), deleted)
    except ConnectorError as exc:
        logger.warning("polling %s of object sync %s failed: %s", sobject, sync.pk, exc)
        return None, []
    return [r for r in batch.get("records") or [] if r.get("Id") and r.get("SystemModstamp")], fields


def _first_page(connector, text: str, deleted: bool) -> dict:
    return next(iter(connector.client.query_pages(f"{text} LIMIT {PAGE}", include_deleted=deleted)), {"records": []})


def _same(a: str, b: str) -> bool:
    if not a or not b:
        return False
    parse = lambda v: datetime.fromisoformat(str(v).replace("Z", "+00:00"))  # noqa: E731
    return parse(a) == parse(b)


def poll_loop(*, max_seconds: float | None = None, sleep=time.sleep, between=None) -> int:
    """Poll every CHANGE_POLL_SECONDS (for ever, or for `max_seconds`) while this loop holds the
    poll lease; the polls made. One loop polls at a time across every worker: a loop finding the
    lease held by a live one returns at once, and takes it over once the holder has not renewed
    it for three intervals (its process died), the holder then stopping at its next turn.
    `between` is called before each poll.
    """
    me, start = uuid.uuid4().hex, timezone.now()
    PollLease.objects.get_or_create(name=LEASE)
    interval = poll_seconds()
    stale = start - timedelta(seconds=max(3 * interval, 30))
    if not PollLease.objects.filter(Q(holder="") | Q(renewed_at__lt=stale), name=LEASE).update(
            holder=me, started_at=start, renewed_at=start):
        return 0
    polls = 0
    deadline = time.monotonic() + (math.inf if max_seconds is None else max_seconds)
    while time.monotonic() < deadline:
        began = time.monotonic()
        if between is not None:
            between()
        if not PollLease.objects.filter(name=LEASE, holder=me).update(renewed_at=timezone.now()):
            return polls  # a newer loop took over
        try:
            if polled_syncs().exists():
                poll_once()
            queue_waiting()  # also for webhook-only syncs: a run that found its sync busy
        except Exception:  # one bad poll must not stop polling; the log keeps the traceback
            logger.exception("polling for changes failed")
        polls += 1
        sleep(max(0.0, min(interval - (time.monotonic() - began), deadline - time.monotonic())))
    PollLease.objects.filter(name=LEASE, holder=me).update(holder="")
    return polls


# --- the poller thread: polling holds no django-q2 worker
_poller: threading.Thread | None = None
_poller_lock = threading.Lock()


def start_poller(loop=None) -> bool:
    """Run the poll loop in a background thread of this process unless it runs already; True if
    started. The worker that calls it (the minute schedule's task) returns at once and goes on
    taking tasks: the thread sleeps between polls beside it, in the same process."""
    global _poller
    with _poller_lock:
        if _poller is not None and _poller.is_alive():
            return False
        _poller = threading.Thread(target=_run_poller, args=(loop or _poll_in_thread,), name="syncsite-change-poller",
                                   daemon=True)
        _poller.start()
        return True


def _poll_in_thread() -> int:
    # A thread that lives for hours: a connection the database dropped is replaced before each poll.
    return poll_loop(between=close_old_connections)


def _run_poller(loop) -> None:
    try:
        loop()
    except Exception:  # the next schedule starts another; the log keeps the traceback
        logger.exception("the change poller stopped")
    finally:
        connections.close_all()  # this thread's own connections
