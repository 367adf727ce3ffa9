"""The app's read-only record page, and the account details a private app learns its hub id from."""

import pytest
from django.utils import timezone

from sandbox.hubspot import store
from sandbox.hubspot.tests.conftest import BASE, Api

pytestmark = pytest.mark.django_db


def test_it_shows_a_records_properties_with_names_as_text(client, portal):
    contact = store.create(portal, "contacts", {"firstname": "<script>alert(1)</script>", "lastname": "Lee",
                                                "email": "ann@example.com"})
    response = client.get(f"{BASE}/contacts/{portal.hub_id}/record/0-1/{contact.pk}")
    body = response.content.decode()
    assert response.status_code == 200 and "ann@example.com" in body
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;alert(1)&lt;/script&gt; Lee" in body


def test_it_shows_companies_and_deals_at_their_type_ids(client, portal):
    company = store.create(portal, "companies", {"name": "Acme", "domain": "acme.example"})
    response = client.get(f"{BASE}/contacts/{portal.hub_id}/record/0-2/{company.pk}")
    assert response.status_code == 200 and "acme.example" in response.content.decode()


def test_unknown_records_types_portals_and_archived_records_are_404(client, portal):
    contact = store.create(portal, "contacts", {"email": "bob@example.com"})
    for path in (f"{portal.hub_id}/record/0-1/999999", f"{portal.hub_id}/record/0-2/{contact.pk}",
                 f"{portal.hub_id}/record/9-9/{contact.pk}", f"{portal.hub_id + 1}/record/0-1/{contact.pk}",
                 f"{portal.hub_id}/record/0-1/abc", f"{portal.hub_id}/record/0-1/{contact.pk}'%3E"):
        assert client.get(f"{BASE}/contacts/{path}").status_code == 404, path
    contact.archived, contact.archived_at = True, timezone.now()
    contact.save()
    assert client.get(f"{BASE}/contacts/{portal.hub_id}/record/0-1/{contact.pk}").status_code == 404


def test_the_account_details_name_the_portal_to_its_token_only(client, portal):
    api = Api(client, portal.private_token)
    response = api("GET", "/account-info/v3/details")
    assert response.status_code == 200 and response.data["portalId"] == portal.hub_id
    assert api("GET", "/account-info/v3/details", token="nope").status_code == 401
