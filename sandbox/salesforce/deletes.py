"""Deletes: to the recycle bin (IsDeleted, visible to queryAll), cascading like Salesforce."""

from __future__ import annotations

import random

from django.db import transaction

from sandbox.salesforce import schema, store
from sandbox.salesforce.models import Org, Record
from sandbox.salesforce.writes import ID_RE, err, to18

CASCADES = {
    "Account": [("Contact", "AccountId"), ("Opportunity", "AccountId")],
    "Contact": [("OpportunityContactRole", "ContactId")],
    "Opportunity": [("OpportunityContactRole", "OpportunityId")],
}


def delete(org: Org, ids: list[str], all_or_none: bool = False) -> list[dict]:
    """Soft-delete records (to the recycle bin, visible to queryAll), cascading like Salesforce."""
    found = {r.sf_id: r for r in Record.objects.filter(org=org, sf_id__in=[to18(i) for i in ids])}
    results, targets = [], []
    for raw in ids:
        rec = found.get(to18(raw))
        if rec is None:
            error = err(
                "MALFORMED_ID" if not ID_RE.match(raw) else "INVALID_CROSS_REFERENCE_KEY",
                f"invalid cross reference id: {raw}" if ID_RE.match(raw) else f"malformed id {raw}",
            )
        elif rec.is_deleted:
            error = err("ENTITY_IS_DELETED", "entity is deleted")
        elif rec.sobject in schema.METADATA_TYPES:
            error = err("INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id")
        elif org.fault_lock_share and random.random() < org.fault_lock_share:
            error = err(
                "UNABLE_TO_LOCK_ROW", f"unable to obtain exclusive access to this record: {rec.sf_id}"
            )
        else:
            error = None
            targets.append(rec)
        results.append(
            {"id": rec.sf_id if rec else raw, "success": error is None, "errors": [error] if error else []}
        )
    if all_or_none and any(not r["success"] for r in results):
        return [
            {
                **r,
                "success": False,
                "errors": r["errors"]
                or [
                    err(
                        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                        "Record rolled back because not all records were valid",
                    )
                ],
            }
            for r in results
        ]
    _soft_delete(org, targets)
    return results


def _children(org: Org, sobject: str, ref: str, parents: list[str]) -> list[str]:
    """Ids of live `sobject` records whose `ref` field points at one of `parents` (filtered in
    the database: an org holds 10,000s of contact roles)."""
    found: list[str] = []
    for start in range(0, len(parents), 500):
        chunk = parents[start : start + 500]
        query = Record.objects.filter(
            org=org, sobject=sobject, is_deleted=False, **{f"data__{ref}__in": chunk}
        )
        found.extend(query.values_list("sf_id", flat=True))
    return found


def _soft_delete(org: Org, targets: list[Record]) -> None:
    moment = store.now()
    ids = {r.sf_id for r in targets}
    frontier: dict[str, set[str]] = {}
    for r in targets:
        frontier.setdefault(r.sobject, set()).add(r.sf_id)
    while frontier:
        next_frontier: dict[str, set[str]] = {}
        for sobject, parents in frontier.items():
            for child_type, ref in CASCADES.get(sobject, []):
                for child_id in _children(org, child_type, ref, sorted(parents)):
                    if child_id not in ids:
                        ids.add(child_id)
                        next_frontier.setdefault(child_type, set()).add(child_id)
        frontier = next_frontier
    with transaction.atomic():
        Record.objects.filter(org=org, sf_id__in=ids).update(
            is_deleted=True, deleted_date=moment, system_modstamp=moment, last_modified_date=moment
        )
