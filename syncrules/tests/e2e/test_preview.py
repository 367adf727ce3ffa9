"""End to end over real HTTP: the dry-run preview of a contact sync between the HubSpot sandbox
and the Salesforce sandbox equals the initial run that follows, and sends no write."""

from __future__ import annotations

import re

import pytest
import requests

from connectors.base import CONTACTS
from sandbox.hubspot.models import CrmObject
from sandbox.salesforce.models import Record
from syncrules.engine import run_sync
from syncrules.engine.api import preview_sync
from syncrules.engine.preview import comparable, run_figures
from syncrules.models import RecordLink, RecordOutcome, SyncFilter, SyncRun
from syncrules.tests.e2e.helpers import new_sync

pytestmark = pytest.mark.django_db(transaction=True)
# Requests that change something; reads by POST (searches, batch reads, SOQL) are not among them.
WRITE = re.compile(r"/batch/(create|update|upsert|archive)$|/composite/sobjects|/sobjects/\w+/?$")


def sandboxes():
    return (sorted(CrmObject.objects.values_list("pk", "updated_at", "archived")),
            sorted(Record.objects.values_list("sf_id", "system_modstamp", "is_deleted")))


def test_the_preview_equals_the_initial_run_and_sends_no_write(pair, monkeypatch):
    hubspot, salesforce = pair(contacts=20, sf_contacts=15, sf_accounts=2)
    hubspot.connector().write(CONTACTS, creates=[
        *({"email": f"shared{n}@example.com", "firstname": "Shared", "lastname": f"Person {n}"} for n in range(4)),
        {"email": "long@example.com", "firstname": "Maximilian" * 5, "lastname": "Long"},
        {"email": "outside@example.com", "firstname": "Left", "lastname": "Outside"},
    ])
    salesforce.connector().write(CONTACTS, creates=[
        {"Email": f"Shared{n}@Example.com", "LastName": f"Person {n}"} for n in range(4)
    ])
    sync = new_sync(hubspot, salesforce, CONTACTS)
    sync.field_mappings.update(policy="fail_record")  # a value too long fails its record
    SyncFilter.objects.create(object_sync=sync, side="a", field="lastname", operator="neq", value="Outside")
    before = sandboxes()
    sent = []
    original = requests.Session.request

    def recording(session, method, url, *args, **kwargs):
        sent.append((method.upper(), url))
        return original(session, method, url, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", recording)
    result = preview_sync(sync.pk)
    monkeypatch.undo()

    writes = [(m, u) for m, u in sent if m in ("PATCH", "PUT", "DELETE") or (m == "POST" and WRITE.search(u))]
    assert writes == [] and sent and sandboxes() == before
    assert not (RecordLink.objects.exists() or RecordOutcome.objects.exists() or SyncRun.objects.exists())
    assert result["matched"] >= 4 and result["a"]["excluded"]["filter"] == 1
    assert {f["category"]: f["count"] for f in result["b"]["failures"]} == {"value_too_long": 1}
    assert result["a"]["read"] == 26 and result["b"]["read"] == 19
    assert result["http_calls"] == len(sent)
    assert result["b"]["create"] + result["matched"] + sum(result["a"]["excluded"].values()) + 1 == 26
    shared = {s["name_b"] for s in result["match_samples"] if s["key"].startswith("email shared")}
    assert {"Person 0 (Shared0@Example.com)", "Person 3 (Shared3@Example.com)"} <= shared

    run = run_sync(sync.pk)
    assert comparable(result) == run_figures(run)
    assert run.matched == result["matched"] and run.excluded == sum(result["a"]["excluded"].values())
