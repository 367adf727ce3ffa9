"""Vendor behaviours that change what a connector must do: association paging, the answer for
a record without associations, the default-association endpoints, search lag, archived=True."""

from __future__ import annotations

from datetime import timedelta

from django.test import override_settings

from sandbox.hubspot.models import Association, CrmObject
from sandbox.hubspot.seed import seed_records


def _deal_with_contacts(portal, n: int) -> tuple[int, int, list[int]]:
    seed_records(portal, deals=2, contacts=n, deal_contacts=(0, 0))
    crowded, lonely = CrmObject.objects.filter(portal=portal, object_type="deals").order_by("pk").values_list(
        "pk", flat=True)
    contacts = sorted(CrmObject.objects.filter(portal=portal, object_type="contacts").values_list("pk", flat=True))
    Association.objects.bulk_create([Association(portal=portal, from_type="deals", from_id=crowded,
                                                 to_type="contacts", to_id=c, type_id=3) for c in contacts])
    return crowded, lonely, contacts


def test_a_single_records_associations_come_500_per_page_with_an_after_cursor(api, portal):
    deal, _, contacts = _deal_with_contacts(portal, 650)
    first = api("GET", f"/crm/v4/objects/deals/{deal}/associations/contacts")
    assert [r["toObjectId"] for r in first.data["results"]] == contacts[:500]
    after = first.data["paging"]["next"]["after"]
    second = api("GET", f"/crm/v4/objects/deals/{deal}/associations/contacts?after={after}")
    assert [r["toObjectId"] for r in second.data["results"]] == contacts[500:]
    assert "paging" not in second.data
    assert api("GET", f"/crm/v4/objects/deals/{deal}/associations/contacts?after=x").status_code == 400


def test_a_batch_association_read_pages_each_input_apart(api, portal):
    deal, lonely, contacts = _deal_with_contacts(portal, 650)
    first = api("POST", "/crm/v4/associations/deals/contacts/batch/read", {"inputs": [{"id": str(deal)}]})
    [result] = first.data["results"]
    assert len(result["to"]) == 500
    after = result["paging"]["next"]["after"]
    second = api("POST", "/crm/v4/associations/deals/contacts/batch/read",
                 {"inputs": [{"id": str(deal), "after": after}]})
    [rest] = second.data["results"]
    assert [t["toObjectId"] for t in result["to"] + rest["to"]] == contacts
    assert "paging" not in rest


def test_a_record_without_associations_is_a_207_no_associations_found_error(api, portal):
    deal, lonely, _ = _deal_with_contacts(portal, 3)
    response = api("POST", "/crm/v4/associations/deals/contacts/batch/read",
                   {"inputs": [{"id": str(deal)}, {"id": str(lonely)}]})
    assert response.status_code == 207
    assert [r["from"]["id"] for r in response.data["results"]] == [str(deal)]
    [error] = response.data["errors"]
    assert error["subCategory"] == "crm.associations.NO_ASSOCIATIONS_FOUND"
    assert error["context"] == {"fromObjectId": [str(lonely)], "fromObjectType": ["deals"],
                                "toObjectType": ["contacts"]}


def test_the_default_association_endpoints_answer_200_in_the_batch_shape(api, portal):
    deal, _, (contact, other, *_rest) = _deal_with_contacts(portal, 3)
    Association.objects.filter(portal=portal).delete()
    single = api("PUT", f"/crm/v4/objects/deals/{deal}/associations/default/contacts/{contact}")
    assert single.status_code == 200
    assert single.data["status"] == "COMPLETE"
    assert single.data["results"] == [{"from": {"id": str(deal)}, "to": {"id": str(contact)}, "associationSpec": {
        "associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}}]
    batch = api("POST", "/crm/v4/associations/deals/contacts/batch/associate/default",
                {"inputs": [{"from": {"id": str(deal)}, "to": {"id": str(other)}}]})
    assert batch.status_code == 200
    assert batch.data["results"][0]["to"] == {"id": str(other)}
    bad = api("POST", "/crm/v4/associations/deals/contacts/batch/associate/default",
              {"inputs": [{"from": {"id": str(deal)}, "to": {"id": "999999999"}}]})
    assert bad.status_code == 207


def _search_email(api, email: str) -> list[str]:
    body = {"filterGroups": [{"filters": [{"propertyName": "email", "operator": "EQ", "value": email}]}]}
    return [r["id"] for r in api("POST", "/crm/v3/objects/contacts/search", body).data["results"]]


@override_settings(SANDBOX_HUBSPOT_SEARCH_DELAY_SECONDS=2)
def test_a_record_written_appears_in_search_only_after_the_index_delay(api, portal):
    created = api("POST", "/crm/v3/objects/contacts", {"properties": {"email": "lag@x.com"}}).data["id"]
    assert _search_email(api, "lag@x.com") == []
    assert api("GET", f"/crm/v3/objects/contacts/{created}").status_code == 200  # reads see it at once
    obj = CrmObject.objects.get(pk=created)
    CrmObject.objects.filter(pk=created).update(updated_at=obj.updated_at - timedelta(seconds=3))
    assert _search_email(api, "lag@x.com") == [created]


def test_archived_is_accepted_as_true_or_True(api):
    created = api("POST", "/crm/v3/objects/contacts", {"properties": {"email": "gone@x.com"}}).data["id"]
    assert api("DELETE", f"/crm/v3/objects/contacts/{created}").status_code == 204
    for flag in ("true", "True"):
        listed = api("GET", f"/crm/v3/objects/contacts?archived={flag}").data["results"]
        assert [r["id"] for r in listed] == [created]
        assert api("GET", f"/crm/v3/objects/contacts/{created}?archived={flag}").data["archived"] is True
        read = api("POST", f"/crm/v3/objects/contacts/batch/read?archived={flag}", {"inputs": [{"id": created}]})
        assert [r["id"] for r in read.data["results"]] == [created]
    assert api("GET", f"/crm/v3/objects/contacts/{created}").status_code == 404
