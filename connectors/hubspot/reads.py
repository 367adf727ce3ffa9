"""Reading from HubSpot: incremental reads through search, batch reads, lookups for matching
and associations (primary company first).

Incremental reads walk a (last-modified, id) keyset. The cursor {"t": ms, "id": n} means
"every record with a last-modified time before t, and those at t with an id up to n, have
been read" (id None: none at t yet). Each query starts at offset 0, so paging never reaches
search's 10,000-result cap, and records sharing one timestamp are read by id, in pages, so a
bulk import stamped with a single millisecond is never skipped nor looped over.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from connectors.base import COMPANIES, CONTACTS, DEALS, Page, Record
from connectors.errors import ConnectorError, ErrorCategory
from connectors.hubspot.convert import from_hubspot, parse_datetime

if TYPE_CHECKING:
    from connectors.hubspot.connector import HubSpotConnector

LASTMOD = {CONTACTS: "lastmodifieddate"}  # every other type: hs_lastmodifieddate
# Read with every record: a contact's companies, a deal's contacts and companies (primary first).
ASSOCIATED = {CONTACTS: (COMPANIES,), DEALS: (CONTACTS, COMPANIES)}
PRIMARY_TYPE_IDS = {(CONTACTS, COMPANIES): 1, (DEALS, COMPANIES): 5, (COMPANIES, CONTACTS): 2, (COMPANIES, DEALS): 6}
BATCH = 100
SEARCH_LAG_SECONDS = 15
ASSOCIATION_BATCH = 1000


def lastmod_property(object_type: str) -> str:
    return LASTMOD.get(object_type, "hs_lastmodifieddate")


def parse_time(value: Any):
    try:
        return parse_datetime(str(value)) if value else None
    except ValueError:
        return None


def _epoch_ms(value: Any) -> int | None:
    moment = parse_time(value)
    return int(moment.timestamp() * 1000) if moment else None


def read_changes(conn: HubSpotConnector, object_type: str, cursor: Any = None) -> Iterator[Page]:
    """Search pages of the records changed since `cursor`, without their associations: the
    connector joins pages and reads the associations of each joined page at once."""
    state = dict(cursor) if isinstance(cursor, dict) else {"t": 0, "id": None}
    t, last_id = int(state.get("t") or 0), state.get("id")
    # Search lags writes by a few seconds (reference 1.6): a record changed just now may not be
    # searchable yet, and once the cursor is past its timestamp it would never be read. So a run
    # reads changes up to `search_lag_seconds` ago, and leaves newer ones for the next run.
    lag_ms = int(float(conn.options.get("search_lag_seconds", SEARCH_LAG_SECONDS)) * 1000)
    until = int(time.time() * 1000) - lag_ms
    page_size = int(conn.options.get("search_page_size", 200))
    prop = lastmod_property(object_type)
    while True:
        # The rest of timestamp t (by id) or anything newer, oldest first: one call per page.
        after_t = [_f(prop, "EQ", t), _f("hs_object_id", "GT", last_id if last_id is not None else -1)]
        if t > until:
            return
        newer = [_f(prop, "GT", t), _f(prop, "LTE", until)]
        body = _search(conn, object_type, [after_t, newer], prop, page_size)
        items = [i for i in body["results"] if _epoch_ms(i["properties"].get(prop)) is not None]
        if len(body["results"]) < page_size:
            if items:
                t = max(_epoch_ms(i["properties"][prop]) for i in items)
                last_id = max(int(i["id"]) for i in items if _epoch_ms(i["properties"][prop]) == t)
                yield Page(_records(conn, object_type, items, associations=False), {"t": t, "id": last_id}, body.get("total"))
            return
        if not items:
            raise ConnectorError(ErrorCategory.MALFORMED_RESPONSE, f"HubSpot's search results have no {prop}")
        newest = max(_epoch_ms(i["properties"][prop]) for i in items)
        if newest > t:
            # Records at the page's newest timestamp may continue on the next page: read those
            # before it now, and that timestamp from its start on the next turn.
            older = [i for i in items if _epoch_ms(i["properties"][prop]) < newest]
            t, last_id = newest, None
            if older:
                yield Page(_records(conn, object_type, older, associations=False), {"t": t, "id": None}, body.get("total"))
            continue
        # A whole page shares timestamp t: walk that timestamp by id until it is exhausted.
        while True:
            tie = [_f(prop, "EQ", t), _f("hs_object_id", "GT", last_id if last_id is not None else -1)]
            body = _search(conn, object_type, [tie], "hs_object_id", page_size)
            if body["results"]:
                last_id = max(int(i["id"]) for i in body["results"])
                yield Page(_records(conn, object_type, body["results"], associations=False), {"t": t, "id": last_id}, body.get("total"))
            if len(body["results"]) < page_size:
                break


def _f(prop: str, operator: str, value: Any) -> dict:
    return {"propertyName": prop, "operator": operator, "value": str(value)}


def _search(conn: HubSpotConnector, object_type: str, groups: list[list[dict]], sort: str, limit: int,
            after: str | None = None) -> dict:
    payload = {"filterGroups": [{"filters": g} for g in groups],
               "sorts": [{"propertyName": sort, "direction": "ASCENDING"}],
               "properties": _property_names(conn, object_type), "limit": limit}
    if after:
        payload["after"] = after
    body = conn.client.json("POST", f"/crm/v3/objects/{object_type}/search", json=payload, search=True)
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise ConnectorError(ErrorCategory.MALFORMED_RESPONSE, "HubSpot's search response has no 'results' list")
    if not all(isinstance(i, dict) and str(i.get("id", "")).isdigit() and isinstance(i.get("properties"), dict)
               for i in body["results"]):
        raise ConnectorError(ErrorCategory.MALFORMED_RESPONSE, "HubSpot's search response has a malformed record")
    return body


def _property_names(conn: HubSpotConnector, object_type: str) -> list[str]:
    return sorted(conn.field_map(object_type))


def _records(conn: HubSpotConnector, object_type: str, items: list[dict], *, associations: bool = True) -> list[Record]:
    specs = conn.field_map(object_type)
    prop = lastmod_property(object_type)
    records = []
    for item in items:
        props = item.get("properties") or {}
        records.append(Record(
            id=str(item["id"]),
            values={name: from_hubspot(specs.get(name), value) for name, value in props.items()},
            modified_at=parse_time(props.get(prop) or item.get("updatedAt")),
            archived=bool(item.get("archived")),
            merged_ids=[i for i in str(props.get("hs_merged_object_ids") or "").split(";") if i.strip()],
        ))
    if associations and conn.options.get("read_associations", True):
        for to_type in ASSOCIATED.get(object_type, ()):
            found = read_associations(conn, object_type, [r.id for r in records], to_type)
            for record in records:
                record.associations[to_type] = found.get(record.id, [])
    return records


def read(conn: HubSpotConnector, object_type: str, ids: Sequence[str]) -> dict[str, Record]:
    """The records of `ids` that exist, their batches read side by side (connectors.fanout)."""

    def read_chunk(chunk: list[str]) -> list[Record]:
        return _records(conn, object_type, _batch_read(conn, object_type, [{"id": i} for i in chunk]))

    chunks = _chunks(list(dict.fromkeys(str(i) for i in ids)), BATCH)
    return {record.id: record for records in _side_by_side(conn, read_chunk, chunks) for record in records}


def _side_by_side(conn: HubSpotConnector, call, chunks) -> list:
    """`[call(chunk) for chunk in chunks]`, sent side by side; the first error in order is raised."""
    batch = conn.calls_side_by_side([partial(call, chunk) for chunk in chunks])
    if batch.errors:
        raise batch.errors[min(batch.errors)]
    return batch.results


def _batch_read(conn: HubSpotConnector, object_type: str, inputs: list[dict], id_property: str = "") -> list[dict]:
    payload: dict[str, Any] = {"inputs": inputs, "properties": _property_names(conn, object_type)}
    if id_property:
        payload["idProperty"] = id_property
    body = conn.client.json("POST", f"/crm/v3/objects/{object_type}/batch/read", json=payload)
    # Missing ids come back in a 207's errors (OBJECT_NOT_FOUND): absent from the result.
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise ConnectorError(ErrorCategory.MALFORMED_RESPONSE, "HubSpot's batch read response has no 'results' list")
    return [i for i in body["results"] if isinstance(i, dict) and "id" in i]


def find(conn: HubSpotConnector, object_type: str, field_name: str, values: Sequence[str]) -> dict[str, list[Record]]:
    wanted = {str(v).strip().casefold(): str(v) for v in values if v not in (None, "")}
    out: dict[str, list[Record]] = {}
    if not wanted:
        return out
    spec = conn.field_map(object_type).get(field_name)
    if spec is None:
        raise ConnectorError(ErrorCategory.INVALID_PROPERTY_VALUE, f"HubSpot has no {object_type} property {field_name}",
                             field=field_name)
    if object_type == CONTACTS and field_name == "email":
        by_email = partial(_batch_read, conn, object_type, id_property="email")
        parts = _side_by_side(conn, lambda chunk: by_email([{"id": k} for k in chunk]), _chunks(list(wanted), BATCH))
    else:
        parts = _side_by_side(conn, partial(_search_in, conn, object_type, field_name), _chunks(list(wanted.values()), BATCH))
    items = [item for part in parts for item in part]
    for record in _records(conn, object_type, items):
        key = str(record.values.get(field_name) or "").strip().casefold()
        if key in wanted:
            out.setdefault(wanted[key], []).append(record)
    return out


def _search_in(conn: HubSpotConnector, object_type: str, field_name: str, values: list[str]) -> list[dict]:
    """Every record whose `field_name` is one of `values`, through search's pages."""
    items, after = [], None
    while True:
        body = _search(conn, object_type, [[{"propertyName": field_name, "operator": "IN", "values": values}]],
                       "hs_object_id", 200, after)
        items += body["results"]
        after = ((body.get("paging") or {}).get("next") or {}).get("after")
        if not after:
            return items


def read_associations(conn: HubSpotConnector, object_type: str, ids: Sequence[str], to_type: str) -> dict[str, list[str]]:
    """{id: [associated id, ...]} (the primary first), every page of every record's associations.

    HubSpot answers at most 500 associations per input; a result with more carries
    paging.next.after, and the next request asks for that input again from there. A record
    without associations comes back as a 207 error (NO_ASSOCIATIONS_FOUND): it has none.
    """
    found: dict[str, list[dict]] = {}
    primary = PRIMARY_TYPE_IDS.get((object_type, to_type))
    pending = [{"id": str(i)} for i in ids]
    while pending:
        chunk, pending = pending[:ASSOCIATION_BATCH], pending[ASSOCIATION_BATCH:]
        body = conn.client.json("POST", f"/crm/v4/associations/{object_type}/{to_type}/batch/read",
                                json={"inputs": chunk})
        if not isinstance(body, dict) or not isinstance(body.get("results") or [], list):
            raise ConnectorError(ErrorCategory.MALFORMED_RESPONSE,
                                 "HubSpot's association batch read response has no 'results' list")
        asked = {i["id"] for i in chunk}
        for result in body.get("results") or []:
            from_id = str((result.get("from") or {}).get("id"))
            targets = [t for t in result.get("to") or [] if isinstance(t, dict) and "toObjectId" in t]
            found.setdefault(from_id, []).extend(targets)
            after = (((result.get("paging") or {}).get("next") or {}).get("after"))
            if after and from_id in asked:
                if not targets:
                    raise ConnectorError(ErrorCategory.MALFORMED_RESPONSE,
                                         f"HubSpot's association page for {object_type} {from_id} is empty but has a next page")
                pending.append({"id": from_id, "after": str(after)})
    out: dict[str, list[str]] = {}
    for from_id, targets in found.items():
        ordered = sorted(targets, key=lambda t: primary not in [a.get("typeId") for a in t.get("associationTypes") or []])
        out[from_id] = list(dict.fromkeys(str(t["toObjectId"]) for t in ordered))
    return out


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
