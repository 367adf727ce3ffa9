"""Writing to HubSpot in batches of 100, with one result per input.

Every batch input carries an `objectWriteTraceId`, which makes HubSpot answer 207 with one
error per bad input instead of failing the whole call. Should a whole call fail anyway with a
permanent error (HubSpot without multi-status for that endpoint), its inputs are sent one by
one so the good records still get written and each bad one gets its own error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from connectors.base import COMPANIES, CONTACTS, DEALS, WriteResult
from connectors.errors import ConnectorError, ErrorCategory
from connectors.hubspot.client import error_from_body
from connectors.hubspot.convert import to_hubspot

if TYPE_CHECKING:
    from connectors.hubspot.connector import HubSpotConnector

BATCH = 100
# Categories that concern the call (the account or the app), not one record: they are raised.
CALL_LEVEL = {ErrorCategory.AUTHENTICATION_EXPIRED, ErrorCategory.PERMISSION_DENIED}
ASSOCIATION_TYPES = {(CONTACTS, COMPANIES): (1, 279), (DEALS, COMPANIES): (5, 341), (COMPANIES, CONTACTS): (280,),
                     (COMPANIES, DEALS): (342,), (DEALS, CONTACTS): (3,), (CONTACTS, DEALS): (4,)}


def _properties(conn: HubSpotConnector, object_type: str, values: Mapping[str, Any]) -> dict[str, str]:
    specs = conn.field_map(object_type)
    out = {}
    for name, value in values.items():
        try:
            out[name] = to_hubspot(specs.get(name), value)
        except ValueError as exc:
            raise ConnectorError(ErrorCategory.TYPE_MISMATCH, f"{name}: {exc}", field=name) from None
    return out


def write(conn: HubSpotConnector, object_type: str, creates: Sequence[Mapping[str, Any]],
          updates: Mapping[str, Mapping[str, Any]]) -> list[WriteResult]:
    """One result per record, in order (creates, then updates). The batches are sent side by side
    (connectors.fanout); once one fails as a whole, no other starts: the records of those not sent
    get its error, and when no batch was written at all the error is raised (the whole call failed)."""
    results: dict[Any, WriteResult] = {}
    batches: list[tuple[str, list[tuple[Any, dict]]]] = []
    for action, items in (("create", list(enumerate(creates))), ("update", list(updates.items()))):
        entries = []
        for ref, values in items:
            try:
                entry = {"properties": _properties(conn, object_type, values), "objectWriteTraceId": f"{action}-{ref}"}
            except ConnectorError as exc:
                results[(action, ref)] = WriteResult(ref, error=exc)
                continue
            if action == "update":
                entry["id"] = str(ref)
            entries.append((ref, entry))
        batches += [(action, entries[start:start + BATCH]) for start in range(0, len(entries), BATCH)]
    sent = conn.calls_side_by_side([partial(_send, conn, object_type, action, chunk) for action, chunk in batches])
    if sent.errors and not sent.done:
        raise sent.errors[min(sent.errors)]  # nothing written: the whole call failed
    failure = sent.errors[min(sent.errors)] if sent.errors else None
    for index, (action, chunk) in enumerate(batches):
        answers = sent.results[index] if index in sent.done else {ref: WriteResult(ref, error=failure) for ref, _ in chunk}
        for ref, result in answers.items():
            results[(action, ref)] = result
    ordered = [results[("create", i)] for i in range(len(creates))]
    return ordered + [results[("update", ref)] for ref in updates]


def _send(conn: HubSpotConnector, object_type: str, action: str, chunk: list[tuple[Any, dict]]) -> dict[Any, WriteResult]:
    try:
        body = conn.client.json("POST", f"/crm/v3/objects/{object_type}/batch/{action}",
                                json={"inputs": [entry for _, entry in chunk]})
    except ConnectorError as exc:
        if exc.category.transient or exc.category in CALL_LEVEL:
            raise
        if len(chunk) == 1:
            return {chunk[0][0]: WriteResult(chunk[0][0], error=exc)}
        out: dict[Any, WriteResult] = {}
        for single in chunk:
            out.update(_send(conn, object_type, action, [single]))
        return out
    return _results(body, chunk)


def _results(body: Any, chunk: list[tuple[Any, dict]]) -> dict[Any, WriteResult]:
    by_trace = {entry["objectWriteTraceId"]: ref for ref, entry in chunk}
    by_id = {entry.get("id"): ref for ref, entry in chunk if entry.get("id")}
    out: dict[Any, WriteResult] = {}
    body = body if isinstance(body, Mapping) else {}
    for item in body.get("results") or []:
        if not isinstance(item, Mapping) or "id" not in item:
            continue
        ref = by_trace.get(item.get("objectWriteTraceId"), by_id.get(str(item["id"])))
        if ref is not None:
            out[ref] = WriteResult(ref, id=str(item["id"]))
    for err in body.get("errors") or []:
        if not isinstance(err, Mapping):
            continue
        context = err.get("context") if isinstance(err.get("context"), Mapping) else {}
        refs = [by_trace[t] for t in context.get("objectWriteTraceId") or [] if t in by_trace]
        refs += [by_id[i] for i in context.get("ids") or [] if i in by_id]
        for ref in refs:
            out.setdefault(ref, WriteResult(ref, error=error_from_body(err)))
    for ref, _ in chunk:
        if ref not in out:
            out[ref] = WriteResult(ref, error=ConnectorError(
                ErrorCategory.MALFORMED_RESPONSE, "HubSpot's batch response has no result for this record"))
    return out


def delete(conn: HubSpotConnector, object_type: str, ids: Sequence[str]) -> list[WriteResult]:
    ids = [str(i) for i in ids]
    for start in range(0, len(ids), BATCH):
        conn.client.call("POST", f"/crm/v3/objects/{object_type}/batch/archive",
                         json={"inputs": [{"id": i} for i in ids[start:start + BATCH]]})
    return [WriteResult(i, id=i) for i in ids]


def write_associations(conn: HubSpotConnector, object_type: str, to_type: str,
                       pairs: Sequence[tuple[str, str]]) -> list[WriteResult]:
    """Associate pairs in batches of 100; to a company from a contact or deal the association is
    the primary one (type ids 1 and 5, with the unlabeled 279 and 341), which replaces the
    record's previous primary company (it stays associated, unlabeled)."""
    type_ids = ASSOCIATION_TYPES.get((object_type, to_type))
    if type_ids is None:
        error = ConnectorError(ErrorCategory.ASSOCIATION_FAILED, f"HubSpot has no {object_type}->{to_type} association")
        return [WriteResult(pair, error=error) for pair in pairs]
    types = [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": t} for t in type_ids]
    inputs = [{"from": {"id": str(a)}, "to": {"id": str(b)}, "types": types} for a, b in pairs]
    return _association_batches(conn, f"/crm/v4/associations/{object_type}/{to_type}/batch/create", pairs, inputs)


def remove_associations(conn: HubSpotConnector, object_type: str, to_type: str,
                        pairs: Sequence[tuple[str, str]]) -> list[WriteResult]:
    inputs = [{"from": {"id": str(a)}, "to": [{"id": str(b)}]} for a, b in pairs]
    return _association_batches(conn, f"/crm/v4/associations/{object_type}/{to_type}/batch/archive", pairs, inputs)


def _association_batches(conn, path: str, pairs: Sequence[tuple[str, str]], inputs: list[dict]) -> list[WriteResult]:
    """One result per pair, in order: a 207's errors go to their pairs; a whole batch HubSpot
    refuses for good fails its pairs (transient and account-level errors are raised)."""
    results = []
    for start in range(0, len(inputs), BATCH):
        chunk_pairs = [(str(a), str(b)) for a, b in pairs[start:start + BATCH]]
        failed: dict[tuple[str, str], ConnectorError] = {}
        try:
            body = conn.client.json("POST", path, json={"inputs": inputs[start:start + BATCH]})
        except ConnectorError as exc:
            if exc.category.transient or exc.category in CALL_LEVEL:
                raise
            body, failed = None, dict.fromkeys(chunk_pairs, _association_error(exc))
        for err in (body or {}).get("errors") or [] if isinstance(body, Mapping) else []:
            context = (err.get("context") or {}) if isinstance(err, Mapping) else {}
            for a in context.get("fromObjectId") or []:
                for b in context.get("toObjectId") or []:
                    failed[(str(a), str(b))] = _association_error(error_from_body(err))
        results += [WriteResult(pair, error=failed.get(pair), id=None if pair in failed else pair[1])
                    for pair in chunk_pairs]
    return results


def _association_error(error: ConnectorError) -> ConnectorError:
    if error.category in (ErrorCategory.INVALID_PROPERTY_VALUE, ErrorCategory.UNKNOWN):
        error.category = ErrorCategory.ASSOCIATION_FAILED
    return error
