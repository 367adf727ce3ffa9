"""PATCH /crm/v3/properties/{objectType}/{name}: options of enumeration properties, per portal."""

from __future__ import annotations

import pytest

from sandbox.hubspot.seed import ensure_portal

pytestmark = pytest.mark.django_db


def options_of(api, name="industry"):
    return [o["value"] for o in api("GET", f"/crm/v3/properties/companies/{name}").data["options"]]


def test_it_replaces_a_dropdowns_options_and_records_may_then_hold_the_new_one(api):
    before = api("GET", "/crm/v3/properties/companies/industry").data["options"]
    assert api("POST", "/crm/v3/objects/companies", {"properties": {"industry": "BANKING"}}).status_code == 400
    body = {"options": [*before, {"label": "Banking", "value": "BANKING", "displayOrder": 99, "hidden": False}]}
    response = api("PATCH", "/crm/v3/properties/companies/industry", body)
    assert response.status_code == 200 and response.data["options"][-1]["value"] == "BANKING"
    assert "BANKING" in options_of(api) and "RETAIL" in options_of(api)
    listed = {p["name"]: p for p in api("GET", "/crm/v3/properties/companies").data["results"]}
    assert "BANKING" in [o["value"] for o in listed["industry"]["options"]]
    assert api("POST", "/crm/v3/objects/companies", {"properties": {"industry": "BANKING"}}).status_code == 201


def test_options_left_out_of_a_patch_are_removed_as_in_hubspot(api):
    api("PATCH", "/crm/v3/properties/companies/industry", {"options": [{"label": "Retail", "value": "RETAIL"}]})
    assert options_of(api) == ["RETAIL"]
    assert api("POST", "/crm/v3/objects/companies", {"properties": {"industry": "ACCOUNTING"}}).status_code == 400


def test_each_portal_keeps_its_own_options(api, client):
    api("PATCH", "/crm/v3/properties/companies/industry", {"options": [{"label": "Retail", "value": "RETAIL"}]})
    other = ensure_portal(5002, rate_limit_enabled=False)
    response = api("GET", "/crm/v3/properties/companies/industry", token=other.private_token)
    assert "ACCOUNTING" in [o["value"] for o in response.data["options"]]


@pytest.mark.parametrize(("name", "body"), [
    ("hubspot_owner_id", {"options": [{"label": "Nobody", "value": "999"}]}),  # HubSpot keeps owners itself
    ("name", {"options": [{"label": "X", "value": "x"}]}),  # not an enumeration
    ("industry", {"options": "RETAIL"}),
    ("industry", {"options": [{"label": "", "value": "x"}]}),
    ("industry", {"options": [{"label": "A", "value": "x"}, {"label": "B", "value": "x"}]}),
    ("industry", ["not", "an", "object"]),
])
def test_it_refuses_options_it_cannot_take_with_a_400(api, name, body):
    response = api("PATCH", f"/crm/v3/properties/companies/{name}", body)
    assert response.status_code == 400 and response.data["category"] == "VALIDATION_ERROR"
    assert "ACCOUNTING" in options_of(api)


def test_changing_options_needs_the_schema_write_scope(client):
    portal = ensure_portal(5003, rate_limit_enabled=False, scopes=["crm.schemas.companies.read", "crm.objects.companies.read"])
    from sandbox.hubspot.tests.conftest import Api

    api = Api(client, portal.private_token)
    response = api("PATCH", "/crm/v3/properties/companies/industry", {"options": []})
    assert response.status_code == 403 and response.data["category"] == "MISSING_SCOPES"
    assert api("GET", "/crm/v3/properties/companies/industry").status_code == 200


def test_a_date_property_takes_midnight_utc_only_as_hubspot_does(api):
    ok = api("POST", "/crm/v3/objects/contacts", {"properties": {"email": "d@x.com", "date_of_birth": "1772323200000"}})
    assert ok.status_code == 201
    also = api("POST", "/crm/v3/objects/contacts", {"properties": {"email": "e@x.com", "date_of_birth": "2026-03-01"}})
    assert also.status_code == 201
    late = api("POST", "/crm/v3/objects/contacts",
               {"properties": {"email": "f@x.com", "date_of_birth": "2026-03-01T10:00:00Z"}})
    assert late.status_code == 400 and late.data["errors"][0]["code"] == "INVALID_DATE"
    assert "not midnight" in late.data["errors"][0]["message"]
