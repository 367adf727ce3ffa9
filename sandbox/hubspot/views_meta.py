"""Properties, pipelines and v4 associations (reference 1.8, 1.9, 1.10)."""

from __future__ import annotations

import copy

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.http import HttpResponse, JsonResponse

from sandbox.hubspot import associations, store
from sandbox.hubspot.gate import BadRequest, api, object_scopes, read_json, read_object, whole_number
from sandbox.hubspot.models import CrmObject, Pipeline
from sandbox.hubspot.schema import (
    ASSOCIATION_TYPES,
    OBJECT_TYPES,
    PROPERTIES,
    PROPERTY_INDEX,
    is_id,
    object_type_from_path,
    type_label,
)


def _schema_scopes(object_type, request):
    if request.method not in ("GET", "HEAD"):
        return {f"crm.schemas.{object_type}.write"}
    return {f"crm.schemas.{object_type}.read"} | object_scopes(object_type, "read")


def _property_body(portal, object_type: str, prop: dict) -> dict:
    body = copy.deepcopy(prop)
    custom = (portal.property_options or {}).get(object_type, {}).get(prop["name"])
    if custom is not None:
        body["options"] = copy.deepcopy(custom)
    if object_type == "deals" and prop["name"] in ("pipeline", "dealstage"):
        pipelines = Pipeline.objects.filter(portal=portal, object_type="deals", archived=False).order_by("display_order", "pk")
        if prop["name"] == "pipeline":
            body["options"] = [{"label": p.label, "value": p.pipeline_id, "displayOrder": p.display_order,
                                "hidden": False} for p in pipelines]
        else:
            body["options"] = [{"label": s["label"], "value": s["id"], "displayOrder": s["displayOrder"],
                                "hidden": False, "description": f"{p.label}"} for p in pipelines for s in p.stages]
    return body


@api(scopes=_schema_scopes)
def properties(_request, caller, object_type):
    return JsonResponse({"results": [_property_body(caller.portal, object_type, p) for p in PROPERTIES[object_type]]})


@api(scopes=_schema_scopes)
def property_detail(request, caller, object_type, name):
    prop = PROPERTY_INDEX[object_type].get(name)
    if prop is None:
        raise BadRequest(f"Unable to find property {name} on object type {object_type}", status=404,
                         category="OBJECT_NOT_FOUND")
    if request.method == "PATCH":
        return _update_property(request, caller.portal, object_type, prop)
    if request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405)
    return JsonResponse(_property_body(caller.portal, object_type, prop))


def _update_property(request, portal, object_type: str, prop: dict) -> JsonResponse:
    """PATCH a property: the sandbox changes only `options`, which replace the whole list (as in
    HubSpot: options left out are removed). Properties whose options HubSpot fixes refuse it."""
    body = read_json(request)
    if not isinstance(body, dict):
        raise BadRequest("Invalid input JSON: expected an object")
    if "options" not in body:
        return JsonResponse(_property_body(portal, object_type, prop))
    if prop["type"] != "enumeration" or prop["modificationMetadata"].get("readOnlyOptions"):
        raise BadRequest(f"The options of property {prop['name']} cannot be changed", sub_category="READ_ONLY_OPTIONS")
    options = _valid_options(body["options"])
    with transaction.atomic():
        portal = type(portal).objects.select_for_update().get(pk=portal.pk)
        stored = dict(portal.property_options or {})
        stored[object_type] = {**stored.get(object_type, {}), prop["name"]: options}
        portal.property_options = stored
        portal.save(update_fields=["property_options"])
    return JsonResponse(_property_body(portal, object_type, prop))


def _valid_options(raw) -> list[dict]:
    if not isinstance(raw, list) or not all(isinstance(o, dict) for o in raw):
        raise BadRequest("options must be an array of objects with a label and a value")
    options, values, labels = [], set(), set()
    for index, option in enumerate(raw):
        value, label = option.get("value"), option.get("label")
        if not isinstance(value, str) or not value.strip() or not isinstance(label, str) or not label.strip():
            raise BadRequest(f"Option {index} needs a non-empty label and value")
        if value in values or label in labels:
            raise BadRequest(f"Option values and labels must be unique: {value!r} / {label!r}", category="VALIDATION_ERROR")
        values.add(value)
        labels.add(label)
        order = option.get("displayOrder", index)
        options.append({"label": label, "value": value, "displayOrder": order if isinstance(order, int) else index,
                        "hidden": bool(option.get("hidden", False)),
                        **({"description": str(option["description"])} if option.get("description") else {})})
    return options


def pipeline_body(p: Pipeline) -> dict:
    stamp = store.iso(p.created_at)
    return {
        "id": p.pipeline_id, "label": p.label, "displayOrder": p.display_order, "archived": p.archived,
        "createdAt": stamp, "updatedAt": store.iso(p.updated_at),
        "stages": [{**s, "createdAt": stamp, "updatedAt": store.iso(p.updated_at), "archived": False,
                    "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT"} for s in p.stages],
    }


def _pipeline_scopes(object_type, request):
    if request.method != "GET":
        return {f"crm.schemas.{object_type}.write"}
    return object_scopes(object_type, "read") | {f"crm.schemas.{object_type}.read"}


@api(scopes=_pipeline_scopes)
def pipelines(request, caller, object_type):
    portal = caller.portal
    live = Pipeline.objects.filter(portal=portal, object_type=object_type, archived=False)
    if request.method == "GET":
        return JsonResponse({"results": [pipeline_body(p) for p in live.order_by("display_order", "pk")]})
    body = read_object(request)
    label = str(body.get("label") or "").strip()
    if not label:
        raise BadRequest("label is required", errors=[{"code": "REQUIRED_FIELD", "message": "label is required",
                                                       "context": {"propertyName": ["label"]}}])
    if object_type == "deals" and live.count() >= portal.deal_pipeline_limit:
        # The exact body HubSpot sends at the plan's limit is not verified [U]: a 400 naming it.
        limit = portal.deal_pipeline_limit
        raise BadRequest(f"Pipeline limit reached: your account can have at most {limit} deal pipelines",
                         sub_category="PIPELINE_LIMIT_EXCEEDED", context={"limit": [str(limit)]})
    if live.filter(label=label).exists():
        raise BadRequest(f"A pipeline with label {label} already exists", status=409, category="CONFLICT")
    # Custom pipelines and their stages get numeric ids (default ones have names) [S].
    number = (Pipeline.objects.aggregate(m=Max("pk"))["m"] or 0) + 10_000_001
    pipeline_id = str(body.get("pipelineId") or "") or str(number)
    now = store.now_ms()
    try:
        with transaction.atomic():
            pipeline = Pipeline.objects.create(
                portal=portal, object_type=object_type, pipeline_id=pipeline_id, label=label,
                display_order=whole_number(body.get("displayOrder"), "displayOrder"), stages=_stages(body.get("stages"), object_type, number),
                created_at=now, updated_at=now)
    except IntegrityError:
        raise BadRequest(f"Pipeline id {pipeline_id} already exists", status=409, category="CONFLICT") from None
    response = JsonResponse(pipeline_body(pipeline), status=201)
    response["Location"] = request.build_absolute_uri(f"{request.path.rstrip('/')}/{pipeline.pipeline_id}")
    return response


def _stages(raw, object_type: str, number: int) -> list[dict]:
    """Validated stages; their ids (unless given) are the pipeline's number and a 2-digit index."""
    if not isinstance(raw, list) or not raw or not all(isinstance(s, dict) for s in raw):
        raise BadRequest("stages is required and must be a non-empty array of objects")
    stages, labels, ids = [], set(), set()
    for index, stage in enumerate(raw):
        label = str(stage.get("label") or "").strip()
        if not isinstance(stage.get("metadata") or {}, dict):
            raise BadRequest(f"Stage {label!r}: metadata must be an object")
        metadata = {str(k): str(v) for k, v in (stage.get("metadata") or {}).items()}
        if not label or label in labels:
            raise BadRequest(f"Stage labels must be present and unique within a pipeline: {label!r}")
        if object_type == "deals":
            probability = metadata.get("probability")
            if probability not in {f"{i / 10:.1f}" for i in range(11)}:
                raise BadRequest(f"Deal stage {label!r} needs metadata.probability between 0.0 and 1.0 in steps of 0.1")
            metadata["isClosed"] = "true" if metadata.get("isClosed", "").lower() == "true" else "false"
        stage_id = str(stage.get("stageId") or f"{number}{index + 1:02d}")
        if stage_id in ids:
            raise BadRequest(f"Stage ids must be unique within a pipeline: {stage_id}")
        labels.add(label)
        ids.add(stage_id)
        stages.append({"id": stage_id, "label": label,
                       "displayOrder": whole_number(stage.get("displayOrder", index), "displayOrder"),
                       "metadata": metadata})
    return stages


@api(scopes=lambda t, r: _pipeline_scopes(t, r))
def pipeline_detail(request, caller, object_type, pipeline_id):
    pipeline = Pipeline.objects.filter(portal=caller.portal, object_type=object_type, pipeline_id=pipeline_id,
                                       archived=False).first()
    if pipeline is None:
        raise BadRequest(f"Unable to find pipeline {pipeline_id}", status=404, category="OBJECT_NOT_FOUND")
    if request.method == "DELETE":
        # Archiving frees a slot under the plan's limit; with validateReferencesBeforeDelete a
        # pipeline that live records still use is refused.
        in_use = CrmObject.objects.filter(portal=caller.portal, object_type=object_type, archived=False,
                                          merged_into=None, properties__pipeline=pipeline_id).exists()
        if request.GET.get("validateReferencesBeforeDelete") == "true" and in_use:
            raise BadRequest(f"Pipeline {pipeline_id} is still used by {object_type}", category="VALIDATION_ERROR")
        Pipeline.objects.filter(pk=pipeline.pk).update(archived=True, updated_at=store.now_ms())
        return HttpResponse(status=204)
    return JsonResponse(pipeline_body(pipeline))


# --- associations v4 -----------------------------------------------------------------------
def _pair(from_path: str, to_path: str) -> tuple[str, str]:
    from_type, to_type = object_type_from_path(from_path), object_type_from_path(to_path)
    if (from_type, to_type) not in ASSOCIATION_TYPES:
        raise BadRequest(f"No association types between {from_path} and {to_path}")
    return from_type, to_type


def _assoc_scopes(object_type, request):
    return object_scopes(object_type, "write" if request.method in ("PUT", "DELETE") else "read")


@api(scopes=_assoc_scopes)
def record_associations(request, caller, object_type, object_id, to_type, to_id=None, default=False):
    from_type, to_type = _pair(object_type, to_type)
    portal = caller.portal
    if not associations.exists(portal, from_type, object_id):
        raise BadRequest(store_not_found(from_type, object_id), status=404, category="OBJECT_NOT_FOUND")
    if request.method == "GET":
        limit = whole_number(request.GET.get("limit"), "limit", default=PAGE, minimum=1, maximum=PAGE)
        results = associations.for_ids(portal, from_type, [int(object_id)], to_type).get(int(object_id), [])
        page, after = _page(results, request.GET.get("after", ""), limit)
        body = {"results": page}
        if after:
            body["paging"] = {"next": {"after": after, "link": f"?after={after}"}}
        return JsonResponse(body)
    if to_id is None or not associations.exists(portal, to_type, to_id):
        raise BadRequest(store_not_found(to_type, to_id), status=404, category="OBJECT_NOT_FOUND")
    if request.method == "DELETE":
        associations.remove(portal, from_type, int(object_id), to_type, int(to_id))
        return HttpResponse(status=204)
    body = read_json(request)
    types = body if isinstance(body, list) else []
    if default:
        types = [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": ASSOCIATION_TYPES[(from_type, to_type)][0]}]
    type_ids = [_type_id(t.get("associationTypeId")) for t in types if isinstance(t, dict)]
    bad = [t for t in type_ids if t not in ASSOCIATION_TYPES[(from_type, to_type)]]
    if bad or not type_ids:
        raise BadRequest(f"Association type {bad[0] if bad else None} is not valid from {from_type} to {to_type}")
    associations.add_many(portal, from_type, to_type, [(int(object_id), int(to_id), t) for t in type_ids])
    if default:  # 200 with the batch response shape, as HubSpot answers it
        started = store.iso(store.now_ms())
        return JsonResponse({"status": "COMPLETE", "results": [_default_result(from_type, to_type, object_id, to_id)],
                             "startedAt": started, "completedAt": started})
    return JsonResponse(_labels_many(portal, from_type, to_type, [(int(object_id), int(to_id))])[0], status=201)


def _default_result(from_type: str, to_type: str, from_id, to_id) -> dict:
    return {"from": {"id": str(from_id)}, "to": {"id": str(to_id)},
            "associationSpec": {"associationCategory": "HUBSPOT_DEFINED",
                                "associationTypeId": ASSOCIATION_TYPES[(from_type, to_type)][0]}}


PAGE = 500  # associations per page: a single record's read, and each input of a batch read


def _page(targets: list[dict], after: str, limit: int = PAGE) -> tuple[list[dict], str]:
    """The targets after cursor `after` (ordered by id), and the next cursor ("" on the last page)."""
    if after:
        if not is_id(after):
            raise BadRequest(f"Invalid 'after' value: {after}")
        targets = [t for t in targets if t["toObjectId"] > int(after)]
    if len(targets) > limit:
        return targets[:limit], str(targets[limit - 1]["toObjectId"])
    return targets, ""


def _dict(value) -> dict:
    """`value` if it is an object, else {} (a malformed entry then fails as an invalid id)."""
    return value if isinstance(value, dict) else {}


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _type_id(value) -> int:
    return int(value) if is_id(value) else 0


@api(scopes=_assoc_scopes)
def v3_record_association(request, caller, object_type, object_id, to_type, to_id, association_type):
    """The v3 single association: PUT (200, the record with its associations) and DELETE (204).

    `association_type` is a type id or a v3 name (contact_to_company: the primary type where
    there is one; contact_to_company_unlabeled: the unlabeled one).
    """
    from_type, to_type = _pair(object_type, to_type)
    portal = caller.portal
    for kind, ident in ((from_type, object_id), (to_type, to_id)):
        if not associations.exists(portal, kind, ident):
            raise BadRequest(store_not_found(kind, ident), status=404, category="OBJECT_NOT_FOUND")
    if request.method == "DELETE":
        associations.remove(portal, from_type, int(object_id), to_type, int(to_id))
        return HttpResponse(status=204)
    if request.method != "PUT":
        return HttpResponse(status=405)
    unlabeled, primary = ASSOCIATION_TYPES[(from_type, to_type)]
    base = f"{associations.SINGULAR[from_type]}_to_{associations.SINGULAR[to_type]}"
    named = {base: primary or unlabeled, f"{base}_unlabeled": unlabeled}
    type_id = named.get(association_type.lower()) or _type_id(association_type)
    if type_id not in (unlabeled, primary):
        raise BadRequest(f"Association type {association_type} is not valid from {from_type} to {to_type}")
    associations.add(portal, from_type, int(object_id), to_type, int(to_id), type_id)
    body = store.serialize(store.resolve(portal, from_type, object_id))
    body["associations"] = associations.v3_shape(portal, from_type, [int(object_id)], to_type).get(int(object_id), {})
    return JsonResponse(body)


def store_not_found(object_type, object_id) -> str:
    return f"No {object_type} with id {object_id} exists"


@api(scopes=lambda _t, r: object_scopes(object_type_from_path(r.resolver_match.kwargs["from_type"]) or "",
                                       "read" if r.path.endswith("/read") else "write"))
def batch_associations(request, caller, from_type, to_type, action):
    from_type, to_type = _pair(from_type, to_type)
    body = read_json(request)
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
        raise BadRequest("Invalid input JSON: expected an object with an 'inputs' array")
    limit = 1000 if action == "read" else 100
    if len(inputs) > limit:
        raise BadRequest(f"The maximum number of inputs supported in a batch is {limit}.")
    portal, started = caller.portal, store.iso(store.now_ms())
    if action == "read":
        # The spec's form is {id, after?}; {from: {id}} is accepted too. Each input reads one
        # page of its associations; a result with more carries its own paging.next.after.
        wanted = []
        for entry in inputs:
            ident = str(entry.get("id") or _dict(entry.get("from")).get("id") or "")
            if is_id(ident):
                wanted.append((int(ident), str(entry.get("after") or "")))
        found = associations.for_ids(portal, from_type, [i for i, _ in wanted], to_type)
        results, missing = [], []
        for from_id, after in wanted:
            page, next_after = _page(found.get(from_id, []), after)
            if not page:
                missing.append(from_id)
                continue
            result = {"from": {"id": str(from_id)}, "to": page}
            if next_after:
                result["paging"] = {"next": {"after": next_after, "link": None}}
            results.append(result)
        body = {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": store.iso(store.now_ms())}
        if missing:
            # HubSpot answers a record without associations with a 207 and one error per record.
            errors = [{"status": "error", "category": "OBJECT_NOT_FOUND",
                       "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                       "message": f"No {to_type} is associated to {associations.SINGULAR[from_type]} {i}.",
                       "context": {"fromObjectId": [str(i)], "fromObjectType": [from_type], "toObjectType": [to_type]},
                       "links": {}} for i in missing]
            body.update(numErrors=len(errors), errors=errors)
            return JsonResponse(body, status=207)
        return JsonResponse(body)
    return _batch_write_associations(portal, from_type, to_type, action, inputs, started)


def _batch_write_associations(portal, from_type, to_type, action, inputs, started):
    """create, associate/default and archive: invalid ids and types fail per pair (207), the rest
    are written together."""
    pairs = []
    for entry in inputs:
        from_id = str(_dict(entry.get("from")).get("id", ""))
        targets = entry.get("to") if isinstance(entry.get("to"), list) else [entry.get("to")]
        pairs += [(from_id, str(_dict(target).get("id", "")), entry) for target in targets]
    live_from = associations.live_ids(portal, from_type, [f for f, _, _ in pairs])
    live_to = associations.live_ids(portal, to_type, [t for _, t, _ in pairs])
    allowed = ASSOCIATION_TYPES[(from_type, to_type)]
    good, errors = [], []
    for from_id, to_id, entry in pairs:
        if not (is_id(from_id) and int(from_id) in live_from and is_id(to_id) and int(to_id) in live_to):
            errors.append(_pair_error(f"One or more ids are not valid: {from_id}, {to_id}", from_id, to_id,
                                      "crm.associations.INVALID_OBJECT_IDS"))
            continue
        type_ids = [allowed[0]] if action != "create" or not entry.get("types") else [
            _type_id(t.get("associationTypeId")) for t in _list(entry["types"]) if isinstance(t, dict)]
        bad = [t for t in type_ids if t not in allowed]
        if bad:
            errors.append(_pair_error(f"Association type {bad[0]} is not valid from {from_type} to {to_type}",
                                      from_id, to_id))
            continue
        good += [(int(from_id), int(to_id), t) for t in type_ids]
    if action == "archive":
        associations.remove_many(portal, from_type, to_type, sorted({(f, t) for f, t, _ in good}))
        if not errors:
            return HttpResponse(status=204)
    else:
        associations.add_many(portal, from_type, to_type, good)
    if action == "associate":  # associate/default: 200 and the batch response shape
        results = [_default_result(from_type, to_type, f, t) for f, t in dict.fromkeys((f, t) for f, t, _ in good)]
    else:
        results = _labels_many(portal, from_type, to_type, list(dict.fromkeys((f, t) for f, t, _ in good)))
    body = {"status": "COMPLETE", "results": [] if action == "archive" else results, "startedAt": started,
            "completedAt": store.iso(store.now_ms())}
    if errors:
        body.update(numErrors=len(errors), errors=errors)
    return JsonResponse(body, status=207 if errors else 200 if action == "associate" else 201)


def _pair_error(message: str, from_id: str, to_id: str, sub_category: str = "") -> dict:
    error = {"status": "error", "category": "VALIDATION_ERROR", "message": message,
             "context": {"fromObjectId": [from_id], "toObjectId": [to_id]}}
    if sub_category:
        error["subCategory"] = sub_category
    return error


def _labels_many(portal, from_type, to_type, pairs: list[tuple[int, int]]) -> list[dict]:
    found = associations.for_ids(portal, from_type, sorted({f for f, _ in pairs}), to_type,
                                 to_ids=[t for _, t in pairs])
    out = []
    for from_id, to_id in pairs:
        types = next((t["associationTypes"] for t in found.get(from_id, []) if t["toObjectId"] == to_id), [])
        out.append({"fromObjectTypeId": OBJECT_TYPES[from_type][0], "fromObjectId": from_id,
                    "toObjectTypeId": OBJECT_TYPES[to_type][0], "toObjectId": to_id,
                    "labels": [t["label"] for t in types if t["label"]]})
    return out


@api(scopes=lambda _t, r: object_scopes(object_type_from_path(r.resolver_match.kwargs["from_type"]) or "", "read"))
def association_labels(_request, _caller, from_type, to_type):
    from_type, to_type = _pair(from_type, to_type)
    results = [{"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": type_label(type_id)}
               for type_id in ASSOCIATION_TYPES[(from_type, to_type)] if type_id is not None]
    return JsonResponse({"results": results})
