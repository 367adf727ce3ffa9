"""Opportunities as deal sync sees them: which writes move which SystemModstamp, record types
and their sales processes, contact roles in queryAll, amounts in multi-currency orgs."""

from datetime import timedelta

import pytest

from sandbox.salesforce.models import Record


def _age(*sf_ids: str) -> None:
    """Move records' SystemModstamp an hour back, so a later bump is visible at 1 s precision."""
    for record in Record.objects.filter(sf_id__in=sf_ids):
        Record.objects.filter(pk=record.pk).update(
            system_modstamp=record.system_modstamp - timedelta(hours=1)
        )


def _modstamp(sf_id: str):
    return Record.objects.get(sf_id=sf_id).system_modstamp


def _first(sobject: str, **data) -> str:
    query = Record.objects.filter(sobject=sobject, is_deleted=False).order_by("sf_id")
    return next(r.sf_id for r in query if all(r.data.get(k) == v for k, v in data.items()))


def _record_type(name: str) -> str:
    return Record.objects.get(sobject="RecordType", data__Name=name).sf_id


@pytest.mark.parametrize("sobject", ["Contact", "Opportunity"])
def test_changing_the_account_lookup_bumps_the_records_system_modstamp(api, sobject):
    record, other_account = _first(sobject), _first("Account")
    _age(record)
    before = _modstamp(record)
    status, _, _ = api.call("PATCH", f"sobjects/{sobject}/{record}", {"AccountId": other_account})
    assert status == 204
    assert _modstamp(record) > before
    _age(record)
    before = _modstamp(record)
    assert api.call("PATCH", f"sobjects/{sobject}/{record}", {"AccountId": None})[0] == 204
    assert _modstamp(record) > before and Record.objects.get(sf_id=record).data["AccountId"] is None


def test_adding_and_removing_a_contact_role_leaves_the_opportunitys_system_modstamp_alone(api):
    opp, contact = _first("Opportunity"), _first("Contact")
    _age(opp)
    before = _modstamp(opp)
    status, created, _ = api.call(
        "POST", "sobjects/OpportunityContactRole", {"OpportunityId": opp, "ContactId": contact}
    )
    assert status == 201 and _modstamp(opp) == before
    assert api.call("DELETE", f"sobjects/OpportunityContactRole/{created['id']}")[0] == 204
    assert _modstamp(opp) == before
    assert _modstamp(created["id"]) > before


def test_query_all_lists_deleted_contact_roles_by_system_modstamp(api):
    roles = list(
        Record.objects.filter(sobject="OpportunityContactRole")
        .order_by("sf_id")
        .values_list("sf_id", flat=True)
    )
    _age(*roles)
    gone = roles[0]
    assert api.call("DELETE", f"sobjects/OpportunityContactRole/{gone}")[0] == 204
    text = (
        "SELECT Id, OpportunityId, IsDeleted FROM OpportunityContactRole ORDER BY SystemModstamp ASC, Id ASC"
    )
    _, live, _ = api.query(text)
    _, everything, _ = api.query(text, all_rows=True)
    assert gone not in {r["Id"] for r in live["records"]}
    assert everything["records"][-1]["Id"] == gone and everything["records"][-1]["IsDeleted"] is True
    assert everything["totalSize"] == live["totalSize"] + 1


def test_deleting_a_contact_deletes_its_roles_but_leaves_the_opportunity(api):
    role = Record.objects.filter(sobject="OpportunityContactRole").order_by("sf_id").first()
    contact, opp = role.data["ContactId"], role.data["OpportunityId"]
    assert api.call("DELETE", f"sobjects/Contact/{contact}")[0] == 204
    assert Record.objects.get(pk=role.pk).is_deleted
    assert not Record.objects.get(sf_id=opp).is_deleted


def test_an_opportunity_takes_any_stage_its_record_types_process_allows(api):
    renewal = _record_type("Renewal")
    body = {"Name": "R", "StageName": "Closed Won", "CloseDate": "2030-01-01", "RecordTypeId": renewal}
    status, created, _ = api.call("POST", "sobjects/Opportunity", body)
    assert status == 201
    _, record, _ = api.get(f"sobjects/Opportunity/{created['id']}")
    assert record["RecordTypeId"] == renewal and record["IsWon"] is True


def test_a_stage_outside_the_record_types_process_is_a_restricted_picklist_error(api):
    renewal = _record_type("Renewal")
    body = {"Name": "R", "StageName": "Qualification", "CloseDate": "2030-01-01", "RecordTypeId": renewal}
    status, errors, _ = api.call("POST", "sobjects/Opportunity", body)
    assert status == 400
    assert errors[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert errors[0]["fields"] == ["StageName"]


def test_moving_an_opportunity_to_a_record_type_without_its_stage_is_refused(api):
    new_business, renewal = _record_type("New Business"), _record_type("Renewal")
    body = {
        "Name": "N",
        "StageName": "Qualification",
        "CloseDate": "2030-01-01",
        "RecordTypeId": new_business,
    }
    _, created, _ = api.call("POST", "sobjects/Opportunity", body)
    status, errors, _ = api.call("PATCH", f"sobjects/Opportunity/{created['id']}", {"RecordTypeId": renewal})
    assert status == 400 and errors[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    moved = {"RecordTypeId": renewal, "StageName": "Closed Lost"}
    assert api.call("PATCH", f"sobjects/Opportunity/{created['id']}", moved)[0] == 204
    assert Record.objects.get(sf_id=created["id"]).data["RecordTypeId"] == renewal


def test_a_record_type_id_that_is_not_a_record_type_is_an_invalid_cross_reference(api):
    account = _first("Account")
    body = {"Name": "X", "StageName": "Prospecting", "CloseDate": "2030-01-01", "RecordTypeId": account}
    status, errors, _ = api.call("POST", "sobjects/Opportunity", body)
    assert status == 400 and errors[0]["errorCode"] == "INVALID_CROSS_REFERENCE_KEY"


def test_making_a_contact_role_primary_demotes_the_others_of_that_opportunity_only(api):
    first, second = (
        _first("Opportunity"),
        Record.objects.filter(sobject="Opportunity").order_by("sf_id")[1].sf_id,
    )
    contacts = list(
        Record.objects.filter(sobject="Contact").order_by("sf_id").values_list("sf_id", flat=True)[:2]
    )
    records = [
        {
            "attributes": {"type": "OpportunityContactRole"},
            "OpportunityId": opp,
            "ContactId": c,
            "IsPrimary": True,
        }
        for opp, c in [(first, contacts[0]), (first, contacts[1]), (second, contacts[0])]
    ]
    _, results, _ = api.call("POST", "composite/sobjects", {"allOrNone": False, "records": records})
    assert all(r["success"] for r in results)

    def primaries(opp):
        roles = Record.objects.filter(
            sobject="OpportunityContactRole", is_deleted=False, data__OpportunityId=opp
        )
        return [r.sf_id for r in roles if r.data["IsPrimary"]]

    assert primaries(first) == [results[1]["id"]] and primaries(second) == [results[2]["id"]]
    status, _, _ = api.call(
        "PATCH", f"sobjects/OpportunityContactRole/{results[0]['id']}", {"IsPrimary": True}
    )
    assert status == 204 and primaries(first) == [results[0]["id"]]


def test_a_15_character_record_type_id_narrows_the_stages_like_its_18_character_form(api):
    renewal = _record_type("Renewal")[:15]
    body = {"Name": "R", "StageName": "Qualification", "CloseDate": "2030-01-01", "RecordTypeId": renewal}
    status, errors, _ = api.call("POST", "sobjects/Opportunity", body)
    assert status == 400 and errors[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    status, created, _ = api.call("POST", "sobjects/Opportunity", {**body, "StageName": "Closed Won"})
    assert status == 201 and Record.objects.get(sf_id=created["id"]).data["RecordTypeId"] == _record_type(
        "Renewal"
    )
