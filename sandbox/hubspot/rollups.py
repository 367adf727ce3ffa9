"""Contact roll-ups of associated deals, computed as HubSpot computes them (FEATURES F6.6).

Read-only calculated contact properties, kept up to date whenever a deal<->contact association
is made or removed, and whenever an associated deal's amount, close date, stage or pipeline
changes or the deal is archived or merged:

- `num_associated_deals`: live deals associated with the contact;
- `first_deal_created_date`: the create date of the oldest of them;
- `recent_deal_amount`: the amount of the most recently *created* one (not the last closed);
- `recent_deal_close_date`: the latest close date among the closed-won ones;
- `total_revenue`: the sum of the amounts of the closed-won ones;
- `lifecyclestage` is promoted, never lowered: an open deal raises it to "opportunity", a
  closed-won deal to "customer".

A roll-up property is absent (null) when there is nothing to roll up (no deals, no won deal).
A contact whose roll-ups change gets a new `lastmodifieddate` (and a propertyChange event with
changeSource CALCULATED); an association change alone never touches the modified date of either
record, as in HubSpot, so a change feed built on modified dates sees roll-up changes but not
association changes.

Recomputing is set-based and touches only what changed: inside `batched()` (every sandbox API
request runs in one) the contacts whose deals changed in a way the roll-ups read are collected
and recomputed once, with a handful of queries per request whatever the number of rows it
touched. A recompute reads only the values the roll-ups need (the database takes them out of the
records' JSON; a contact's deals come joined to it) and writes only the keys that changed, to
only the contacts whose values changed. The result equals a recompute from scratch
(tests/test_rollups_incremental.py checks it after random sequences of writes).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation

from django.db import transaction

from sandbox import bulk
from sandbox.hubspot import store, webhooks
from sandbox.hubspot.models import Association, CrmObject, Pipeline, Portal
from sandbox.hubspot.schema import LIFECYCLE

ROLLUP_PROPERTIES = ("num_associated_deals", "first_deal_created_date", "recent_deal_close_date",
                     "recent_deal_amount", "total_revenue")
# Deal properties the roll-ups read: a change to one of them recomputes the deal's contacts.
DEAL_INPUTS = frozenset({"amount", "closedate", "dealstage", "pipeline"})
# What a recompute writes: the roll-ups, and the lifecycle stage they promote.
WRITTEN = (*ROLLUP_PROPERTIES, "lifecyclestage")
LIFECYCLE_ORDER = [value for value, _label in LIFECYCLE]
CONTACT_TO_DEAL = 4
CHUNK = 500

_pending = threading.local()


@contextmanager
def batched() -> Iterator[None]:
    """Collect the contacts touched inside the block and recompute them once, at its end.

    Nested blocks join the outermost one. If the block raises, nothing is recomputed (its writes
    are rolled back with it).
    """
    if getattr(_pending, "work", None) is not None:
        yield
        return
    _pending.work = {}
    try:
        yield
        work = _pending.work
    finally:
        _pending.work = None
    for portal, (contacts, deals) in work.items():
        recompute(portal, contacts | contacts_of_deals(portal, deals))


def _queue(portal: Portal) -> tuple[set[int], set[int]] | None:
    work = getattr(_pending, "work", None)
    if work is None:
        return None
    return work.setdefault(portal, (set(), set()))


def touch_contacts(portal: Portal, contact_ids: Iterable) -> None:
    """The deals associated with these contacts changed: recompute them (now or at batch end)."""
    _touch(portal, contact_ids, deals=False)


def touch_deals(portal: Portal, deal_ids: Iterable) -> None:
    """These deals changed in a way the roll-ups read: recompute their contacts."""
    _touch(portal, deal_ids, deals=True)


def _touch(portal: Portal, ids: Iterable, *, deals: bool) -> None:
    ids = {int(i) for i in ids}
    queued = _queue(portal)
    if queued is not None:
        queued[1 if deals else 0].update(ids)
    elif ids:
        recompute(portal, contacts_of_deals(portal, ids) if deals else ids)


def contacts_of_deals(portal: Portal, deal_ids: Iterable[int]) -> set[int]:
    found: set[int] = set()
    for chunk in _chunks(sorted(deal_ids)):
        found.update(to_id for (to_id,) in bulk.values(
            Association, ["to_id"], f"portal_id = %s AND from_type = %s AND from_id IN ({bulk.marks(len(chunk))}) "
                                    "AND to_type = %s", [portal.pk, "deals", *chunk, "contacts"]))
    return found


def recompute(portal: Portal, contact_ids: Iterable[int], *, events: bool = True, modified: bool = True) -> int:
    """Bring these contacts' roll-ups up to date; returns how many contacts changed.

    `events` sends propertyChange webhooks; `modified` moves the changed contacts' modified date
    (seeding turns both off: seeded records keep their own history).
    """
    states = stage_states(portal)
    changed = 0
    # One transaction: after a request's own (batched() runs once the view has committed), the
    # UPDATEs would otherwise commit one by one.
    with transaction.atomic(savepoint=False):
        for chunk in _chunks(sorted({int(i) for i in contact_ids})):
            changed += _recompute_chunk(portal, chunk, states, events, modified)
    return changed


def _recompute_chunk(portal: Portal, ids: list[int], states: dict, events: bool, modified: bool) -> int:
    """Recompute from the few values the roll-ups read (taken out of the records' JSON by the
    database) and write only the keys that changed, to the contacts whose values changed."""
    contacts = _contacts(portal, ids)
    deals = _deals_of(portal, list(contacts), states)
    dirty = []
    for pk, current in sorted(contacts.items()):
        values = rolled_up(current, deals.get(pk, []))
        diff = {k: v for k, v in values.items() if v != current.get(k)}
        if diff:
            dirty.append((pk, diff))
    stamp = store.now_ms()
    bulk.patch_json(CrmObject, "properties", [(pk, diff, stamp) if modified else (pk, diff) for pk, diff in dirty],
                    also=["updated_at"] if modified else [])
    if events and portal.webhook_url:
        for pk, diff in dirty:
            for name, value in diff.items():
                webhooks.record_change(portal, "contacts", pk, "propertyChange", name=name, value=value or "",
                                       source="CALCULATED")
    return len(dirty)


def _contacts(portal: Portal, ids: list[int]) -> dict[int, dict]:
    """{id: {property: value}} of the properties the roll-ups write, for the live contacts among
    `ids` (looked up by primary key alone: the portal's indexes would walk its records)."""
    if not ids:
        return {}
    columns, params = bulk.json_texts(CrmObject, "properties", WRITTEN)
    rows = bulk.values(CrmObject, ["id", "portal_id", "object_type", "archived", "merged_into_id", *columns],
                       f"id IN ({bulk.marks(len(ids))})", [*params, *ids])
    return {pk: {k: v for k, v in zip(WRITTEN, values, strict=True) if v is not None}
            for pk, portal_id, kind, archived, merged_into, *values in rows
            if portal_id == portal.pk and kind == "contacts" and not archived and merged_into is None}


def _deals_of(portal: Portal, contact_ids: list[int], states: dict) -> dict[int, list[tuple]]:
    """{contact id: [(deal id, created, amount, close date, "open" | "won" | "lost")]} of the
    live deals associated with these contacts, in one join (liveness is checked here: in the
    WHERE clause it could lead the database to the deals' portal index)."""
    if not contact_ids:
        return {}
    columns, params = bulk.json_texts(CrmObject, "d.properties", ("amount", "closedate", "pipeline", "dealstage"))
    created = bulk.datetime_text(CrmObject, "d.created_at")
    sql = (f"SELECT a.from_id, d.id, d.portal_id, d.object_type, d.archived, d.merged_into_id, {created}, "  # noqa: S608
           f"{', '.join(columns)} FROM {Association._meta.db_table} a JOIN {CrmObject._meta.db_table} d "
           f"ON d.id = a.to_id WHERE a.portal_id = %s AND a.from_type = %s "
           f"AND a.from_id IN ({bulk.marks(len(contact_ids))}) AND a.to_type = %s AND a.type_id = %s")
    rows = bulk.select(CrmObject, sql, [*params, portal.pk, "contacts", *contact_ids, "deals", CONTACT_TO_DEAL])
    out: dict[int, list[tuple]] = {}
    for contact_id, pk, portal_id, kind, archived, merged_into, moment, amount, closedate, pipeline, stage in rows:
        if portal_id == portal.pk and kind == "deals" and not archived and merged_into is None:
            out.setdefault(contact_id, []).append((pk, bulk.from_datetime(moment), amount, closedate,
                                                   states.get((pipeline or "default", stage or ""), "open")))
    return out


def save_rows(rows: list[tuple]) -> None:
    """UPDATE records' properties and modified dates from (id, properties, modified) with one
    prepared statement (the ORM's bulk_update builds a CASE per row, which dominates seeding
    and big association batches)."""
    bulk.update_values(CrmObject, ["properties", "updated_at"], rows)


def stage_states(portal: Portal) -> dict[tuple[str, str], str]:
    """{(pipeline id, stage id): "open" | "won" | "lost"} for the portal's deal pipelines."""
    states = {}
    for pipeline in bulk.fetch(Pipeline, "portal_id = %s AND object_type = %s", [portal.pk, "deals"]):
        pipeline_id, stages = pipeline.pipeline_id, pipeline.stages
        for stage in stages:
            meta = stage.get("metadata") or {}
            closed = str(meta.get("isClosed", "")).lower() == "true"
            won = closed and _number(meta.get("probability")) == 1
            states[(pipeline_id, stage["id"])] = "won" if won else "lost" if closed else "open"
    return states


def rolled_up(current: dict, deals: list[tuple]) -> dict:
    """The values of WRITTEN for a contact whose properties are `current`, from its live deals
    [(id, created, amount, close date, state)]; None for a property with nothing to roll up."""
    values = dict.fromkeys(ROLLUP_PROPERTIES)
    values["lifecyclestage"] = current.get("lifecyclestage")
    if not deals:
        return values
    won = [d for d in deals if d[4] == "won"]
    newest = max(deals, key=lambda d: (d[1], d[0]))
    values.update({
        "num_associated_deals": str(len(deals)),
        "first_deal_created_date": store.iso(min(d[1] for d in deals)),
        "recent_deal_amount": newest[2] or None,
        "recent_deal_close_date": max((d[3] for d in won if d[3]), default=None),
        "total_revenue": _total([d[2] for d in won]) if won else None,
    })
    target = "customer" if won else "opportunity" if any(d[4] == "open" for d in deals) else None
    if target and _rank(values["lifecyclestage"]) < _rank(target):
        values["lifecyclestage"] = target
    return values


def _rank(stage: str | None) -> int:
    return LIFECYCLE_ORDER.index(stage) if stage in LIFECYCLE_ORDER else -1


def _number(value) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _total(amounts: list) -> str:
    total = sum((n for n in map(_number, amounts) if n is not None), Decimal(0))
    text = format(total, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _chunks(items: list) -> Iterator[list]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]
