"""Association rows: both directions are stored, and a new primary company replaces the old
one (a contact or deal has at most one primary company)."""

from __future__ import annotations

from django.db import transaction

from sandbox.hubspot import webhooks
from sandbox.hubspot.models import Association, CrmObject, Portal
from sandbox.hubspot.schema import ASSOCIATION_TYPES, inverse_type, type_label

SINGULAR = {"contacts": "contact", "companies": "company", "deals": "deal", "products": "product"}


def to_type_for(from_type: str, type_id: int) -> str | None:
    for (src, dst), ids in ASSOCIATION_TYPES.items():
        if src == from_type and type_id in ids:
            return dst
    return None


def exists(portal: Portal, object_type: str, object_id) -> bool:
    return str(object_id).isdigit() and CrmObject.objects.filter(
        portal=portal, object_type=object_type, pk=int(object_id), archived=False, merged_into=None
    ).exists()


def add(portal: Portal, from_type: str, from_id: int, to_type: str, to_id: int, type_id: int) -> None:
    unlabeled, primary = ASSOCIATION_TYPES[(from_type, to_type)]
    wanted = [unlabeled] if type_id == unlabeled else [unlabeled, type_id]
    with transaction.atomic():
        if primary is not None and type_id == primary:
            for old in Association.objects.filter(portal=portal, from_type=from_type, from_id=from_id,
                                                  to_type=to_type, type_id=primary).exclude(to_id=to_id):
                _delete_pair(portal, from_type, from_id, to_type, old.to_id, [primary])
        for tid in wanted:
            Association.objects.get_or_create(portal=portal, from_type=from_type, from_id=from_id, to_type=to_type,
                                              to_id=to_id, type_id=tid)
            back = inverse_type(from_type, to_type, tid)
            if back is not None:
                Association.objects.get_or_create(portal=portal, from_type=to_type, from_id=to_id,
                                                  to_type=from_type, to_id=from_id, type_id=back)
    webhooks.record_change(
        portal, from_type, from_id, "associationChange",
        associationType=f"{SINGULAR[from_type]}_to_{SINGULAR[to_type]}".upper(),
        fromObjectId=int(from_id), toObjectId=int(to_id), associationRemoved=False,
        isPrimaryAssociation=type_id == primary,
    )


def _delete_pair(portal, from_type, from_id, to_type, to_id, type_ids=None) -> int:
    forward = Association.objects.filter(portal=portal, from_type=from_type, from_id=from_id,
                                         to_type=to_type, to_id=to_id)
    backward = Association.objects.filter(portal=portal, from_type=to_type, from_id=to_id,
                                          to_type=from_type, to_id=from_id)
    if type_ids is not None:
        back_ids = [inverse_type(from_type, to_type, t) for t in type_ids]
        forward, backward = forward.filter(type_id__in=type_ids), backward.filter(type_id__in=back_ids)
    count = forward.delete()[0]
    backward.delete()
    return count


def remove(portal: Portal, from_type: str, from_id: int, to_type: str, to_id: int) -> None:
    if _delete_pair(portal, from_type, from_id, to_type, to_id):
        webhooks.record_change(
            portal, from_type, from_id, "associationChange",
            associationType=f"{SINGULAR[from_type]}_to_{SINGULAR[to_type]}".upper(),
            fromObjectId=int(from_id), toObjectId=int(to_id), associationRemoved=True, isPrimaryAssociation=False,
        )


def for_ids(portal: Portal, from_type: str, ids: list[int], to_type: str) -> dict[int, list[dict]]:
    """{from_id: [{toObjectId, associationTypes:[...]}]}, ordered by target id."""
    grouped: dict[int, dict[int, list[dict]]] = {}
    rows = Association.objects.filter(portal=portal, from_type=from_type, from_id__in=ids,
                                      to_type=to_type).order_by("to_id", "type_id")
    for row in rows:
        grouped.setdefault(row.from_id, {}).setdefault(row.to_id, []).append(
            {"category": row.category, "typeId": row.type_id, "label": type_label(row.type_id)}
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
