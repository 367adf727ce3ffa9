"""Search: filters and operators, sorts, 200 per page, the 10,000-result cap."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sandbox.hubspot.models import CrmObject
from sandbox.hubspot.seed import seed_records

pytestmark = pytest.mark.django_db


def _search(api, body, object_type="contacts"):
    return api("POST", f"/crm/v3/objects/{object_type}/search", body)


def test_it_filters_with_and_inside_groups_and_or_across_groups(api):
    for email, city in (("a@x.com", "Oslo"), ("b@x.com", "Rome"), ("c@x.com", "Oslo")):
        api("POST", "/crm/v3/objects/contacts", {"properties": {"email": email, "city": city}})
    body = {"filterGroups": [
        {"filters": [{"propertyName": "city", "operator": "EQ", "value": "Oslo"},
                     {"propertyName": "email", "operator": "NEQ", "value": "a@x.com"}]},
        {"filters": [{"propertyName": "email", "operator": "EQ", "value": "b@x.com"}]}],
        "properties": ["email"], "limit": 10}
    response = _search(api, body)
    assert response.status_code == 200
    assert sorted(r["properties"]["email"] for r in response.data["results"]) == ["b@x.com", "c@x.com"]
    assert response.data["total"] == 2


def test_it_supports_in_has_property_and_between(api, portal):
    seed_records(portal, contacts=30)
    with_email = _search(api, {"filterGroups": [{"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}]}],
                               "limit": 200}).data
    without = _search(api, {"filterGroups": [{"filters": [{"propertyName": "email", "operator": "NOT_HAS_PROPERTY"}]}],
                            "limit": 200}).data
    assert with_email["total"] + without["total"] == 30
    ids = sorted(int(r["id"]) for r in with_email["results"])[:3]
    found = _search(api, {"filterGroups": [{"filters": [{"propertyName": "hs_object_id", "operator": "IN",
                                                          "values": [str(i) for i in ids]}]}]}).data
    assert sorted(int(r["id"]) for r in found["results"]) == ids
    between = _search(api, {"filterGroups": [{"filters": [{"propertyName": "hs_object_id", "operator": "BETWEEN",
                                                            "value": str(ids[0]), "highValue": str(ids[1])}]}]}).data
    assert {int(r["id"]) for r in between["results"]} >= {ids[0], ids[1]}


def test_it_filters_on_last_modified_with_epoch_milliseconds(api):
    old = api("POST", "/crm/v3/objects/contacts", {"properties": {"email": "old@x.com"}}).data
    CrmObject.objects.filter(pk=old["id"]).update(updated_at=datetime(2020, 1, 1, tzinfo=UTC))
    new = api("POST", "/crm/v3/objects/contacts", {"properties": {"email": "new@x.com"}}).data
    since = str(int(datetime(2021, 1, 1, tzinfo=UTC).timestamp() * 1000))
    body = {"filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": since}]}]}
    assert [r["id"] for r in _search(api, body).data["results"]] == [new["id"]]


def test_it_sorts_descending_with_either_sort_form(api):
    ids = [api("POST", "/crm/v3/objects/companies", {"properties": {"name": n}}).data["id"] for n in "abc"]
    objects = _search(api, {"sorts": [{"propertyName": "hs_object_id", "direction": "DESCENDING"}]}, "companies").data
    strings = _search(api, {"sorts": ["-hs_object_id"]}, "companies").data
    assert [r["id"] for r in objects["results"]] == [r["id"] for r in strings["results"]] == ids[::-1]


def test_it_pages_200_at_most_and_refuses_a_larger_limit(api, portal):
    seed_records(portal, companies=250)
    first = _search(api, {"limit": 200}, "companies").data
    assert len(first["results"]) == 200
    assert first["paging"]["next"]["after"] == "200"
    second = _search(api, {"limit": 200, "after": "200"}, "companies").data
    assert len(second["results"]) == 50 and "paging" not in second


def test_it_refuses_to_page_past_10000_results(api):
    response = _search(api, {"limit": 100, "after": "10000"})
    assert response.status_code == 400  # the body past the cap is not verified (reference 1.6 [U])


def test_it_refuses_an_unknown_operator_or_property(api):
    bad_op = _search(api, {"filterGroups": [{"filters": [{"propertyName": "email", "operator": "LIKE", "value": "x"}]}]})
    bad_prop = _search(api, {"filterGroups": [{"filters": [{"propertyName": "nope", "operator": "EQ", "value": "x"}]}]})
    assert bad_op.status_code == bad_prop.status_code == 400



def test_it_stops_offering_a_next_page_at_the_cap(api, portal):
    from sandbox.hubspot.models import Portal

    Portal.objects.filter(pk=portal.pk).update(search_cap=50)
    seed_records(portal, companies=70)
    last = _search(api, {"limit": 20, "after": "40"}, "companies").data
    assert len(last["results"]) == 10 and "paging" not in last
    assert last["total"] == 70
    assert _search(api, {"limit": 20, "after": "50"}, "companies").status_code == 400
