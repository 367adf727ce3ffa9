"""Properties, pipelines and v4 associations."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_it_describes_properties_with_types_options_and_read_only_flags(api):
    response = api("GET", "/crm/v3/properties/contacts")
    assert response.status_code == 200
    props = {p["name"]: p for p in response.data["results"]}
    assert props["email"]["type"] == "string" and props["email"]["hasUniqueValue"] is True
    assert props["lifecyclestage"]["type"] == "enumeration"
    assert "lead" in [o["value"] for o in props["lifecyclestage"]["options"]]
    assert props["createdate"]["modificationMetadata"]["readOnlyValue"] is True
    assert props["firstname"]["modificationMetadata"]["readOnlyValue"] is False
    allowed_types = {"bool", "date", "datetime", "enumeration", "number", "phone_number", "string"}
    assert {p["type"] for p in props.values()} <= allowed_types


def test_it_lists_the_default_deal_pipeline(api):
    pipelines = api("GET", "/crm/v3/pipelines/deals").data["results"]
    default = pipelines[0]
    assert default["id"] == "default"
    stages = {s["id"]: s["metadata"] for s in default["stages"]}
    assert stages["closedwon"] == {"probability": "1.0", "isClosed": "true"}
    assert stages["closedlost"]["probability"] == "0.0"
    assert stages["appointmentscheduled"]["isClosed"] == "false"


def test_it_creates_a_pipeline_whose_stages_deals_can_use(api):
    body = {"label": "Partners", "displayOrder": 1, "stages": [
        {"label": "New", "displayOrder": 0, "metadata": {"probability": "0.1"}},
        {"label": "Won", "displayOrder": 1, "metadata": {"probability": "1.0", "isClosed": "true"}}]}
    response = api("POST", "/crm/v3/pipelines/deals", body)
    assert response.status_code == 201
    assert response["Location"].endswith(f"/crm/v3/pipelines/deals/{response.data['id']}")
    stage = response.data["stages"][0]["id"]
    deal = api("POST", "/crm/v3/objects/deals", {"properties": {"dealname": "P", "pipeline": response.data["id"],
                                                                 "dealstage": stage}})
    assert deal.status_code == 201
    assert api("POST", "/crm/v3/pipelines/deals", body).status_code >= 400  # labels are unique [V]


def test_it_refuses_a_deal_stage_without_probability(api):
    body = {"label": "Bad", "stages": [{"label": "New", "metadata": {}}]}
    assert api("POST", "/crm/v3/pipelines/deals", body).status_code == 400


def test_it_answers_404_for_an_unknown_pipeline(api):
    assert api("GET", "/crm/v3/pipelines/deals/nope").status_code == 404


def _pair(api):
    contact = api("POST", "/crm/v3/objects/contacts", {"properties": {"email": "a@x.com"}}).data["id"]
    companies = [api("POST", "/crm/v3/objects/companies", {"properties": {"name": n}}).data["id"] for n in "ab"]
    return contact, companies


def test_it_associates_a_primary_company_and_reads_it_back_in_v4_shape(api):
    contact, (first, second) = _pair(api)
    put = api("PUT", f"/crm/v4/objects/contacts/{contact}/associations/companies/{first}",
              [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}])
    assert put.status_code == 201
    assert put.data["labels"] == ["Primary"]
    api("PUT", f"/crm/v4/objects/contacts/{contact}/associations/default/companies/{second}")
    results = api("GET", f"/crm/v4/objects/contacts/{contact}/associations/companies").data["results"]
    types = {r["toObjectId"]: sorted(t["typeId"] for t in r["associationTypes"]) for r in results}
    assert types == {int(first): [1, 279], int(second): [279]}
    back = api("GET", f"/crm/v4/objects/companies/{first}/associations/contacts").data["results"]
    assert sorted(t["typeId"] for t in back[0]["associationTypes"]) == [2, 280]


def test_it_keeps_one_primary_company_per_contact(api):
    """The emulator's rule (a new primary replaces the old one); not a verified vendor fact."""
    contact, (first, second) = _pair(api)
    for company in (first, second):
        api("POST", "/crm/v4/associations/contacts/companies/batch/create", {"inputs": [
            {"from": {"id": contact}, "to": {"id": company},
             "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}]}]})
    read = api("POST", "/crm/v4/associations/contacts/companies/batch/read", {"inputs": [{"id": contact}]})
    assert read.status_code == 200
    primaries = [t["toObjectId"] for t in read.data["results"][0]["to"]
                 if 1 in [a["typeId"] for a in t["associationTypes"]]]
    assert primaries == [int(second)]


def test_it_archives_associations_in_batch(api):
    contact, (first, _) = _pair(api)
    api("PUT", f"/crm/v4/objects/contacts/{contact}/associations/default/companies/{first}")
    response = api("POST", "/crm/v4/associations/contacts/companies/batch/archive",
                   {"inputs": [{"from": {"id": contact}, "to": [{"id": first}]}]})
    assert response.status_code == 204
    assert api("GET", f"/crm/v4/objects/contacts/{contact}/associations/companies").data["results"] == []


def test_it_reports_invalid_ids_in_a_batch_association(api):
    contact, _ = _pair(api)
    response = api("POST", "/crm/v4/associations/contacts/companies/batch/create", {"inputs": [
        {"from": {"id": contact}, "to": {"id": "999999"}, "types": [{"associationTypeId": 279}]}]})
    assert response.status_code == 207
    assert response.data["numErrors"] == 1 and response.data["results"] == []


def test_it_includes_v3_associations_on_get(api):
    contact, (first, _) = _pair(api)
    api("PUT", f"/crm/v4/objects/contacts/{contact}/associations/companies/{first}", [{"associationTypeId": 1}])
    got = api("GET", f"/crm/v3/objects/contacts/{contact}?associations=companies").data
    assert {r["id"] for r in got["associations"]["companies"]["results"]} == {first}


def test_it_lists_association_labels_with_stable_type_ids(api):
    response = api("GET", "/crm/v4/associations/contacts/companies/labels")
    assert response.status_code == 200
    by_id = {r["typeId"]: r for r in response.data["results"]}
    assert set(by_id) == {1, 279}
    assert by_id[279]["label"] is None and by_id[1]["category"] == "HUBSPOT_DEFINED"


def test_a_company_made_primary_from_its_side_keeps_its_other_contacts_primary(api):
    first = api("POST", "/crm/v3/objects/contacts", {"properties": {"email": "one@x.com"}}).data["id"]
    second = api("POST", "/crm/v3/objects/contacts", {"properties": {"email": "two@x.com"}}).data["id"]
    old, company = [api("POST", "/crm/v3/objects/companies", {"properties": {"name": n}}).data["id"] for n in "ab"]
    api("PUT", f"/crm/v4/objects/contacts/{second}/associations/companies/{old}", [{"associationTypeId": 1}])
    for contact in (first, second):
        response = api("PUT", f"/crm/v4/objects/companies/{company}/associations/contacts/{contact}",
                       [{"associationTypeId": 2}])
        assert response.status_code == 201 and response.data["labels"] == ["Primary"]
    back = api("GET", f"/crm/v4/objects/companies/{company}/associations/contacts").data["results"]
    assert {r["toObjectId"]: sorted(t["typeId"] for t in r["associationTypes"]) for r in back} == {
        int(first): [2, 280], int(second): [2, 280]}
    of_second = api("GET", f"/crm/v4/objects/contacts/{second}/associations/companies").data["results"]
    assert {r["toObjectId"]: sorted(t["typeId"] for t in r["associationTypes"]) for r in of_second} == {
        int(old): [279], int(company): [1, 279]}
