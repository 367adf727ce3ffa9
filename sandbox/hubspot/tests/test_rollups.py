"""Contact roll-ups of associated deals (FEATURES F6.6), over every path that changes them."""

from __future__ import annotations

import pytest

from sandbox.hubspot.models import CrmObject

pytestmark = pytest.mark.django_db

ROLLUPS = "num_associated_deals,first_deal_created_date,recent_deal_close_date,recent_deal_amount,total_revenue"


def _contact(api, **props):
    return api("POST", "/crm/v3/objects/contacts", {"properties": {"email": "r@x.com", **props}}).data["id"]


def _deal(api, stage="appointmentscheduled", amount="100", closedate="2025-03-01T00:00:00.000Z", **extra):
    props = {"dealname": "D", "dealstage": stage, "amount": amount, "closedate": closedate, **extra}
    return api("POST", "/crm/v3/objects/deals", {"properties": props}).data["id"]


def _link(api, deal, contact):
    response = api("POST", "/crm/v4/associations/deals/contacts/batch/create", {"inputs": [
        {"from": {"id": deal}, "to": {"id": contact}, "types": [{"associationTypeId": 3}]}]})
    assert response.status_code == 201


def _rollups(api, contact):
    got = api("GET", f"/crm/v3/objects/contacts/{contact}?properties={ROLLUPS},lifecyclestage,lastmodifieddate")
    return got.data["properties"]


def test_it_lists_the_deal_rollups_as_read_only_calculated_contact_properties(api):
    props = {p["name"]: p for p in api("GET", "/crm/v3/properties/contacts").data["results"]}
    for name in ROLLUPS.split(","):
        assert props[name]["calculated"] is True
        assert props[name]["modificationMetadata"]["readOnlyValue"] is True
    assert props["total_revenue"]["type"] == "number"
    assert props["first_deal_created_date"]["type"] == "datetime"


def test_it_refuses_to_write_a_rollup_property_as_a_read_only_value(api):
    created = api("POST", "/crm/v3/objects/contacts", {"properties": {"email": "a@x.com", "total_revenue": "5"}})
    assert created.status_code == 400
    assert created.data["category"] == "VALIDATION_ERROR"
    assert created.data["errors"][0]["code"] == "READ_ONLY_VALUE"
    contact = _contact(api)
    patched = api("PATCH", f"/crm/v3/objects/contacts/{contact}", {"properties": {"num_associated_deals": "3"}})
    assert patched.status_code == 400 and patched.data["errors"][0]["code"] == "READ_ONLY_VALUE"


def test_it_rolls_up_the_associated_deals_of_a_contact(api):
    contact = _contact(api, lifecyclestage="lead")
    won = _deal(api, stage="closedwon", amount="1000", closedate="2025-06-30T00:00:00.000Z")
    lost = _deal(api, stage="closedlost", amount="50")
    newest = _deal(api, stage="qualifiedtobuy", amount="300", closedate="2026-01-01T00:00:00.000Z")
    for deal in (won, lost, newest):
        _link(api, deal, contact)
    props = _rollups(api, contact)
    first_created = CrmObject.objects.get(pk=won).created_at
    assert props["num_associated_deals"] == "3"
    assert props["first_deal_created_date"] == api("GET", f"/crm/v3/objects/deals/{won}").data["createdAt"]
    assert first_created <= CrmObject.objects.get(pk=newest).created_at
    assert props["total_revenue"] == "1000"
    assert props["recent_deal_close_date"] == "2025-06-30T00:00:00.000Z"  # of the closed-won deal
    assert props["lifecyclestage"] == "customer"


def test_it_takes_the_recent_deal_amount_from_the_newest_deal_not_the_last_closed(api):
    contact = _contact(api)
    _link(api, _deal(api, stage="closedwon", amount="900"), contact)
    _link(api, _deal(api, stage="appointmentscheduled", amount="120"), contact)
    assert _rollups(api, contact)["recent_deal_amount"] == "120"


def test_it_promotes_the_lifecycle_stage_but_never_lowers_it(api):
    lead = _contact(api, lifecyclestage="lead")
    evangelist = api("POST", "/crm/v3/objects/contacts", {"properties": {
        "email": "e@x.com", "lifecyclestage": "evangelist"}}).data["id"]
    open_deal = _deal(api)
    _link(api, open_deal, lead)
    _link(api, open_deal, evangelist)
    assert _rollups(api, lead)["lifecyclestage"] == "opportunity"
    assert _rollups(api, evangelist)["lifecyclestage"] == "evangelist"
    api("DELETE", f"/crm/v3/objects/deals/{open_deal}")
    assert _rollups(api, lead)["lifecyclestage"] == "opportunity"  # removing the deal does not lower it


def test_it_leaves_a_contact_without_deals_without_rollups(api):
    contact = _contact(api, lifecyclestage="lead")
    props = _rollups(api, contact)
    assert all(props[name] is None for name in ROLLUPS.split(","))
    assert props["lifecyclestage"] == "lead"


def test_it_recomputes_when_an_associated_deal_closes_and_moves_the_contacts_modified_date(api):
    contact = _contact(api)
    deal = _deal(api, amount="400")
    _link(api, deal, contact)
    before = _rollups(api, contact)
    assert before["total_revenue"] is None and before["lifecyclestage"] == "opportunity"
    api("PATCH", f"/crm/v3/objects/deals/{deal}", {"properties": {"dealstage": "closedwon", "amount": "450"}})
    after = _rollups(api, contact)
    assert after["total_revenue"] == "450" and after["recent_deal_amount"] == "450"
    assert after["lifecyclestage"] == "customer"
    assert after["lastmodifieddate"] > before["lastmodifieddate"]


def test_it_leaves_the_contact_alone_when_a_deal_changes_what_rollups_do_not_read(api):
    contact = _contact(api)
    deal = _deal(api)
    _link(api, deal, contact)
    before = _rollups(api, contact)["lastmodifieddate"]
    api("PATCH", f"/crm/v3/objects/deals/{deal}", {"properties": {"dealname": "Renamed"}})
    assert _rollups(api, contact)["lastmodifieddate"] == before


def test_it_drops_an_archived_deal_and_clears_rollups_with_the_last_one(api):
    contact = _contact(api)
    first, second = _deal(api, amount="10"), _deal(api, amount="20")
    _link(api, first, contact)
    _link(api, second, contact)
    assert api("POST", "/crm/v3/objects/deals/batch/archive", {"inputs": [{"id": second}]}).status_code == 204
    props = _rollups(api, contact)
    assert props["num_associated_deals"] == "1" and props["recent_deal_amount"] == "10"
    api("DELETE", f"/crm/v3/objects/deals/{first}")
    assert _rollups(api, contact)["num_associated_deals"] is None


def test_it_recomputes_when_associations_are_removed_one_by_one_or_in_batch(api):
    contact = _contact(api)
    first, second = _deal(api), _deal(api)
    _link(api, first, contact)
    _link(api, second, contact)
    assert api("DELETE", f"/crm/v4/objects/contacts/{contact}/associations/deals/{first}").status_code == 204
    assert _rollups(api, contact)["num_associated_deals"] == "1"
    response = api("POST", "/crm/v4/associations/deals/contacts/batch/archive",
                   {"inputs": [{"from": {"id": second}, "to": [{"id": contact}]}]})
    assert response.status_code == 204
    assert _rollups(api, contact)["num_associated_deals"] is None


def test_it_rolls_up_a_deal_created_with_an_association_to_the_contact(api):
    contact = _contact(api)
    response = api("POST", "/crm/v3/objects/deals", {
        "properties": {"dealname": "D", "dealstage": "closedwon", "amount": "70"},
        "associations": [{"to": {"id": contact}, "types": [{"associationCategory": "HUBSPOT_DEFINED",
                                                              "associationTypeId": 3}]}]})
    assert response.status_code == 201
    assert _rollups(api, contact)["total_revenue"] == "70"


def test_it_rolls_up_through_the_v3_and_v4_single_association_endpoints(api):
    contact = _contact(api)
    first, second = _deal(api), _deal(api)
    v3 = api("PUT", f"/crm/v3/objects/deals/{first}/associations/contacts/{contact}/deal_to_contact")
    assert v3.status_code == 200
    assert v3.data["associations"]["contacts"]["results"][0]["id"] == contact
    v4 = api("PUT", f"/crm/v4/objects/contacts/{contact}/associations/default/deals/{second}")
    assert v4.status_code == 200
    assert _rollups(api, contact)["num_associated_deals"] == "2"
    assert api("DELETE", f"/crm/v3/objects/deals/{first}/associations/contacts/{contact}/3").status_code == 204
    assert _rollups(api, contact)["num_associated_deals"] == "1"


def test_it_refuses_an_unknown_v3_association_type(api):
    contact, deal = _contact(api), _deal(api)
    response = api("PUT", f"/crm/v3/objects/deals/{deal}/associations/contacts/{contact}/deal_to_company")
    assert response.status_code == 400
    assert _rollups(api, contact)["num_associated_deals"] is None


def test_it_moves_deals_to_the_surviving_contact_of_a_merge(api):
    keep = _contact(api)
    other = api("POST", "/crm/v3/objects/contacts", {"properties": {"email": "o@x.com"}}).data["id"]
    _link(api, _deal(api, amount="5"), keep)
    _link(api, _deal(api, amount="7"), other)
    merged = api("POST", "/crm/v3/objects/contacts/merge", {"primaryObjectId": keep, "objectIdToMerge": other})
    assert _rollups(api, merged.data["id"])["num_associated_deals"] == "2"
    assert _rollups(api, keep)["num_associated_deals"] == "2"  # the old id reads the new record


def test_it_counts_merged_deals_once(api):
    contact = _contact(api)
    keep, other = _deal(api, amount="5"), _deal(api, amount="7")
    _link(api, keep, contact)
    _link(api, other, contact)
    api("POST", "/crm/v3/objects/deals/merge", {"primaryObjectId": keep, "objectIdToMerge": other})
    assert _rollups(api, contact)["num_associated_deals"] == "1"
    deal_contacts = api("GET", f"/crm/v4/objects/deals/{keep}/associations/contacts").data["results"]
    assert [r["toObjectId"] for r in deal_contacts] == [int(contact)]


def test_an_association_change_alone_does_not_touch_modified_dates(api):
    contact = _contact(api)
    company = api("POST", "/crm/v3/objects/companies", {"properties": {"name": "Acme"}}).data["id"]
    deal = _deal(api)
    stamps = {i: CrmObject.objects.get(pk=i).updated_at for i in (contact, company, deal)}
    api("PUT", f"/crm/v4/objects/contacts/{contact}/associations/companies/{company}", [{"associationTypeId": 1}])
    api("PUT", f"/crm/v4/objects/deals/{deal}/associations/companies/{company}", [{"associationTypeId": 5}])
    api("PUT", f"/crm/v4/objects/contacts/{contact}/associations/default/companies/{company}")
    assert {i: CrmObject.objects.get(pk=i).updated_at for i in stamps} == stamps
    _link(api, deal, contact)  # the contact's roll-ups change: only the contact moves
    assert CrmObject.objects.get(pk=deal).updated_at == stamps[deal]
    assert CrmObject.objects.get(pk=contact).updated_at > stamps[contact]


def test_it_recomputes_a_batch_of_associations_in_a_bounded_number_of_queries(api, portal,
                                                                               django_assert_max_num_queries):
    from sandbox.hubspot.seed import seed_records

    seed_records(portal, contacts=100, deals=100)
    contacts = list(CrmObject.objects.filter(portal=portal, object_type="contacts").values_list("pk", flat=True))
    deals = list(CrmObject.objects.filter(portal=portal, object_type="deals").values_list("pk", flat=True))
    inputs = [{"from": {"id": str(d)}, "to": {"id": str(c)}, "types": [{"associationTypeId": 3}]}
              for d, c in zip(deals, contacts, strict=True)]
    with django_assert_max_num_queries(20):
        response = api("POST", "/crm/v4/associations/deals/contacts/batch/create", {"inputs": inputs})
    assert response.status_code == 201 and len(response.data["results"]) == 100
    rolled = CrmObject.objects.filter(pk__in=contacts, properties__num_associated_deals__isnull=False)
    assert rolled.count() == 100


def test_it_rolls_up_deals_batch_created_with_associations_once_per_request(api):
    contact = _contact(api)
    inputs = [{"properties": {"dealname": f"D{i}", "amount": "10", "dealstage": "closedwon"},
               "associations": [{"to": {"id": contact}, "types": [{"associationTypeId": 3}]}]} for i in range(3)]
    assert api("POST", "/crm/v3/objects/deals/batch/create", {"inputs": inputs}).status_code == 201
    props = _rollups(api, contact)
    assert props["num_associated_deals"] == "3" and props["total_revenue"] == "30"
