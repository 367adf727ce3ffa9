"""The Lightning record page (<instance>/lightning/r/<sObject>/<id>/view), read-only, so a link
from Syncsite to a sandbox record opens something."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import render

from sandbox.salesforce.models import Record

PERSON_FIELDS = ("FirstName", "LastName")  # a person's Name is compound: built from these


def record(request, sobject: str, record_id: str):
    """One record's fields; 404 for an unknown object, id, or a record in the recycle bin."""
    row = Record.objects.select_related("org").filter(sf_id=record_id, sobject=sobject, is_deleted=False).first()
    if row is None:
        raise Http404("No such record")
    data = row.data or {}
    title = " ".join(str(data[f]) for f in PERSON_FIELDS if data.get(f)).strip() or data.get("Name")
    return render(request, "sandbox_salesforce/record.html", {
        "row": row, "title": title or f"{sobject} {record_id}",
        "fields": sorted((k, v) for k, v in data.items() if v not in (None, "")),
    })
