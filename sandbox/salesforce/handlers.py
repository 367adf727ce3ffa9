"""Handlers of the REST resources under /services/data/vNN.N/ (routed by views.api)."""

from __future__ import annotations

from django.http import HttpResponse, JsonResponse

from sandbox import bulk
from sandbox.salesforce import deletes, schema, store, writes
from sandbox.salesforce import query as soql_query
from sandbox.salesforce.models import Record
from sandbox.salesforce.writes import Op, RequestError

BASE = f"/services/data/v{store.API_VERSION}"
MAX_COLLECTION = 200


def _json(data, status: int = 200) -> JsonResponse:
    return JsonResponse(data, safe=False, status=status)


def _object(ctx, sobject: str) -> schema.SObject:
    obj = schema.visible_object(ctx.org, sobject)
    if obj is None:
        raise RequestError("NOT_FOUND", "The requested resource does not exist", 404)
    return obj


def resources(ctx) -> JsonResponse:  # noqa: ARG001 (every handler takes ctx)
    names = ("sobjects", "query", "queryAll", "limits", "composite", "ui-api")
    return _json({name: f"{BASE}/{name}" for name in names})


def limits(ctx) -> JsonResponse:
    org = ctx.org
    return _json(
        {
            "DailyApiRequests": {"Max": org.api_max, "Remaining": max(0, org.api_max - org.api_used)},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            "DataStorageMB": {"Max": 1024, "Remaining": 1024},
        }
    )


def query(ctx, kind: str) -> JsonResponse:
    batch = soql_query.batch_size(ctx.request.headers.get("Sforce-Query-Options"))
    result = soql_query.run(
        ctx.org, ctx.meta, ctx.request.GET.get("q", ""), include_deleted=kind == "queryAll", batch=batch
    )
    return _json(result)


def query_more(ctx, locator: str) -> JsonResponse:
    batch = soql_query.batch_size(ctx.request.headers.get("Sforce-Query-Options"))
    return _json(soql_query.more(ctx.org, ctx.meta, locator, batch))


def _summary(obj: schema.SObject) -> dict:
    return {
        "name": obj.name,
        "label": obj.label,
        "labelPlural": obj.label + "s",
        "keyPrefix": obj.prefix,
        "custom": False,
        "queryable": True,
        "createable": obj.createable,
        "updateable": obj.createable,
        "deletable": obj.createable,
        "retrieveable": True,
        "searchable": True,
        "urls": {
            "sobject": f"{BASE}/sobjects/{obj.name}",
            "describe": f"{BASE}/sobjects/{obj.name}/describe",
            "rowTemplate": f"{BASE}/sobjects/{obj.name}/{{ID}}",
        },
    }


def global_describe(ctx) -> JsonResponse:
    objects = [schema.visible_object(ctx.org, name) for name in schema.OBJECTS]
    return _json(
        {
            "encoding": "UTF-8",
            "maxBatchSize": MAX_COLLECTION,
            "sobjects": [_summary(o) for o in objects if o is not None],
        }
    )


def sobject_info(ctx, sobject: str) -> JsonResponse:
    return _json({"objectDescribe": _summary(_object(ctx, sobject)), "recentItems": []})


def describe(ctx, sobject: str) -> JsonResponse:
    obj = _object(ctx, sobject)
    fields = ctx.meta.fields_of(obj.name)
    described = []
    for f in fields.values():
        entries = ctx.meta.picklist(f) if f.picklist else []
        default = entries[0][0] if f.picklist == "currencies" and entries else None
        described.append(schema.describe_field(f, schema.picklist_entries(entries, default)))
    body = _summary(obj)
    body.update(fields=described, recordTypeInfos=_record_type_infos(ctx, obj.name), childRelationships=[])
    return _json(body)


def _record_type_infos(ctx, sobject: str) -> list[dict]:
    types = ctx.meta.opportunity_record_types() if sobject == "Opportunity" else []
    master = {
        "recordTypeId": schema.MASTER_RECORD_TYPE_ID,
        "name": "Master",
        "developerName": "Master",
        "active": True,
        "available": not types,
        "defaultRecordTypeMapping": not types,
        "master": True,
    }
    infos = [
        {
            "recordTypeId": rt["Id"],
            "name": rt["Name"],
            "developerName": rt["DeveloperName"],
            "active": True,
            "available": True,
            "defaultRecordTypeMapping": i == 0,
            "master": False,
        }
        for i, rt in enumerate(types)
    ]
    return [*infos, master]


def picklist_values(ctx, sobject: str, record_type: str, field: str = "") -> JsonResponse:
    obj = _object(ctx, sobject)
    known = {rt["Id"] for rt in ctx.meta.record_types} | {schema.MASTER_RECORD_TYPE_ID}
    if record_type not in known and store.id18(record_type[:15]) not in known:
        raise RequestError("NOT_FOUND", f"Record type {record_type} not found", 404)
    fields = {n: f for n, f in ctx.meta.fields_of(obj.name).items() if f.picklist}
    rt = None if record_type == schema.MASTER_RECORD_TYPE_ID else record_type
    url = f"{BASE}/ui-api/object-info/{obj.name}/picklist-values/{record_type}"

    def entry(name: str, f: schema.F) -> dict:
        values = ctx.meta.picklist(f, rt)
        return {
            "controllerValues": {},
            "defaultValue": None,
            "eTag": f"{len(values):x}{name}",
            "url": f"{url}/{name}",
            "values": [
                {"attributes": None, "label": label, "validFor": [], "value": v} for v, label in values
            ],
        }

    if field:
        if field not in fields:
            raise RequestError("NOT_FOUND", f"Field {field} is not a picklist on {obj.name}", 404)
        return _json(entry(field, fields[field]))
    return _json({"eTag": "sandbox", "picklistFieldValues": {n: entry(n, f) for n, f in fields.items()}})


# --- single records ------------------------------------------------------------------------------


def _find(ctx, sobject: str, sf_id: str) -> Record:
    full = store.id18(sf_id) if len(sf_id) == 15 else sf_id
    rec = Record.objects.filter(org=ctx.org, sf_id=full, sobject=sobject).first()
    if rec is None:
        raise RequestError("NOT_FOUND", "The requested resource does not exist", 404)
    if rec.is_deleted:
        raise RequestError("ENTITY_IS_DELETED", "entity is deleted", 404)
    return rec


def _render_full(ctx, rec: Record, names: list[str] | None = None) -> dict:
    fields = ctx.meta.fields_of(rec.sobject)
    if names:
        unknown = [n for n in names if n not in fields]
        if unknown:
            raise RequestError(
                "INVALID_FIELD", f"No such column '{unknown[0]}' on sobject of type {rec.sobject}"
            )
    paths = [(n,) for n in (names or fields)]
    return store.render(store.row_of(rec), rec.sobject, paths, fields)


def _names(raw: str | None) -> list[str] | None:
    return [n.strip() for n in raw.split(",") if n.strip()] if raw else None


def get_record(ctx, sobject: str, sf_id: str) -> JsonResponse:
    obj = _object(ctx, sobject)
    return _json(_render_full(ctx, _find(ctx, obj.name, sf_id), _names(ctx.request.GET.get("fields"))))


def _single_result(result: dict, status: int) -> JsonResponse:
    if result["success"]:
        return _json(result, status)
    error = result["errors"][0]
    return _json(
        [{"message": error["message"], "errorCode": error["statusCode"], "fields": error["fields"]}], 400
    )


def create(ctx, sobject: str) -> JsonResponse:
    obj = _object(ctx, sobject)
    body = _dict_body(ctx)
    result = writes.apply(ctx.org, ctx.meta, [Op(obj.name, body)])[0]
    return _single_result(result, 201)


def update(ctx, sobject: str, sf_id: str) -> HttpResponse:
    obj = _object(ctx, sobject)
    rec = _find(ctx, obj.name, sf_id)
    result = writes.apply(ctx.org, ctx.meta, [Op(obj.name, _dict_body(ctx), existing=rec)])[0]
    return HttpResponse(status=204) if result["success"] else _single_result(result, 204)


def delete_record(ctx, sobject: str, sf_id: str) -> HttpResponse:
    obj = _object(ctx, sobject)
    rec = _find(ctx, obj.name, sf_id)
    result = deletes.delete(ctx.org, [rec.sf_id])[0]
    return HttpResponse(status=204) if result["success"] else _single_result(result, 204)


def _dict_body(ctx) -> dict:
    body = ctx.body
    if not isinstance(body, dict):
        raise RequestError(
            "JSON_PARSER_ERROR", "Cannot deserialize instance of sObject from the request body"
        )
    return body


def _by_external_id(ctx, obj: schema.SObject, field: str, value: str) -> list[Record]:
    f = ctx.meta.fields_of(obj.name).get(field)
    if f is None or not (f.external_id or field == "Id"):
        raise RequestError(
            "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {field}", 404
        )
    if field == "Id":
        return [
            r for r in Record.objects.filter(org=ctx.org, sobject=obj.name, sf_id=value, is_deleted=False)
        ]
    return list(Record.objects.filter(org=ctx.org, sobject=obj.name, ext_key=value.lower(), is_deleted=False))


def get_by_external_id(ctx, sobject: str, field: str, value: str) -> JsonResponse:
    obj = _object(ctx, sobject)
    found = _by_external_id(ctx, obj, field, value)
    if not found:
        raise RequestError("NOT_FOUND", "The requested resource does not exist", 404)
    if len(found) > 1:
        return _json([store.object_url(obj.name, r.sf_id) for r in found], 300)
    return _json(_render_full(ctx, found[0], _names(ctx.request.GET.get("fields"))))


def upsert(ctx, sobject: str, field: str, value: str) -> JsonResponse:
    obj = _object(ctx, sobject)
    found = _by_external_id(ctx, obj, field, value)
    if len(found) > 1:
        return _json([store.object_url(obj.name, r.sf_id) for r in found], 300)
    body = {**_dict_body(ctx), field: value}
    existing = found[0] if found else None
    result = writes.apply(ctx.org, ctx.meta, [Op(obj.name, body, existing=existing)])[0]
    result["created"] = existing is None
    return _single_result(result, 201 if existing is None else 200)


# --- sObject Collections -------------------------------------------------------------------------


def _collection_body(ctx) -> tuple[list[dict], bool]:
    body = ctx.body
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise RequestError("JSON_PARSER_ERROR", "Expected an object with a records array")
    records = body["records"]
    if len(records) > MAX_COLLECTION:
        raise RequestError(
            "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call"
        )
    if any(not isinstance(r, dict) or not isinstance(r.get("attributes") or {}, dict)
           or not isinstance((r.get("attributes") or {}).get("type"), str) or not r["attributes"]["type"]
           for r in records):
        raise RequestError("INVALID_TYPE", "Must send a concrete entity type.")
    return records, bool(body.get("allOrNone"))


def collection_create(ctx) -> JsonResponse:
    records, all_or_none = _collection_body(ctx)
    ops = []
    for r in records:
        op = Op(r["attributes"]["type"], r)
        if r.get("id") or r.get("Id"):
            op.error = writes.err("INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
        ops.append(op)
    return _json(writes.apply(ctx.org, ctx.meta, ops, all_or_none))


def collection_update(ctx) -> JsonResponse:
    records, all_or_none = _collection_body(ctx)
    ids = [str(r.get("id") or r.get("Id") or "") for r in records]
    full = [store.id18(i) if len(i) == 15 else i for i in ids]
    existing = {
        rec.sf_id: rec
        for rec in bulk.fetch_queryset(Record.objects.filter(org=ctx.org, sf_id__in=[i for i in full if i]))
    }
    ops = []
    for r, sf_id in zip(records, full, strict=True):
        rec = existing.get(sf_id)
        op = Op(r["attributes"]["type"], r, existing=rec)
        if not sf_id:
            op.error = writes.err("MISSING_ARGUMENT", "Id not specified in an update call")
        elif rec is None or rec.sobject != op.sobject:
            op.error = writes.err("INVALID_CROSS_REFERENCE_KEY", f"invalid cross reference id: {sf_id}")
        elif rec.is_deleted:
            op.error = writes.err("ENTITY_IS_DELETED", "entity is deleted")
        ops.append(op)
    results = writes.apply(ctx.org, ctx.meta, ops, all_or_none)
    for result, sf_id in zip(results, full, strict=True):
        result["id"] = result["id"] or sf_id or None
    return _json(results)


def collection_delete(ctx) -> JsonResponse:
    ids = [i for i in ctx.request.GET.get("ids", "").split(",") if i]
    if not ids:
        raise RequestError("MISSING_ARGUMENT", "ids parameter is required")
    if len(ids) > MAX_COLLECTION:
        raise RequestError("EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records")
    all_or_none = ctx.request.GET.get("allOrNone", "false").lower() == "true"
    return _json(deletes.delete(ctx.org, ids, all_or_none))


def collection_read(ctx, sobject: str) -> JsonResponse:
    obj = _object(ctx, sobject)
    if ctx.request.method == "POST":
        body = _dict_body(ctx)
        ids, names = body.get("ids") or [], body.get("fields") or None
        if not isinstance(ids, list) or not isinstance(names or [], list):
            raise RequestError("JSON_PARSER_ERROR", "ids and fields must be arrays of strings")
        ids, names = [str(i) for i in ids], [str(n) for n in names] if names else None
    else:
        ids, names = _names(ctx.request.GET.get("ids")) or [], _names(ctx.request.GET.get("fields"))
    if not names:
        raise RequestError("MISSING_ARGUMENT", "fields parameter is required")
    if len(ids) > 2000:
        raise RequestError("EXCEEDED_ID_LIMIT", "cannot retrieve more than 2000 records")
    full = [store.id18(i) if len(i) == 15 else i for i in ids]
    found = {
        r.sf_id: r
        for r in bulk.fetch_queryset(
            Record.objects.filter(org=ctx.org, sobject=obj.name, sf_id__in=full, is_deleted=False)
        )
    }
    return _json([_render_full(ctx, found[i], names) if i in found else None for i in full])


def collection_upsert(ctx, sobject: str, field: str) -> JsonResponse:
    obj = _object(ctx, sobject)
    records, all_or_none = _collection_body(ctx)
    f = ctx.meta.fields_of(obj.name).get(field)
    if f is None or not f.external_id:
        raise RequestError(
            "INVALID_FIELD",
            f"Field name provided, {field} is not an External ID or indexed field for {obj.name}",
        )
    keys = [str(r.get(field) or "").lower() for r in records]
    existing: dict[str, list[Record]] = {}
    for rec in bulk.fetch_queryset(
        Record.objects.filter(org=ctx.org, sobject=obj.name, ext_key__in=[k for k in keys if k], is_deleted=False)
    ):
        existing.setdefault(rec.ext_key, []).append(rec)
    ops = []
    for r, key in zip(records, keys, strict=True):
        matches = existing.get(key, [])
        op = Op(obj.name, r, existing=matches[0] if len(matches) == 1 else None)
        if not key:
            op.error = writes.err("MISSING_ARGUMENT", f"{field} not specified")
        elif len(matches) > 1:
            op.error = writes.err(
                "DUPLICATE_EXTERNAL_ID",
                f"{field}: more than one record found for external id field: {[m.sf_id for m in matches]}",
            )
        ops.append(op)
    results = writes.apply(ctx.org, ctx.meta, ops, all_or_none)
    for result, op in zip(results, ops, strict=True):
        result["created"] = result["success"] and op.existing is None
    return _json(results)
