"""Our own writes, coming back: not changes.

Every record a run writes comes back as a change: a HubSpot webhook (creation, propertyChange),
a new SystemModstamp in the Salesforce poll. Each would queue one more run that finds nothing to
do. A run's connectors are watched (`watch_writes`): each write is kept as an EchoWrite (record
id, the values written as text, when) for ECHO_SECONDS, and a report that is exactly that write is
dropped. Anything else about the record is a change: another property, another value, a
Salesforce row stamped after the write returned (plus CLOCK_SLACK), any other event type. A
different value also forgets the write, so a user who sets the value back to ours afterwards is
still heard. Dropping too little costs one run that finds nothing; dropping too much would delay
a change to the next scheduled run (which reads every change from its cursor), so every doubt
counts as a change.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.utils import timezone

from connectors.base import Connector, WriteResult, number_text
from syncrules.models import ObjectSync, Side
from syncrules.webhooks.models import EchoWrite

logger = logging.getLogger(__name__)

CLOCK_SLACK = timedelta(seconds=2)  # the app's clock (SystemModstamp, occurredAt) against ours
MAX_PER_RUN = 2000  # a run writing more is a bulk run: its echo is one debounced run anyway
MAX_POLL_FIELDS = 40  # fields added to the poll's one query to compare written values


def echo_seconds() -> float:
    """How long a write is remembered (HubSpot delivers webhooks within seconds, rarely minutes)."""
    return float(getattr(settings, "ECHO_SECONDS", 300))


# --- recording ------------------------------------------------------------------------------
def watch_writes(connector: Connector, sync_id: int, side: str, object_type: str) -> Connector:
    """Make `connector` remember what it writes to `object_type` for the sync's echo filter.

    The connector's own `write` is wrapped on the instance, so a connector writing through itself
    (a Salesforce contact's AccountId set by an association) is watched too. Updates are kept
    before the call (a webhook may arrive before the call returns), creates once their ids are known.
    """
    if getattr(connector, "_echo_watched", False):
        return connector
    inner_write, budget = connector.write, [MAX_PER_RUN]

    def write(kind: str, creates: Sequence[Mapping[str, Any]] = (), updates: Mapping[str, Mapping[str, Any]] | None = None,
              ) -> list[WriteResult]:
        watched = kind == object_type and budget[0] > 0
        if watched and updates:
            _keep(sync_id, side, {rid: values for rid, values in updates.items()}, created=False)
        results = inner_write(kind, creates, updates)
        if watched:
            made = {r.id: creates[r.ref] for r in results if r.ok and r.id and isinstance(r.ref, int) and r.ref < len(creates)}
            updated = [r for r in results if not isinstance(r.ref, int)]
            _keep(sync_id, side, made, created=True)
            # Stamped when the call returned: the app stamped the rows before that.
            EchoWrite.objects.filter(object_sync=sync_id, side=side, record_id__in=[str(r.ref) for r in updated if r.ok]
                                     ).update(written_at=timezone.now())
            forget(sync_id, side, [str(r.ref) for r in updated if not r.ok])  # refused: nothing of ours comes back
            budget[0] -= len(made) + len(updates or {})
        return results

    connector.write = write  # type: ignore[method-assign]
    connector._echo_watched = True  # type: ignore[attr-defined]
    return connector


@contextmanager
def watched_connectors(sync: ObjectSync, changed: Mapping[str, Sequence[str]] | None = None) -> Iterator[dict[str, Connector]]:
    """Both sides' connectors for a run of `sync`, watched; closed afterwards. Empty (the run
    builds its own and records why it cannot) when a connection's credentials are unreadable.
    `changed` ids per side are read first (debounce.ChangedFirst)."""
    from syncrules.webhooks.debounce import ChangedFirst

    connectors: dict[str, Connector] = {}
    try:
        for side in (Side.A, Side.B):
            connector = watch_writes(sync.connection(side).connector(), sync.pk, side, sync.object_type)
            connectors[side] = ChangedFirst(connector, changed[side]) if (changed or {}).get(side) else connector
    except Exception:  # noqa: BLE001 - unreadable credentials...: the run itself records why
        logger.warning("object sync %s: its writes are not watched", sync.pk, exc_info=True)
        for connector in connectors.values():
            connector.close()
        connectors = {}
    try:
        yield connectors
    finally:
        for connector in connectors.values():
            connector.close()


def _keep(sync_id: int, side: str, written: Mapping[str, Mapping[str, Any]], *, created: bool) -> None:
    if not written:
        return
    now = timezone.now()
    ids = [str(i)[:64] for i in written]
    # A record written twice within ECHO_SECONDS (its fields, then its AccountId): both are ours.
    before = {r: (v, c) for r, v, c in EchoWrite.objects.filter(
        object_sync=sync_id, side=side, record_id__in=ids, written_at__gte=now - timedelta(seconds=echo_seconds()),
    ).values_list("record_id", "values", "created")}
    rows = []
    for record_id, values in written.items():
        old_values, old_created = before.get(str(record_id)[:64], ({}, False))
        rows.append(EchoWrite(object_sync_id=sync_id, side=side, record_id=str(record_id)[:64], written_at=now,
                              values={**old_values, **{k: as_text(v) for k, v in values.items()}},
                              created=created or old_created))
    EchoWrite.objects.bulk_create(rows, update_conflicts=True, unique_fields=["object_sync", "side", "record_id"],
                                  update_fields=["values", "created", "written_at"], batch_size=500)
    EchoWrite.objects.filter(written_at__lt=now - timedelta(seconds=echo_seconds())).delete()


def as_text(value: Any) -> str:
    """A value in one spelling for comparing what we wrote with what an app reports."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return number_text(value)
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def same(written: str, reported: Any) -> bool:
    """Whether the app reports the value we wrote (`written` from as_text), in its own spelling."""
    if reported is None or reported == "":
        return written == ""
    text = str(reported).lower() if isinstance(reported, bool) else str(reported)
    if text == written:
        return True
    if isinstance(reported, bool):
        return written == text
    return _as_number(text) is not None and _as_number(text) == _as_number(written) or (
        _as_moment(written) is not None and _as_moment(text) == _as_moment(written))


def _as_number(text: str) -> Decimal | None:
    try:
        number = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _as_moment(text: str) -> datetime | None:
    """An ISO datetime, or milliseconds since the epoch (HubSpot's datetime properties)."""
    if text.isdigit() and len(text) >= 12:
        return datetime.fromtimestamp(int(text) / 1000, UTC).replace(microsecond=0)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).replace(microsecond=0)


def kept(sync_id: int, side: str, ids: Iterable[str]) -> dict[str, EchoWrite]:
    """The unexpired writes of these records, by record id."""
    since = timezone.now() - timedelta(seconds=echo_seconds())
    rows = EchoWrite.objects.filter(object_sync=sync_id, side=side, record_id__in=list(ids), written_at__gte=since)
    return {row.record_id: row for row in rows}


def forget(sync_id: int, side: str, ids: Iterable[str]) -> None:
    """The records changed after our write: a later report of our value is a change again."""
    ids = list(ids)
    if ids:
        EchoWrite.objects.filter(object_sync=sync_id, side=side, record_id__in=ids).delete()


# --- HubSpot webhooks -----------------------------------------------------------------------
def changed_by_events(sync_id: int, side: str, events: Mapping[str, Sequence[dict]]) -> set[str]:
    """The ids among `events` (record id -> its events) that changed other than by our writes."""
    writes = kept(sync_id, side, events)
    changed = {record_id for record_id, evs in events.items()
               if record_id not in writes or not all(_event_is_echo(writes[record_id], e) for e in evs)}
    forget(sync_id, side, changed & writes.keys())
    return changed


def _event_is_echo(write: EchoWrite, event: dict) -> bool:
    change = str(event.get("subscriptionType") or "").partition(".")[2]
    if change == "creation":
        return write.created
    if change != "propertyChange":
        return False  # an association, a merge, a deletion: never our field write
    name = str(event.get("propertyName") or "")
    if name in write.values:
        return same(write.values[name], event.get("propertyValue"))
    # A property we did not write, set as the app created our record (its defaults), before our
    # create returned; a user's edit of another property comes after.
    occurred = event.get("occurredAt")
    return write.created and str(occurred).isdigit() and (
        datetime.fromtimestamp(int(occurred) / 1000, UTC) <= write.written_at + CLOCK_SLACK)


# --- Salesforce polling ---------------------------------------------------------------------
def poll_fields(sync_id: int, side: str) -> list[str]:
    """Fields the poll's query adds to compare rows with our writes ([] when none is kept, or
    too many: then every row the poll finds counts as a change)."""
    since = timezone.now() - timedelta(seconds=echo_seconds())
    fields: set[str] = set()
    for values in EchoWrite.objects.filter(object_sync=sync_id, side=side, written_at__gte=since).values_list(
            "values", flat=True).iterator():
        fields.update(values)
        if len(fields) > MAX_POLL_FIELDS:
            return []
    return sorted(f for f in fields if f.replace("_", "").isalnum())


def changed_rows(sync_id: int, side: str, rows: Sequence[dict]) -> list[dict]:
    """The polled rows (Id, SystemModstamp and the poll_fields) that are not our writes."""
    writes = kept(sync_id, side, [r["Id"] for r in rows])
    changed = [r for r in rows if r["Id"] not in writes or not _row_is_echo(writes[r["Id"]], r)]
    forget(sync_id, side, {r["Id"] for r in changed} & writes.keys())
    return changed


def _row_is_echo(write: EchoWrite, row: dict) -> bool:
    stamp = _as_moment(str(row.get("SystemModstamp") or ""))
    if stamp is None or stamp > write.written_at + CLOCK_SLACK:
        return False  # stamped after our write returned: someone wrote after us
    return all(name in row and same(value, row[name]) for name, value in write.values.items())
