"""CRM search (reference 1.6): filter groups (OR) of filters (AND), one sort, 200 per page,
numeric `after` offsets and the 10,000-result cap.

Filters on the record id, the create and last-modified dates and contact email run in the
database on indexed columns; any other property is filtered in Python over the portal's
records of that type (fine at sandbox sizes).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db.models import Q
from django.http import JsonResponse
from django.utils import timezone

from sandbox import bulk
from sandbox.hubspot import store
from sandbox.hubspot.gate import BadRequest, api, object_scopes, read_json
from sandbox.hubspot.models import CrmObject
from sandbox.hubspot.schema import PROPERTY_INDEX

RESULT_CAP = 10_000
MAX_LIMIT = 200
OPERATORS = {"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY",
             "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}
TEXT_FIELDS = ("email", "firstname", "lastname", "name", "domain", "dealname", "phone", "company")


def _column(object_type: str, prop: str) -> str | None:
    if prop == "hs_object_id":
        return "pk"
    if prop == "createdate":
        return "created_at"
    if prop == store.lastmod_property(object_type):
        return "updated_at"
    if prop == "email" and object_type == "contacts":
        return "email"
    return None


def _typed(object_type: str, prop: str, value):
    """A comparable form of a filter or property value."""
    if value is None:
        return None
    kind = "number" if prop == "hs_object_id" else PROPERTY_INDEX[object_type].get(prop, {}).get("type", "string")
    text = str(value)
    if kind == "number":
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise BadRequest(f"{text!r} is not a valid number for {prop}") from None
        if not number.is_finite() or (prop == "hs_object_id" and not -(2**63) <= number < 2**63):
            raise BadRequest(f"{text!r} is not a valid number for {prop}")
        return number
    if kind in ("datetime", "date"):
        parsed = store.parse_time(text)
        if parsed is None:
            raise BadRequest(f"{text!r} is not a valid date for {prop}")
        return parsed
    return text.casefold()


SCALAR = (str, int, float)
NEEDS_VALUE = {"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}


def _check(filter_: dict, object_type: str) -> None:
    if not isinstance(filter_, dict):
        raise BadRequest("Invalid input JSON: each filter must be an object")
    if filter_.get("operator") not in OPERATORS:
        raise BadRequest(f"Invalid operator: {filter_.get('operator')}")
    if filter_.get("propertyName") not in PROPERTY_INDEX[object_type]:
        raise BadRequest(f"There was a problem with the request: property {filter_.get('propertyName')} "
                         "does not exist", errors=[{"code": "PROPERTY_DOESNT_EXIST",
                                                    "message": "Property does not exist"}])
    operator = filter_["operator"]
    wanted = ["value", "highValue"] if operator == "BETWEEN" else ["value"] if operator in NEEDS_VALUE else []
    for key in wanted:
        if not isinstance(filter_.get(key), SCALAR):
            raise BadRequest(f"Invalid input JSON: the {operator} filter on {filter_['propertyName']} needs a "
                             f"'{key}' that is a string or a number")
    if operator in ("IN", "NOT_IN") and not (
        isinstance(filter_.get("values"), list) and all(isinstance(v, SCALAR) for v in filter_["values"])
    ):
        raise BadRequest(f"Invalid input JSON: the {operator} filter needs 'values', a list of strings")


def _q(object_type: str, f: dict) -> Q:
    column, op, prop = _column(object_type, f["propertyName"]), f["operator"], f["propertyName"]
    def conv(v):
        typed = _typed(object_type, prop, v)
        return int(typed) if column == "pk" else typed
    if op in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        q = ~Q(**{column: ""}) if column == "email" else Q()
        return q if op == "HAS_PROPERTY" else ~q
    if op in ("IN", "NOT_IN"):
        q = Q(**{f"{column}__in": [conv(v) for v in f.get("values") or []]})
        return q if op == "IN" else ~q
    if op == "BETWEEN":
        return Q(**{f"{column}__gte": conv(f.get("value")), f"{column}__lte": conv(f.get("highValue"))})
    lookup = {"EQ": "", "LT": "__lt", "LTE": "__lte", "GT": "__gt", "GTE": "__gte"}.get(op)
    if lookup is not None:
        return Q(**{f"{column}{lookup}": conv(f.get("value"))})
    if op == "NEQ":
        return ~Q(**{column: conv(f.get("value"))})
    token = str(f.get("value", "")).strip("*").casefold()
    q = Q(**{f"{column}__icontains": token})
    return q if op == "CONTAINS_TOKEN" else ~q


def _value_of(obj: CrmObject, prop: str):
    if prop == "hs_object_id":
        return str(obj.pk)
    if prop == "createdate":
        return store.iso(obj.created_at)
    if prop == store.lastmod_property(obj.object_type):
        return store.iso(obj.updated_at)
    return obj.properties.get(prop)


def _matches(obj: CrmObject, f: dict) -> bool:
    prop, op = f["propertyName"], f["operator"]
    raw = _value_of(obj, prop)
    if op == "HAS_PROPERTY":
        return raw not in (None, "")
    if op == "NOT_HAS_PROPERTY":
        return raw in (None, "")
    if raw in (None, ""):
        return op in ("NEQ", "NOT_IN", "NOT_CONTAINS_TOKEN")
    value = _typed(obj.object_type, prop, raw)
    typed = lambda v: _typed(obj.object_type, prop, v)  # noqa: E731
    if op in ("IN", "NOT_IN"):
        found = value in {typed(v) for v in f.get("values") or []}
        return found if op == "IN" else not found
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        found = str(f.get("value", "")).strip("*").casefold() in str(raw).casefold()
        return found if op == "CONTAINS_TOKEN" else not found
    if op == "BETWEEN":
        return typed(f.get("value")) <= value <= typed(f.get("highValue"))
    other = typed(f.get("value"))
    return {"EQ": value == other, "NEQ": value != other, "LT": value < other, "LTE": value <= other,
            "GT": value > other, "GTE": value >= other}[op]


def _sort(body: dict) -> tuple[str, bool]:
    sorts = body.get("sorts") or []
    if not sorts:
        return "hs_object_id", False
    first = sorts[0] if isinstance(sorts, list) else None  # only one sort is honoured
    if isinstance(first, str):
        return first.lstrip("-"), first.startswith("-")
    if not isinstance(first, dict) or not isinstance(first.get("propertyName", ""), str):
        raise BadRequest("Invalid input JSON: sorts must be a list of property names or "
                         "{propertyName, direction} objects")
    return first.get("propertyName", "hs_object_id"), first.get("direction", "ASCENDING") == "DESCENDING"


def _validate(body: dict, object_type: str) -> list[list[dict]]:
    raw_groups = body.get("filterGroups") or []
    if not isinstance(raw_groups, list) or not all(
        isinstance(g, dict) and isinstance(g.get("filters") or [], list) for g in raw_groups
    ):
        raise BadRequest("Invalid input JSON: filterGroups must be a list of {filters: [...]} objects")
    properties = body.get("properties") or []
    if not isinstance(properties, list) or not all(isinstance(p, str) for p in properties):
        raise BadRequest("Invalid input JSON: properties must be a list of property names")
    groups = [g.get("filters") or [] for g in raw_groups]
    if len(groups) > 5 or any(len(g) > 6 for g in groups) or sum(map(len, groups)) > 18:
        raise BadRequest("Too many filters: at most 5 filter groups of 6 filters, 18 filters in all")
    for group in groups:
        for f in group:
            _check(f, object_type)
    if len(str(body.get("query") or "")) > 3000:
        raise BadRequest("query must be at most 3000 characters")
    return [g for g in groups if g]


def search_delay() -> float:
    """Seconds between a write and its record appearing in search (setting
    SANDBOX_HUBSPOT_SEARCH_DELAY_SECONDS, 2 by default; the test settings make it 0)."""
    return float(getattr(settings, "SANDBOX_HUBSPOT_SEARCH_DELAY_SECONDS", 2.0))


def _run(portal, object_type: str, body: dict, groups: list[list[dict]]) -> tuple[list, int, int, int]:
    try:
        limit = int(body.get("limit", 10))
        offset = int(body.get("after") or 0)
    except (TypeError, ValueError, OverflowError):
        raise BadRequest("limit and after must be numbers") from None
    if not 0 < limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}")
    if offset < 0:
        raise BadRequest(f"Invalid 'after' value: {offset}")
    cap = portal.search_cap or RESULT_CAP
    if offset >= cap:
        raise BadRequest(f"Search results are limited to {cap} records: 'after' {offset} is past the "
                         "limit. Narrow the query, e.g. by filtering on hs_object_id.")
    qs = CrmObject.objects.filter(portal=portal, object_type=object_type, archived=False, merged_into=None)
    delay = search_delay()
    if delay > 0:  # the search index lags writes (reference 1.6): a record written just now is not found yet
        qs = qs.filter(updated_at__lte=timezone.now() - timedelta(seconds=delay))
    prop, descending = _sort(body)
    query = str(body.get("query") or "").casefold()
    columns_only = not query and all(_column(object_type, f["propertyName"]) for g in groups for f in g)
    sort_column = _column(object_type, prop)
    if columns_only and sort_column:
        if groups:
            where = Q(pk__in=[])
            for group in groups:
                clause = Q()
                for f in group:
                    clause &= _q(object_type, f)
                where |= clause
            qs = qs.filter(where)
        order = [f"-{sort_column}" if descending else sort_column, "pk"]
        total = qs.count()
        page = bulk.fetch_queryset(qs.order_by(*order)[offset: min(offset + limit, cap)])
        return page, total, offset, limit
    objs = [o for o in bulk.fetch_queryset(qs.order_by("pk")) if (not groups or any(all(_matches(o, f) for f in g) for g in groups))
            and (not query or any(query in str(o.properties.get(t, "")).casefold() for t in TEXT_FIELDS))]
    objs.sort(key=lambda o: (_value_of(o, prop) is None, _typed(object_type, prop, _value_of(o, prop) or "0")
                             if prop in PROPERTY_INDEX[object_type] else 0), reverse=descending)
    return objs[offset: min(offset + limit, cap)], len(objs), offset, limit


@api(search=True, scopes=lambda object_type, _request: object_scopes(object_type, "read"))
def search(request, caller, object_type):
    body = read_json(request)
    if not isinstance(body, dict):
        raise BadRequest("Invalid input JSON: expected an object")
    groups = _validate(body, object_type)
    page, total, offset, limit = _run(caller.portal, object_type, body, groups)
    result = {"total": total, "results": [store.serialize(o, body.get("properties") or []) for o in page]}
    next_offset = offset + limit
    if next_offset < min(total, caller.portal.search_cap or RESULT_CAP):
        result["paging"] = {"next": {"after": str(next_offset), "link": None}}
    return JsonResponse(result)
