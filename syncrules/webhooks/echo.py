"""Our own writes, coming back: not changes.

Every record a run writes comes back as a change: a HubSpot webhook (creation, propertyChange),
a new SystemModstamp in the Salesforce poll. Each would queue one more run that finds nothing to
do. The link already holds what the run wrote: `RecordLink.last_values` (the last synced value
of each mapped field, both sides) and `last_synced_at`. A report is dropped when it tells the
link nothing new:

- a HubSpot propertyChange of a mapped property whose value is the one last synced on that side
  (ours, or a user's that a run has synced already: either way the run would skip the record);
- a HubSpot creation of a record linked at or after the event (a record a run created);
- a HubSpot associationChange whose pair the link's last synced associations already hold (added)
  or no longer hold (removed): a run's own association write; and one of a type the sync does
  not sync (a contact's deals in a contact sync: the deal sync holds them);
- a Salesforce row whose mapped fields (selected in the poll's one query) all hold the last
  synced values, stamped no later than the link's last sync (plus CLOCK_SLACK): a later stamp
  may be a change of a field no mapping holds that a run still cares for (AccountId).

Anything else is a change: another value (a user's edit right after ours), a property no mapping
holds, an association the link has not synced, a merge, a deletion of a linked record, a record
with no link. Dropping too little costs one
run that finds nothing; every doubt counts as a change. So does a report of our own write that
arrives before the run has saved the link (HubSpot delivers webhooks seconds after the change;
a webhook faster than the rest of the run's page costs one run more).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from syncrules.engine.mappings import mapping_key
from syncrules.models import FieldMapping, LinkStatus, RecordLink, Side

CLOCK_SLACK = timedelta(seconds=2)  # the app's clock (SystemModstamp, occurredAt) against ours
MAX_POLL_FIELDS = 40  # mapped fields the poll's one query adds; more: every row is a change


def _mapped(sync_id: int, side: str) -> dict[str, list[str]]:
    """The side's app field -> the keys in last_values of the enabled mappings holding it."""
    fields: dict[str, list[str]] = {}
    for mapping in FieldMapping.objects.filter(object_sync=sync_id, enabled=True).only("field_a", "field_b"):
        fields.setdefault(mapping.field_a if side == Side.A else mapping.field_b, []).append(mapping_key(mapping))
    return fields


def _links(sync_id: int, side: str, ids, *, associations: bool = False) -> dict[str, tuple]:
    """Record id on `side` -> (last_values, last_synced_at[, associations]) of its link."""
    column = "id_a" if side == Side.A else "id_b"
    rows = RecordLink.objects.filter(object_sync=sync_id, **{f"{column}__in": list(ids)})
    names = [column, "last_values", "last_synced_at", *(["associations"] if associations else [])]
    return {rid: (values or {}, synced, *[r or {} for r in rest]) for rid, values, synced, *rest in rows.values_list(*names)}


def _synced(keys: Sequence[str], last_values: Mapping[str, list], index: int, reported: Any) -> bool:
    """Whether `reported` is the value last synced on the side (`index`) for every key."""
    return bool(keys) and all(key in last_values and same(last_values[key][index], reported) for key in keys)


# --- HubSpot webhooks -----------------------------------------------------------------------
def changed_by_events(sync_id: int, side: str, events: Mapping[str, Sequence[dict]], object_type: str = "") -> set[str]:
    """The ids among `events` (record id -> its events about a record of `object_type`) with a
    change the sync has not synced."""
    links = _links(sync_id, side, events, associations=True)
    fields = _mapped(sync_id, side) if links else {}
    index = 0 if side == Side.A else 1
    return {record_id for record_id, evs in events.items()
            if record_id not in links
            or not all(_event_is_synced(links[record_id], fields, index, e, (object_type, record_id)) for e in evs)}


def _event_is_synced(link: tuple, fields: dict[str, list[str]], index: int, event: dict,
                     record: tuple[str, str] = ("", "")) -> bool:
    last_values, synced_at, *associations = link
    change = str(event.get("subscriptionType") or "").partition(".")[2]
    if change == "associationChange":
        return _association_is_synced(associations[0] if associations else {}, record, event)
    if change == "creation":  # a record a run created (and linked after HubSpot made it)
        occurred = _as_moment(str(event.get("occurredAt") or ""))
        return synced_at is not None and occurred is not None and synced_at >= occurred - CLOCK_SLACK
    if change == "propertyChange":
        name = str(event.get("propertyName") or "")
        return _synced(fields.get(name, ()), last_values, index, event.get("propertyValue"))
    return False  # an association, a merge, a deletion: never a field the link holds


def _association_is_synced(associations: Mapping[str, Any], record: tuple[str, str], event: dict) -> bool:
    """Whether the link (of `record`: its object type and id) already holds the association
    change: the pair held when added, not held when removed (its last synced associations are
    keys "id_a|id_b" of the associated sync's links), or a type the sync does not sync."""
    from syncrules.engine.associations import ASSOCIATED
    from syncrules.webhooks.hubspot import OBJECT_TYPES

    object_type, record_id = record
    halves = [OBJECT_TYPES.get(h) for h in str(event.get("associationType") or "").lower().split("_to_")]
    ids = [str(event.get("fromObjectId") or ""), str(event.get("toObjectId") or "")]
    if len(halves) != 2 or not object_type or not all(halves):
        return False
    mine = [n for n in (0, 1) if halves[n] == object_type and ids[n] == record_id]
    if not mine:
        return False
    to_type, to_id = halves[1 - mine[0]], ids[1 - mine[0]]
    if to_type not in ASSOCIATED.get(object_type, ()):
        return True  # the sync of the other type holds these (or none does)
    removed = str(event.get("associationRemoved")).lower() == "true"
    held = any(to_id in str(key).split("|") for key in associations.get(to_type) or ())
    return held != removed


# --- Salesforce polling ---------------------------------------------------------------------
def poll_fields(sync_id: int, side: str) -> list[str]:
    """The side's mapped fields, for the poll's query to compare rows with the links ([] when
    there are too many: then every row the poll finds counts as a change)."""
    fields = sorted(f for f in _mapped(sync_id, side) if f.replace("_", "").isalnum())
    return fields if len(fields) <= MAX_POLL_FIELDS else []


def changed_rows(sync_id: int, side: str, rows: Sequence[dict], fields: Sequence[str]) -> list[dict]:
    """The polled rows (Id, SystemModstamp and `fields`) that hold something not synced yet."""
    if not fields:
        return list(rows)
    links = _links(sync_id, side, [r["Id"] for r in rows])
    mapped = _mapped(sync_id, side) if links else {}
    index = 0 if side == Side.A else 1
    return [r for r in rows if r["Id"] not in links or not _row_is_synced(links[r["Id"]], mapped, index, r, fields)]


def deleted_rows(sync_id: int, side: str, rows: Sequence[dict]) -> list[dict]:
    """The polled rows deleted on `side` (queryAll's IsDeleted) whose link still stands: a
    deletion the sync has to carry. A link already marked deleted or forgotten (a deletion a run
    carried, or saw in the recycle bin) or a record never linked tells the sync nothing."""
    if not rows:
        return []
    column = "id_a" if side == Side.A else "id_b"
    standing = set(
        RecordLink.objects.filter(object_sync=sync_id, id_a__isnull=False, id_b__isnull=False,
                                  **{f"{column}__in": [r["Id"] for r in rows]})
        .exclude(status__in=[LinkStatus.DELETED_A, LinkStatus.DELETED_B])
        .values_list(column, flat=True)
    )
    return [r for r in rows if r["Id"] in standing]


def _row_is_synced(link: tuple[dict, datetime | None], mapped: dict[str, list[str]], index: int, row: dict,
                   fields: Sequence[str]) -> bool:
    last_values, synced_at = link
    stamp = _as_moment(str(row.get("SystemModstamp") or ""))
    if synced_at is None or stamp is None or stamp > synced_at + CLOCK_SLACK:
        return False  # stamped after the last sync: someone wrote after it
    return all(_synced(mapped[name], last_values, index, row.get(name)) for name in fields)


# --- values ---------------------------------------------------------------------------------
def same(synced: Any, reported: Any) -> bool:
    """Whether an app reports the value last synced (as the engine normalises it: text stripped,
    None for empty, numbers as decimal text, ISO dates) in its own spelling. A casefolded email
    reported in capitals counts as a change (one run too many, never one too few)."""
    if isinstance(reported, str):
        reported = reported.strip() or None
    if synced in (None, "") or reported is None:
        return synced in (None, "") and reported is None
    if isinstance(synced, bool) or isinstance(reported, bool):
        return str(synced).lower() == str(reported).lower()
    a, b = str(synced), str(reported)
    if a == b:
        return True
    if (x := _as_number(a)) is not None and x == _as_number(b):
        return True
    return (m := _as_moment(a)) is not None and m == _as_moment(b)


def _as_number(text: str) -> Decimal | None:
    try:
        number = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _as_moment(text: str) -> datetime | None:
    """An ISO datetime, or milliseconds since the epoch (HubSpot's datetimes and occurredAt)."""
    if text.isdigit() and len(text) >= 12:
        try:
            return datetime.fromtimestamp(int(text) / 1000, UTC).replace(microsecond=0)
        except (OverflowError, OSError, ValueError):  # past year 9999: no moment, so not our write
            return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("+0000", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).replace(microsecond=0)
