"""The record page of HubSpot's app (app.hubspot.com/contacts/<hub id>/record/<type id>/<id>),
read-only, so a link from Syncsite to a sandbox record opens something; and the account details
a private app reads to learn its hub id (reference: GET /account-info/v3/details)."""

from __future__ import annotations

from django.http import Http404, JsonResponse
from django.shortcuts import render

from sandbox.hubspot.gate import api
from sandbox.hubspot.models import CrmObject
from sandbox.hubspot.schema import TYPE_BY_ID

TITLE_PROPERTIES = {"contacts": ("firstname", "lastname"), "companies": ("name",), "deals": ("dealname",),
                    "products": ("name",)}


def record(request, hub_id: int, type_id: str, object_id: str):
    """One record's properties; 404 for an unknown type, id or portal, or an archived record."""
    object_type = TYPE_BY_ID.get(type_id)
    if object_type is None or not object_id.isdigit():
        raise Http404("No such record")
    obj = (CrmObject.objects.select_related("portal")
           .filter(pk=int(object_id), object_type=object_type, portal__hub_id=hub_id, archived=False).first())
    if obj is None:
        raise Http404("No such record")
    props = obj.properties or {}
    title = " ".join(str(props[p]) for p in TITLE_PROPERTIES.get(object_type, ()) if props.get(p)).strip()
    return render(request, "sandbox_hubspot/record.html", {
        "obj": obj, "title": title or props.get("email") or f"{object_type} {obj.pk}",
        "properties": sorted((k, v) for k, v in props.items() if v not in (None, "")),
    })


@api()
def account_details(_request, caller):
    portal = caller.portal
    return JsonResponse({"portalId": portal.hub_id, "accountType": "STANDARD", "timeZone": "UTC",
                         "companyCurrency": "USD", "uiDomain": "app.hubspot.com", "dataHostingLocation": "na1"})
