"""Running SOQL: pre-filter in the database, evaluate the rest in Python, page through a cursor."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.db import connection
from django.db.models import F
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Collate, Lower
from django.utils import timezone

from sandbox import bulk
from sandbox.salesforce import evaluate, soql, store
from sandbox.salesforce.models import Org, QueryCursor, Record
from sandbox.salesforce.writes import RequestError

MAX_BATCH = 2000
COLUMNS = ("sf_id", "sobject", "data", "is_deleted", "created_date", "last_modified_date", "system_modstamp")


def rows(queryset) -> list[dict[str, Any]]:
    """Rows for SOQL from a queryset, without building model instances (10,000s of rows) and
    without the ORM's converter per value (its SQL runs on a plain cursor)."""
    found = bulk.queryset_rows(queryset.values_list(*COLUMNS))
    from_json, from_datetime = bulk.from_json, bulk.from_datetime
    out = []
    for sf_id, sobject, data, deleted, created, modified, modstamp in found:
        row = from_json(data)
        row["Id"] = sf_id
        row["IsDeleted"] = bool(deleted)
        row["CreatedDate"] = from_datetime(created)
        row["LastModifiedDate"] = from_datetime(modified)
        row["SystemModstamp"] = from_datetime(modstamp)
        row["_type"] = sobject
        out.append(row)
    return out


def _id_collated():
    """sf_id compared byte-wise, as Python compares it (PostgreSQL's default collation would not)."""
    return Collate("sf_id", "C") if connection.vendor == "postgresql" else F("sf_id")


def batch_size(header: str | None) -> int:
    """`Sforce-Query-Options: batchSize=N` (200 to 2000; Salesforce may return fewer)."""
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key.lower() == "batchsize" and value.isdigit():
            return max(200, min(MAX_BATCH, int(value)))
    return MAX_BATCH


def run(org: Org, meta: store.OrgMeta, text: str, *, include_deleted: bool, batch: int = MAX_BATCH) -> dict:
    if not text:
        raise RequestError("MALFORMED_QUERY", "A query string has to be specified")
    query = soql.parse(text)
    soql.resolve(query, meta.fields_of)
    matching = _matching_rows(org, meta, query, include_deleted)
    total = len(matching)
    if query.count:
        return {"totalSize": total, "done": True, "records": []}
    result: dict[str, Any] = {"totalSize": total, "done": total <= batch}
    if total > batch:
        locator = "01g" + secrets.token_hex(8)
        # Salesforce keeps a cursor for 15 minutes of inactivity; the sandbox forgets it after 15.
        QueryCursor.objects.filter(org=org, created_at__lt=timezone.now() - timedelta(minutes=15)).delete()
        QueryCursor.objects.create(
            org=org,
            locator=locator,
            sobject=query.sobject,
            include_deleted=include_deleted,
            fields=[list(p) for p in query.paths],
            ids=[r["Id"] for r in matching],
        )
        result["nextRecordsUrl"] = f"/services/data/v{store.API_VERSION}/query/{locator}-{batch}"
    page = matching[:batch]
    store.attach_relationships(org, page, query.sobject, query.paths, meta.fields_of)
    fields = meta.fields_of(query.sobject)
    result["records"] = [store.render(r, query.sobject, query.paths, fields) for r in page]
    return result


def _matching_rows(org: Org, meta: store.OrgMeta, query: soql.Query, include_deleted: bool) -> list[dict]:
    qs = Record.objects.filter(org=org, sobject=query.sobject)
    if not include_deleted:
        qs = qs.filter(is_deleted=False)
    condition = evaluate.db_filter(query.where)
    if condition is not None:
        qs = qs.annotate(sf_id_c=_id_collated()).filter(condition)
    ref = evaluate.reference_filter(query.where)
    if ref is not None:
        # `OpportunityId IN (...)` and the like: a JSON key filter, so a query for a few hundred
        # parents does not load an org's 10,000s of contact roles.
        name, values = ref
        values = values | {store.id18(v) for v in values if len(v) == 15}
        stored = _stored_name(meta, query.sobject, name)
        qs = qs.filter(**{f"data__{stored}__in": sorted(values)})
    text = evaluate.text_filter(query.where, query.types)
    if text is not None:
        # `Email IN (...)` (matching): case-insensitive, like SOQL, on the JSON value.
        name, values = text
        stored = _stored_name(meta, query.sobject, name)
        qs = qs.annotate(text_match=Lower(KeyTextTransform(stored, "data"))).filter(
            text_match__in=sorted(values)
        )
    candidates = rows(qs)
    where_paths = [p for p in query.types if len(p) > 1]
    if where_paths:
        store.attach_relationships(org, candidates, query.sobject, where_paths, meta.fields_of)
    matching = [r for r in candidates if evaluate.matches(query.where, r, query.types)]
    matching = evaluate.sort_rows(matching, query.order, query.types)
    end = query.offset + query.limit if query.limit is not None else None
    return matching[query.offset : end]


def _stored_name(meta: store.OrgMeta, sobject: str, name: str) -> str:
    """A field's name as stored in `data` (SOQL names are case-insensitive)."""
    return next((f for f in meta.fields_of(sobject) or {} if f.lower() == name.lower()), name)


def more(org: Org, meta: store.OrgMeta, locator_and_offset: str, batch: int = MAX_BATCH) -> dict:
    """The next batch of a query cursor (`/query/<locator>-<offset>`)."""
    locator, _, offset_text = locator_and_offset.rpartition("-")
    cursor = QueryCursor.objects.filter(org=org, locator=locator).first()
    if cursor is None or not offset_text.isdigit():
        raise RequestError("INVALID_QUERY_LOCATOR", "invalid query locator")
    offset = int(offset_text)
    ids = cursor.ids[offset : offset + batch]
    qs = Record.objects.filter(org=org, sf_id__in=ids)
    by_id = {r["Id"]: r for r in rows(qs)}
    page = [by_id[i] for i in ids if i in by_id]
    paths = [tuple(p) for p in cursor.fields]
    store.attach_relationships(org, page, cursor.sobject, paths, meta.fields_of)
    fields = meta.fields_of(cursor.sobject)
    done = offset + batch >= len(cursor.ids)
    result: dict[str, Any] = {"totalSize": len(cursor.ids), "done": done}
    if not done:
        result["nextRecordsUrl"] = f"/services/data/v{store.API_VERSION}/query/{locator}-{offset + batch}"
    result["records"] = [store.render(r, cursor.sobject, paths, fields) for r in page]
    return result
