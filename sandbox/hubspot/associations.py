"""Association rows: both directions are stored, and a new primary company replaces the old
one (a contact or deal has at most one primary company).

Writes are set-based (a batch of pairs costs a few queries) and never touch the associated
records' modified dates, as in HubSpot; deal<->contact changes recompute the contacts' deal
roll-ups (sandbox.hubspot.rollups).
"""

from __future__ import annotations

from django.db import transaction

from sandbox import bulk
from sandbox.hubspot import rollups, webhooks
from sandbox.hubspot.models import Association, CrmObject, Portal
from sandbox.hubspot.schema import ASSOCIATION_TYPES, inverse_type, is_id, type_label

COLUMNS = ["portal", "from_type", "from_id", "to_type", "to_id", "type_id", "category"]
CATEGORY = "HUBSPOT_DEFINED"
SINGULAR = {"contacts": "contact", "companies": "company", "deals": "deal", "products": "product"}


def to_type_for(from_type: str, type_id: int) -> str | None:
    for (src, dst), ids in ASSOCIATION_TYPES.items():
        if src == from_type and type_id in ids:
            return dst
    return None


def exists(portal: Portal, object_type: str, object_id) -> bool:
    return bool(live_ids(portal, object_type, [object_id]))


def live_ids(portal: Portal, object_type: str, ids) -> set[int]:
    """The ids among `ids` that name live (not archived, not merged-away) records (one query,
    by primary key alone: the portal's indexes would walk its records)."""
    wanted = sorted({int(i) for i in ids if is_id(i)})
    if not wanted:
        return set()
    rows = bulk.values(CrmObject, ["id", "portal_id", "object_type", "archived", "merged_into_id"],
                       f"id IN ({bulk.marks(len(wanted))})", wanted)
    return {pk for pk, portal_id, kind, archived, merged_into in rows
            if portal_id == portal.pk and kind == object_type and not archived and merged_into is None}


def add(portal: Portal, from_type: str, from_id: int, to_type: str, to_id: int, type_id: int) -> None:
    add_many(portal, from_type, to_type, [(int(from_id), int(to_id), int(type_id))])


def add_many(portal: Portal, from_type: str, to_type: str, triples: list[tuple[int, int, int]]) -> None:
    """Associate each (from_id, to_id, type_id), both directions, in a few queries.

    A primary type also adds the unlabeled one, and replaces the record's previous primary (the
    old company stays associated, unlabeled). The records' modified dates are not touched.
    """
    unlabeled, primary = ASSOCIATION_TYPES[(from_type, to_type)]
    if from_type == "companies" and primary is not None and any(t == primary for _, _, t in triples):
        # "Primary" belongs to the contact's (deal's) side: one primary company each, while a
        # company is the primary company of any number of them.
        flipped = [(t, f, inverse_type(from_type, to_type, type_id)) for f, t, type_id in triples]
        add_many(portal, to_type, from_type, flipped)
        return
    new_primary = {f: t for f, t, type_id in triples if primary is not None and type_id == primary}
    rows = []
    for from_id, to_id, type_id in triples:
        if type_id == primary and new_primary[from_id] != to_id:
            type_id = unlabeled  # a later input of this batch names another primary: it wins
        for tid in {unlabeled, type_id}:
            rows.append((portal.pk, from_type, from_id, to_type, to_id, tid, CATEGORY))
            back = inverse_type(from_type, to_type, tid)
            if back is not None:
                rows.append((portal.pk, to_type, to_id, from_type, from_id, back, CATEGORY))
    with transaction.atomic():
        if new_primary:
            owners = sorted(new_primary)
            old = bulk.values(Association, ["from_id", "to_id"],
                              f"portal_id = %s AND from_type = %s AND from_id IN ({bulk.marks(len(owners))}) "
                              "AND to_type = %s AND type_id = %s", [portal.pk, from_type, *owners, to_type, primary])
            stale = [(f, t) for f, t in old if new_primary[f] != t]
            if stale:
                _delete(portal, from_type, to_type, stale, [primary])
        bulk.insert_values(Association, COLUMNS, rows, ignore_conflicts=True)
    for from_id, to_id, type_id in triples:
        _event(portal, from_type, to_type, from_id, to_id, removed=False, primary=type_id == primary)
    _touch_rollups(portal, from_type, to_type, [(f, t) for f, t, _ in triples])


def remove(portal: Portal, from_type: str, from_id: int, to_type: str, to_id: int) -> None:
    remove_many(portal, from_type, to_type, [(int(from_id), int(to_id))])


def remove_many(portal: Portal, from_type: str, to_type: str, pairs: list[tuple[int, int]]) -> None:
    """Remove every association type between each pair, both directions."""
    removed = _delete(portal, from_type, to_type, pairs)
    for from_id, to_id in removed:
        _event(portal, from_type, to_type, from_id, to_id, removed=True, primary=False)
    _touch_rollups(portal, from_type, to_type, removed)


def move_all(portal: Portal, object_type: str, from_id: int, to_id: int) -> None:
    """Give record `to_id` every association of `from_id` and drop those of `from_id` (a merge).

    The winner keeps its own primary company when it has one.
    """
    rows = list(Association.objects.filter(portal=portal, from_type=object_type, from_id=from_id))
    kept_primary = set(Association.objects.filter(
        portal=portal, from_type=object_type, from_id=to_id,
        type_id__in=[p for p in (ASSOCIATION_TYPES[k][1] for k in ASSOCIATION_TYPES) if p is not None],
    ).values_list("to_type", flat=True))
    triples: dict[str, list[tuple[int, int, int]]] = {}
    for row in rows:
        if row.type_id == ASSOCIATION_TYPES[(object_type, row.to_type)][1] and row.to_type in kept_primary:
            row.type_id = ASSOCIATION_TYPES[(object_type, row.to_type)][0]
        triples.setdefault(row.to_type, []).append((int(to_id), row.to_id, row.type_id))
    for to_type in triples:
        _delete(portal, object_type, to_type, [(int(from_id), t) for _, t, _ in triples[to_type]])
    for to_type, items in triples.items():
        add_many(portal, object_type, to_type, items)


def _delete(portal: Portal, from_type: str, to_type: str, pairs, type_ids=None) -> list[tuple[int, int]]:
    """Delete the pairs' rows (of `type_ids`, or all), both directions; the pairs that had any."""
    pairs = [(int(f), int(t)) for f, t in pairs]
    if not pairs:
        return []
    back_ids = None if type_ids is None else [inverse_type(from_type, to_type, t) for t in type_ids]
    # The id sets may cross-match other pairs of the batch: delete exactly the wanted ones.
    wanted = set(pairs)
    forward_rows = [(pk, (f, t)) for pk, f, t in _rows(portal, from_type, to_type, {f for f, _ in pairs},
                                                        {t for _, t in pairs}, type_ids) if (f, t) in wanted]
    found = {pair for _, pair in forward_rows}
    forward_pks = [pk for pk, _ in forward_rows]
    backward_pks = [pk for pk, t, f in _rows(portal, to_type, from_type, {t for _, t in pairs},
                                             {f for f, _ in pairs}, back_ids) if (f, t) in wanted]
    gone = sorted(forward_pks + backward_pks)
    if gone:
        bulk.delete_rows(Association, gone)
    return sorted(found)


def _rows(portal: Portal, from_type: str, to_type: str, from_ids, to_ids, type_ids=None) -> list[tuple]:
    """(pk, from_id, to_id) of the rows from `from_ids` to `to_ids` (of `type_ids`, or any)."""
    from_ids, to_ids = sorted(from_ids), sorted(to_ids)
    where = (f"portal_id = %s AND from_type = %s AND from_id IN ({bulk.marks(len(from_ids))}) AND to_type = %s "
             f"AND to_id IN ({bulk.marks(len(to_ids))})")
    params = [portal.pk, from_type, *from_ids, to_type, *to_ids]
    if type_ids is not None:
        where += f" AND type_id IN ({bulk.marks(len(type_ids))})"
        params += list(type_ids)
    return bulk.values(Association, ["id", "from_id", "to_id"], where, params)


def _event(portal: Portal, from_type: str, to_type: str, from_id: int, to_id: int, *, removed: bool,
           primary: bool) -> None:
    webhooks.record_change(
        portal, from_type, from_id, "associationChange",
        associationType=f"{SINGULAR[from_type]}_to_{SINGULAR[to_type]}".upper(),
        fromObjectId=int(from_id), toObjectId=int(to_id), associationRemoved=removed, isPrimaryAssociation=primary,
    )


def _touch_rollups(portal: Portal, from_type: str, to_type: str, pairs: list[tuple[int, int]]) -> None:
    if {from_type, to_type} == {"contacts", "deals"} and pairs:
        rollups.touch_contacts(portal, [f if from_type == "contacts" else t for f, t in pairs])


def for_ids(portal: Portal, from_type: str, ids: list[int], to_type: str,
            to_ids: list[int] | None = None) -> dict[int, list[dict]]:
    """{from_id: [{toObjectId, associationTypes:[...]}]}, ordered by target id (only those among
    `to_ids` when given)."""
    grouped: dict[int, dict[int, list[dict]]] = {}
    ids = sorted({int(i) for i in ids})
    if not ids:
        return {}
    where = f"portal_id = %s AND from_type = %s AND from_id IN ({bulk.marks(len(ids))}) AND to_type = %s"
    params = [portal.pk, from_type, *ids, to_type]
    if to_ids is not None:
        to_ids = sorted(set(to_ids))
        where += f" AND to_id IN ({bulk.marks(len(to_ids))})"
        params += to_ids
    rows = bulk.values(Association, ["from_id", "to_id", "type_id", "category"], where, params,
                       order_by="to_id, type_id")
    labels = {}
    for from_id, to_id, type_id, category in rows:
        if type_id not in labels:
            labels[type_id] = type_label(type_id)
        grouped.setdefault(from_id, {}).setdefault(to_id, []).append(
            {"category": category, "typeId": type_id, "label": labels[type_id]}
        )
    return {
        from_id: [{"toObjectId": to_id, "associationTypes": types} for to_id, types in targets.items()]
        for from_id, targets in grouped.items()
    }


def v3_shape(portal: Portal, from_type: str, ids: list[int], to_type: str) -> dict[int, dict]:
    """The `associations` member of a v3 GET (types named like contact_to_company[_unlabeled])."""
    out = {}
    unlabeled, primary = ASSOCIATION_TYPES.get((from_type, to_type), (None, None))
    base = f"{SINGULAR[from_type]}_to_{SINGULAR[to_type]}"
    for from_id, targets in for_ids(portal, from_type, ids, to_type).items():
        results = []
        for target in targets:
            for t in target["associationTypes"]:
                name = base if t["typeId"] == primary else f"{base}_unlabeled" if t["typeId"] == unlabeled else base
                results.append({"id": str(target["toObjectId"]), "type": name})
        out[from_id] = {to_type: {"results": results}}
    return out
