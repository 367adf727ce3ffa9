"""Associations in Salesforce terms: a lookup field (Contact.AccountId, Opportunity.AccountId)
or a junction record (OpportunityContactRole between an Opportunity and a Contact)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from connectors.base import COMPANIES, CONTACTS, DEALS, WriteResult
from connectors.errors import ConnectorError, ErrorCategory
from connectors.salesforce import soql
from connectors.salesforce.soql import chunks, in_chunks

if TYPE_CHECKING:
    from connectors.salesforce.connector import SalesforceConnector

# (from, to) -> (sObject holding the link, its field pointing at "from", its field pointing at "to")
LOOKUPS = {
    (CONTACTS, COMPANIES): ("Contact", "Id", "AccountId"),
    (COMPANIES, CONTACTS): ("Contact", "AccountId", "Id"),
    (DEALS, COMPANIES): ("Opportunity", "Id", "AccountId"),
    (COMPANIES, DEALS): ("Opportunity", "AccountId", "Id"),
    (DEALS, CONTACTS): ("OpportunityContactRole", "OpportunityId", "ContactId"),
    (CONTACTS, DEALS): ("OpportunityContactRole", "ContactId", "OpportunityId"),
}


# Pairs whose link is a lookup field of the record itself: setting or clearing it bumps the
# record's SystemModstamp, so read_changes already sees the change.
ON_THE_RECORD = {(CONTACTS, COMPANIES), (DEALS, COMPANIES)}


def _supported(connector: SalesforceConnector, object_type: str, to_type: str) -> bool:
    """Known pairs, except any touching contacts when contacts are Leads (a Lead has no Account
    and no contact roles until it is converted)."""
    leads = connector.sobject(CONTACTS) == "Lead" and CONTACTS in (object_type, to_type)
    return (object_type, to_type) in LOOKUPS and not leads


def _unsupported(object_type: str, to_type: str) -> ConnectorError:
    return ConnectorError(
        ErrorCategory.ASSOCIATION_FAILED,
        f"Salesforce has no association from {object_type} to {to_type} that Syncsite syncs",
    )


def read(
    connector: SalesforceConnector, object_type: str, ids: Sequence[str], to_type: str
) -> dict[str, list[str]]:
    """Associated ids for each id, primary first (contact roles: IsPrimary, then oldest)."""
    if not _supported(connector, object_type, to_type):
        raise _unsupported(object_type, to_type)
    sobject, from_field, to_field = LOOKUPS[(object_type, to_type)]
    result: dict[str, list[str]] = {i: [] for i in ids}
    order = "IsPrimary DESC, CreatedDate ASC, Id ASC" if sobject == "OpportunityContactRole" else ""
    fields = [from_field, to_field]
    query = lambda in_: soql.select(fields, sobject, f"{from_field} IN {in_}", order)  # noqa: E731
    for _, text in in_chunks(list(dict.fromkeys(ids)), query, budget=connector.client.in_budget):
        for row in connector.client.query_all(text):
            if row.get(to_field) and row.get(from_field) in result:
                result[row[from_field]].append(row[to_field])
    return result


def changes(
    connector: SalesforceConnector, object_type: str, to_type: str, cursor: Any
) -> tuple[list[str], Any] | None:
    """Opportunities whose contact roles were created, changed or deleted since `cursor`.

    A contact role is a record of its own: adding or removing one leaves the opportunity's
    SystemModstamp alone, but it has a SystemModstamp itself, and queryAll shows deleted ones
    too. One query (paged) per call, resumable exactly like read_changes.
    """
    if not _supported(connector, object_type, to_type):
        return None
    if (object_type, to_type) in ON_THE_RECORD:
        return [], cursor
    if (object_type, to_type) != (DEALS, CONTACTS):
        return None
    fields = ["Id", "OpportunityId", "SystemModstamp"]
    if cursor is None:
        # Start from now by the server's clock (one cheap call to read its Date header), less the
        # settling time read_changes allows: a role saved by a transaction still open now gets a
        # SystemModstamp from before it commits (re-reads are harmless, gaps are not).
        connector.client.query_all("SELECT Id FROM OpportunityContactRole LIMIT 1")
        now = connector.client.server_time or datetime.now(UTC)
        start = now - timedelta(seconds=connector.settle_seconds)
        return [], {"modstamp": start.strftime("%Y-%m-%dT%H:%M:%S.000+0000"), "id": ""}
    changed: dict[str, None] = {}
    for batch, after in connector.batches_since(
        "OpportunityContactRole", fields, cursor, include_deleted=True
    ):
        changed.update((row["OpportunityId"], None) for row in batch["records"] if row.get("OpportunityId"))
        cursor = after
    return list(changed), cursor


def write(
    connector: SalesforceConnector, object_type: str, to_type: str, pairs: Sequence[tuple[str, str]]
) -> list[WriteResult]:
    if not _supported(connector, object_type, to_type):
        return [WriteResult(pair, error=_unsupported(object_type, to_type)) for pair in pairs]
    sobject, from_field, _ = LOOKUPS[(object_type, to_type)]
    if sobject == "OpportunityContactRole":
        return _add_roles(connector, pairs, swapped=from_field == "ContactId")
    # A lookup: set AccountId on the Contact/Opportunity side of each pair.
    swapped = from_field != "Id"
    updates = {}
    for a, b in pairs:
        record_id, account_id = (b, a) if swapped else (a, b)
        updates[record_id] = {"AccountId": account_id}
    owner_type = CONTACTS if sobject == "Contact" else DEALS
    by_id = {r.ref: r for r in connector.write(owner_type, updates=updates)}
    return [_as_pair(by_id[(b if swapped else a)], (a, b)) for a, b in pairs]


def _as_pair(result: WriteResult, pair: tuple[str, str]) -> WriteResult:
    return WriteResult(pair, id=result.id, error=result.error)


def _add_roles(
    connector: SalesforceConnector, pairs: Sequence[tuple[str, str]], swapped: bool
) -> list[WriteResult]:
    """Create missing OpportunityContactRoles; the first role of an opportunity becomes primary.

    A role that exists already is a success; a pair given twice gets the first one's result.
    """
    normal = [(b, a) if swapped else (a, b) for a, b in pairs]  # (opportunity, contact)
    existing = read(connector, DEALS, list(dict.fromkeys(o for o, _ in normal)), CONTACTS)
    to_create: list[tuple[int, dict]] = []
    has_primary = {opp for opp, contacts in existing.items() if contacts}
    results: dict[int, WriteResult] = {}
    first_of: dict[tuple[str, str], int] = {}
    repeats: dict[int, int] = {}
    for index, (opp, contact) in enumerate(normal):
        if (opp, contact) in first_of:
            repeats[index] = first_of[(opp, contact)]
            continue
        first_of[(opp, contact)] = index
        if contact in existing.get(opp, []):
            results[index] = WriteResult(pairs[index])
            continue
        body = {
            "attributes": {"type": "OpportunityContactRole"},
            "OpportunityId": opp,
            "ContactId": contact,
            "IsPrimary": opp not in has_primary,
        }
        has_primary.add(opp)
        to_create.append((index, body))
    for chunk in chunks(to_create, connector.batch_size):
        for (index, _), result in zip(chunk, connector._write_chunk("POST", chunk), strict=True):
            results[index] = WriteResult(pairs[index], id=result.id, error=result.error)
    for index, first in repeats.items():
        results[index] = _as_pair(results[first], pairs[index])
    return [results[i] for i in range(len(pairs))]


def remove(
    connector: SalesforceConnector, object_type: str, to_type: str, pairs: Sequence[tuple[str, str]]
) -> list[WriteResult]:
    if not _supported(connector, object_type, to_type):
        return [WriteResult(pair, error=_unsupported(object_type, to_type)) for pair in pairs]
    sobject, from_field, to_field = LOOKUPS[(object_type, to_type)]
    if sobject == "OpportunityContactRole":
        wanted = {(a, b) for a, b in pairs}
        role_ids: dict[tuple[str, str], list[str]] = {}
        fields = ["Id", from_field, to_field]
        query = lambda in_: soql.select(fields, sobject, f"{from_field} IN {in_}")  # noqa: E731
        for _, text in in_chunks(list({a for a, _ in pairs}), query, budget=connector.client.in_budget):
            for row in connector.client.query_all(text):
                key = (row[from_field], row[to_field])
                if key in wanted:
                    role_ids.setdefault(key, []).append(row["Id"])
        all_ids = [rid for ids in role_ids.values() for rid in ids]
        outcome = {r.ref: r for r in connector.delete(DEALS, all_ids)} if all_ids else {}
        results = []
        for pair in pairs:
            errors = [outcome[rid].error for rid in role_ids.get(tuple(pair), []) if outcome[rid].error]
            results.append(WriteResult(pair, error=errors[0] if errors else None))
        return results
    # A lookup: clear AccountId where it still points at the company of the pair.
    swapped = from_field != "Id"
    owner_type = CONTACTS if sobject == "Contact" else DEALS
    normal = [((b, a) if swapped else (a, b)) for a, b in pairs]  # (record, account)
    current = read(connector, owner_type, [r for r, _ in normal], COMPANIES)
    updates = {r: {"AccountId": None} for r, account in normal if account in current.get(r, [])}
    by_id = {res.ref: res for res in connector.write(owner_type, updates=updates)} if updates else {}
    return [
        _as_pair(by_id[r], pair) if r in by_id else WriteResult(pair)
        for (r, _), pair in zip(normal, pairs, strict=True)
    ]
