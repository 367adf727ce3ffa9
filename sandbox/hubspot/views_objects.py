"""CRM objects v3: basic endpoints, merge and batch endpoints (reference 1.4, 1.5, 1.14)."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpResponse, JsonResponse

from sandbox import bulk
from sandbox.hubspot import associations, store
from sandbox.hubspot.gate import (
    BadRequest,
    api,
    multi_param,
    read_json,
    read_object,
    read_or_write,
)
from sandbox.hubspot.models import CrmObject
from sandbox.hubspot.schema import ASSOCIATION_TYPES, OBJECT_TYPES, is_id

BATCH_LIMIT = 100
NOT_FOUND = "Object not found.  objectId are usually numeric."


def archived_param(request) -> bool:
    """?archived=true, as HubSpot reads it: true and True alike (any case)."""
    return request.GET.get("archived", "false").strip().lower() == "true"


def _invalid_response(exc: store.Invalid) -> JsonResponse:
    raise BadRequest(exc.message, status=exc.status, category=exc.category, errors=exc.errors or None)


def _with_associations(portal, object_type, bodies, request):
    wanted = [t for t in multi_param(request, "associations") if t in OBJECT_TYPES]
    ids = [int(b["id"]) for b in bodies]
    for to_type in wanted:
        if (object_type, to_type) not in ASSOCIATION_TYPES:
            continue
        shaped = associations.v3_shape(portal, object_type, ids, to_type)
        for body in bodies:
            if int(body["id"]) in shaped:
                body.setdefault("associations", {}).update(shaped[int(body["id"])])
    return bodies


def _create_associations(portal, object_type, obj_id, specs) -> None:
    if specs is not None and not (isinstance(specs, list) and all(
            isinstance(s, dict) and isinstance(s.get("to") or {}, dict) and isinstance(s.get("types") or [], list)
            and all(isinstance(t, dict) for t in s.get("types") or []) for s in specs)):
        raise store.Invalid(400, "VALIDATION_ERROR", "Invalid input JSON: associations must be a list of "
                                                     "{to: {id}, types: [{associationCategory, associationTypeId}]}")
    for spec in specs or []:
        to_id = str((spec.get("to") or {}).get("id", ""))
        for t in spec.get("types") or []:
            raw_type = t.get("associationTypeId", 0)
            type_id = int(raw_type) if is_id(raw_type) else 0
            to_type = associations.to_type_for(object_type, type_id)
            if to_type is None or not associations.exists(portal, to_type, to_id):
                raise store.Invalid(400, "VALIDATION_ERROR",
                                    f"Association type {type_id} to {to_id} is not valid for {object_type}")
            associations.add(portal, object_type, obj_id, to_type, int(to_id), type_id)


@api(scopes=read_or_write)
def collection(request, caller, object_type):
    if request.method == "POST":
        body = read_object(request)
        try:
            with transaction.atomic():
                obj = store.create(caller.portal, object_type, body.get("properties") or {})
                _create_associations(caller.portal, object_type, obj.pk, body.get("associations"))
        except store.Invalid as exc:
            return _invalid_response(exc)
        return JsonResponse(store.serialize(obj, list((body.get("properties") or {}).keys())), status=201)
    try:
        limit = max(1, min(int(request.GET.get("limit", 10)), 100))
    except ValueError:
        raise BadRequest("limit must be a number") from None
    after = request.GET.get("after", "")
    archived = archived_param(request)
    if after and not is_id(after):
        raise BadRequest(f"Invalid 'after' value: {after}")
    # The (portal, type, archived, id) index serves this page in id order.
    page = bulk.fetch(CrmObject, "portal_id = %s AND object_type = %s AND archived = %s AND merged_into_id IS NULL "
                                 "AND id > %s", [caller.portal.pk, object_type, archived, int(after or 0)],
                      order_by="id", limit=limit + 1)
    props = multi_param(request, "properties")
    bodies = [store.serialize(obj, props) for obj in page[:limit]]
    result = {"results": _with_associations(caller.portal, object_type, bodies, request)}
    if len(page) > limit:
        last = str(page[limit - 1].pk)
        result["paging"] = {"next": {"after": last, "link": f"?after={last}"}}
    return JsonResponse(result)


@api(scopes=read_or_write)
def item(request, caller, object_type, object_id):
    id_property = request.GET.get("idProperty", "")
    archived = archived_param(request)
    try:
        obj = store.resolve(caller.portal, object_type, object_id, id_property=id_property,
                            archived=archived and request.method == "GET")
    except store.Invalid as exc:
        return _invalid_response(exc)
    if obj is None:
        raise BadRequest(NOT_FOUND, status=404, category="OBJECT_NOT_FOUND")
    if request.method == "DELETE":
        store.archive(caller.portal, obj)
        return HttpResponse(status=204)
    if request.method == "PATCH":
        body = read_object(request)
        try:
            with transaction.atomic():
                obj = store.update(caller.portal, obj, body.get("properties") or {})
        except store.Invalid as exc:
            return _invalid_response(exc)
        return JsonResponse(store.serialize(obj, list((body.get("properties") or {}).keys())))
    body = store.serialize(obj, multi_param(request, "properties"))
    return JsonResponse(_with_associations(caller.portal, object_type, [body], request)[0])


@api(scopes=lambda t, r: read_or_write(t, r))
def merge(request, caller, object_type):
    body = read_object(request)
    try:
        obj = store.merge(caller.portal, object_type, str(body.get("primaryObjectId", "")),
                          str(body.get("objectIdToMerge", "")))
    except store.Invalid as exc:
        return _invalid_response(exc)
    return JsonResponse(store.serialize(obj))


# --- batch -----------------------------------------------------------------------------------
def _inputs(request) -> tuple[dict, list[dict]]:
    body = read_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise BadRequest("Invalid input JSON: expected an object with an 'inputs' array")
    if len(body["inputs"]) > BATCH_LIMIT:
        raise BadRequest("The maximum number of inputs supported in a batch is 100. Please reduce the number "
                         "of items and try again")
    if not all(isinstance(i, dict) for i in body["inputs"]):
        raise BadRequest("Invalid input JSON: every input must be an object")
    return body, body["inputs"]


def _batch_response(results: list[dict], errors: list[dict], started: str, success_status: int) -> JsonResponse:
    body = {"status": "COMPLETE", "results": results, "requestedAt": started, "startedAt": started,
            "completedAt": store.iso(store.now_ms()), "links": {}}
    if errors:
        body.update(numErrors=len(errors), errors=errors)
        return JsonResponse(body, status=207)
    return JsonResponse(body, status=success_status)


@api(scopes=read_or_write)
def batch(request, caller, object_type, action):
    if request.method != "POST":
        return HttpResponse(status=405)
    handler = {"read": _batch_read, "create": _batch_write, "update": _batch_write,
               "upsert": _batch_write, "archive": _batch_archive}.get(action)
    if handler is None:
        raise BadRequest(f"Unknown batch action {action}", status=404, category="OBJECT_NOT_FOUND")
    body, inputs = _inputs(request)
    return handler(request, caller.portal, object_type, action, body, inputs)


def _batch_read(request, portal, object_type, _action, body, inputs):
    started = store.iso(store.now_ms())
    archived = archived_param(request)
    id_property = body.get("idProperty") or ""
    idents = [str(entry.get("id", "")) for entry in inputs]
    try:
        found = store.resolve_many(portal, object_type, idents, id_property=id_property, archived=archived)
    except store.Invalid as exc:
        return _invalid_response(exc)
    results, missing, seen = [], [], set()
    wanted = body.get("properties") or []
    for ident in idents:
        obj = found.get(ident)
        if obj is None:
            missing.append(ident)
        elif obj.pk not in seen:
            seen.add(obj.pk)
            results.append(store.serialize(obj, wanted))
    errors = []
    if missing:
        errors.append({"status": "error", "category": "OBJECT_NOT_FOUND", "message": "Could not get some "
                       f"{object_type} objects, they may be deleted or not exist. Check that ids are valid.",
                       "context": {"ids": missing}, "errors": [], "links": {}})
    return _batch_response(results, errors, started, 200)


class _Batch:
    """One batch write's state: the records the inputs name (read together), the new records
    waiting to be inserted together and the updated ones waiting for one UPDATE."""

    def __init__(self, portal, object_type, action, inputs, id_property) -> None:
        self.portal, self.object_type, self.action = portal, object_type, action
        self.known = None
        if action == "create" and object_type == "contacts":  # one duplicate-email query per batch
            self.known = store.existing_emails(portal, [(e.get("properties") or {}).get("email") for e in inputs])
        self.resolved: dict[str, dict[str, object]] = {}
        if action != "create":
            groups: dict[str, list[str]] = {}
            for entry in inputs:
                groups.setdefault(entry.get("idProperty") or id_property, []).append(str(entry.get("id", "")))
            for use, idents in groups.items():
                try:
                    self.resolved[use] = store.resolve_many(portal, object_type, idents, id_property=use)
                except store.Invalid as exc:
                    self.resolved[use] = {"": exc}
        self.to_insert: list = []
        self.to_update: list = []
        self.stamp = store.now_ms()  # the batch's records share their create and modify moment

    def lookup(self, use: str, ident: str):
        found = self.resolved.get(use, {})
        if isinstance(found.get(""), store.Invalid):
            raise found[""]
        return found.get(ident)

    def flush(self) -> None:
        if self.to_insert:
            objs = self.to_insert
            self.to_insert = []
            bulk.insert_rows(CrmObject, objs)
            for obj in objs:
                store.created_events(self.portal, obj)
        if self.to_update:
            store.save_changes(self.to_update)
            self.to_update = []


def _write_one(batch: _Batch, entry, id_property):
    """Apply one batch input; returns (record, created flag). A new record without associations
    waits in batch.to_insert (its id comes at flush)."""
    portal, object_type, action = batch.portal, batch.object_type, batch.action
    props = entry.get("properties") or {}
    if action == "create":
        email = str(props.get("email") or "").lower()
        if batch.known is not None and email and batch.known.get(email) == 0:
            batch.flush()  # a duplicate of a record waiting in this batch: insert those, then name its id
            batch.known.update({o.email: o.pk for o in CrmObject.objects.filter(
                portal=portal, object_type="contacts", email=email, archived=False)})
        obj = store.prepare_create(portal, object_type, props, known_emails=batch.known, stamp=batch.stamp)
        if entry.get("associations"):
            with transaction.atomic():
                obj.save(force_insert=True)
                _create_associations(portal, object_type, obj.pk, entry.get("associations"))
            store.created_events(portal, obj)
        else:
            batch.to_insert.append(obj)
        if batch.known is not None and obj.email:
            batch.known[obj.email] = obj.pk or 0
        return obj, True
    ident = str(entry.get("id", ""))
    use = entry.get("idProperty") or id_property
    obj = batch.lookup(use, ident)
    if obj is None and action == "upsert":
        if use == "email" and "email" not in props:
            props = {**props, "email": ident}
        obj = store.create(portal, object_type, props)
        batch.resolved.setdefault(use, {})[ident] = obj
        return obj, True
    if obj is None:
        raise store.Invalid(404, "OBJECT_NOT_FOUND", NOT_FOUND)
    return store.update(portal, obj, props, deferred=batch.to_update, stamp=batch.stamp), False


def _batch_write(_request, portal, object_type, action, body, inputs):
    started = store.iso(store.now_ms())
    # Multi-status is opt-in: with a trace id on each input a bad input fails alone (207);
    # without, one bad input fails the whole call and nothing is written (reference 1.5).
    # Inputs are validated one by one and written together; an input that fails writes nothing
    # of its own (a create with associations is written, and undone, by itself).
    multi = bool(inputs) and all(entry.get("objectWriteTraceId") for entry in inputs)
    outcomes, errors = [], []
    try:
        with transaction.atomic():
            batch = _Batch(portal, object_type, action, inputs, body.get("idProperty", ""))
            for entry in inputs:
                trace = entry.get("objectWriteTraceId")
                try:
                    obj, created = _write_one(batch, entry, body.get("idProperty", ""))
                except store.Invalid as exc:
                    if not multi:
                        raise
                    context = {"objectWriteTraceId": [trace]}
                    if entry.get("id") is not None:
                        context["ids"] = [str(entry["id"])]
                    errors.append(exc.as_batch_error(context))
                    continue
                outcomes.append((obj, created, entry, trace))
            batch.flush()
    except store.Invalid as exc:
        return _invalid_response(exc)
    results = []
    for obj, created, entry, trace in outcomes:
        result = store.serialize(obj, list((entry.get("properties") or {}).keys()), trace_id=trace)
        if action == "upsert":
            result["new"] = created
        results.append(result)
    return _batch_response(results, errors, started, 201 if action == "create" else 200)


def _batch_archive(_request, portal, object_type, _action, _body, inputs):
    for entry in inputs:
        obj = store.resolve(portal, object_type, str(entry.get("id", "")))
        if obj is not None:
            store.archive(portal, obj)
    return HttpResponse(status=204)
