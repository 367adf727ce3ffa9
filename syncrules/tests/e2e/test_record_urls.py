"""A record's links open its page in each sandbox, once the HubSpot connection has been checked."""

from __future__ import annotations

import pytest
import requests
from django.utils.html import escape

from connectors.base import CONTACTS
from syncrules.engine import run_sync
from syncrules.engine.api import record_urls
from syncrules.models import RecordLink
from syncrules.tests.e2e.helpers import new_sync

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_checked_connection_learns_its_hub_id_and_both_links_open_the_record(pair):
    hubspot, salesforce = pair(sf_contacts=3)
    assert "hub_id" not in hubspot.credentials
    assert hubspot.test().ok
    hubspot.refresh_from_db()
    assert hubspot.credentials["hub_id"] > 0
    sync = new_sync(hubspot, salesforce, CONTACTS)
    run_sync(sync.pk)
    link = RecordLink.objects.select_related("object_sync").filter(object_sync=sync).exclude(id_a=None).first()
    url_a, url_b = record_urls(link)
    assert f"/sandbox/hubspot/contacts/{hubspot.credentials['hub_id']}/record/0-1/{link.id_a}" in url_a
    assert url_b.endswith(f"/sandbox/salesforce/lightning/r/Contact/{link.id_b}/view")
    for url, name in ((url_a, link.name_a), (url_b, link.name_b)):
        page = requests.get(url, timeout=10)
        assert page.status_code == 200 and escape(name) in page.text
