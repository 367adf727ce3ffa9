"""Describe, single-record CRUD and upsert, sObject Collections, and validation errors."""

from datetime import timedelta

import pytest

from sandbox.salesforce.models import Org, Record
from sandbox.salesforce.seed import seed_org
from sandbox.salesforce.tests.conftest import Api


def test_describe_lists_types_permissions_and_picklists(api):
    status, body, _ = api.get("sobjects/Opportunity/describe")
    fields = {f["name"]: f for f in body["fields"]}
    assert status == 200 and body["keyPrefix"] == "006"
    stage = fields["StageName"]
    assert stage["type"] == "picklist" and stage["restrictedPicklist"] and not stage["nillable"]
    assert {"Closed Won", "Prospecting"} <= {p["value"] for p in stage["picklistValues"]}
    assert fields["IsWon"]["createable"] is False and fields["IsWon"]["updateable"] is False
    assert fields["Amount"]["type"] == "currency"
    assert (
        fields["AccountId"]["referenceTo"] == ["Account"]
        and fields["AccountId"]["relationshipName"] == "Account"
    )
    assert "CurrencyIsoCode" not in fields
    master = [i for i in body["recordTypeInfos"] if i["master"]]
    assert master[0]["recordTypeId"] == "012000000000000AAA" and len(body["recordTypeInfos"]) == 3


def test_global_describe_hides_objects_the_user_cannot_see(api, org):
    Org.objects.filter(pk=org.org.pk).update(restrictions={"hidden_objects": ["Lead"]})
    _, body, _ = api.get("sobjects/")
    assert body["maxBatchSize"] == 200
    assert "Contact" in {o["name"] for o in body["sobjects"]} and "Lead" not in {
        o["name"] for o in body["sobjects"]
    }
    assert api.get("sobjects/Lead/describe")[0] == 404


def test_picklist_values_per_record_type_follow_the_business_process(api):
    _, body, _ = api.query("SELECT Id, Name FROM RecordType WHERE SobjectType = 'Opportunity' ORDER BY Name")
    renewal = next(r["Id"] for r in body["records"] if r["Name"] == "Renewal")
    _, values, _ = api.get(f"ui-api/object-info/Opportunity/picklist-values/{renewal}/StageName")
    renewal_stages = [v["value"] for v in values["values"]]
    _, everything, _ = api.get("ui-api/object-info/Opportunity/picklist-values/012000000000000AAA")
    all_stages = [v["value"] for v in everything["picklistFieldValues"]["StageName"]["values"]]
    assert set(renewal_stages) < set(all_stages) and "Closed Won" in renewal_stages
    assert api.get("ui-api/object-info/Opportunity/picklist-values/012999999999999AAA")[0] == 404


def test_create_get_update_delete_keep_the_audit_fields(api):
    status, created, _ = api.call("POST", "sobjects/Contact/", {"LastName": "Doe", "FirstName": "Jane"})
    assert (
        status == 201 and created["success"] and created["id"].startswith("003") and len(created["id"]) == 18
    )
    Record.objects.filter(sf_id=created["id"]).update(
        system_modstamp=Record.objects.get(sf_id=created["id"]).system_modstamp - timedelta(hours=1)
    )
    _, before, _ = api.get(f"sobjects/Contact/{created['id']}")
    assert before["Name"] == "Jane Doe" and before["OwnerId"].startswith("005")
    assert api.call("PATCH", f"sobjects/Contact/{created['id']}", {"Title": "CEO"})[0] == 204
    _, after, _ = api.get(f"sobjects/Contact/{created['id']}?fields=Title,SystemModstamp,LastModifiedDate")
    assert after["Title"] == "CEO" and after["SystemModstamp"] > before["SystemModstamp"]
    assert after["LastModifiedDate"] == after["SystemModstamp"]
    assert api.call("DELETE", f"sobjects/Contact/{created['id']}")[0] == 204
    status, body, _ = api.call("PATCH", f"sobjects/Contact/{created['id']}", {"Title": "x"})
    assert status == 404 and body[0]["errorCode"] == "ENTITY_IS_DELETED"
    assert api.get("sobjects/Contact/003000000000000AAA")[1][0]["errorCode"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("payload", "code", "fields"),
    [
        ({"FirstName": "x"}, "REQUIRED_FIELD_MISSING", ["LastName"]),
        ({"LastName": "x", "Nope__c": 1}, "INVALID_FIELD", ["Nope__c"]),
        ({"LastName": "x", "Name": "y"}, "INVALID_FIELD_FOR_INSERT_UPDATE", ["Name"]),
        ({"LastName": "x" * 81}, "STRING_TOO_LONG", ["LastName"]),
        ({"LastName": "x", "Email": "nope"}, "INVALID_EMAIL_ADDRESS", ["Email"]),
        ({"LastName": "x", "AccountId": "001000000000000AAA"}, "INVALID_CROSS_REFERENCE_KEY", ["AccountId"]),
        ({"LastName": "x", "AccountId": "bad"}, "MALFORMED_ID", ["AccountId"]),
    ],
)
def test_single_creates_fail_with_salesforces_error_array(api, payload, code, fields):
    status, body, _ = api.call("POST", "sobjects/Contact", payload)
    assert status == 400
    assert body[0]["errorCode"] == code and body[0]["fields"] == fields and body[0]["message"]


def test_a_value_of_the_wrong_type_fails_the_whole_request(api):
    status, body, _ = api.call(
        "POST",
        "composite/sobjects",
        {
            "records": [
                {
                    "attributes": {"type": "Opportunity"},
                    "Name": "A",
                    "StageName": "Prospecting",
                    "CloseDate": "tomorrow",
                }
            ]
        },
    )
    assert status == 400 and body[0]["errorCode"] == "JSON_PARSER_ERROR"


def test_upsert_by_external_id_creates_then_updates_then_sees_ambiguity(api, org):
    status, body, _ = api.call("PATCH", "sobjects/Account/External_Id__c/ACME-1", {"Name": "Acme"})
    assert status == 201 and body["created"] is True
    status, body, _ = api.call("PATCH", "sobjects/Account/External_Id__c/acme-1", {"Name": "Acme Inc"})
    assert status == 200 and body["created"] is False
    assert api.get("sobjects/Account/External_Id__c/ACME-1")[1]["Name"] == "Acme Inc"
    clone = Record.objects.get(sobject="Account", ext_key="acme-1")
    clone.pk, clone.sf_id = None, "001" + "z" * 15
    clone.save()
    assert api.get("sobjects/Account/External_Id__c/ACME-1")[0] == 300


def test_collections_return_one_result_per_record_with_status_codes(api):
    status, results, _ = api.call(
        "POST",
        "composite/sobjects",
        {
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Account"}, "Name": "Fine"},
                {"attributes": {"type": "Account"}},
                {"attributes": {"type": "Contact"}, "LastName": "Mixed types are fine"},
            ],
        },
    )
    assert status == 200
    assert [r["success"] for r in results] == [True, False, True]
    assert results[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert "errorCode" not in results[1]["errors"][0]


def test_all_or_none_rolls_everything_back(api):
    before = Record.objects.count()
    _, results, _ = api.call(
        "POST",
        "composite/sobjects",
        {
            "allOrNone": True,
            "records": [
                {"attributes": {"type": "Account"}, "Name": "Fine"},
                {"attributes": {"type": "Account"}},
            ],
        },
    )
    assert [r["errors"][0]["statusCode"] for r in results] == [
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "REQUIRED_FIELD_MISSING",
    ]
    assert Record.objects.count() == before


def test_collections_take_at_most_200_records_and_need_a_type(api):
    records = [{"attributes": {"type": "Account"}, "Name": str(i)} for i in range(201)]
    status, body, _ = api.call("POST", "composite/sobjects", {"records": records})
    assert status == 400 and body[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    status, body, _ = api.call("POST", "composite/sobjects", {"records": [{"Name": "untyped"}]})
    assert status == 400 and body[0]["errorCode"] == "INVALID_TYPE"


def test_collection_update_read_and_delete(api):
    _, body, _ = api.query("SELECT Id FROM Contact ORDER BY Id LIMIT 2")
    a, b = (r["Id"] for r in body["records"])
    _, results, _ = api.call(
        "PATCH",
        "composite/sobjects",
        {
            "records": [
                {"attributes": {"type": "Contact"}, "id": a, "Title": "Updated"},
                {"attributes": {"type": "Contact"}, "id": "003000000000000AAA", "Title": "Missing"},
                {"attributes": {"type": "Contact"}, "Title": "No id"},
            ]
        },
    )
    assert [r["success"] for r in results] == [True, False, False]
    assert results[2]["errors"][0]["statusCode"] == "MISSING_ARGUMENT"
    _, read, _ = api.get(f"composite/sobjects/Contact?ids={a},{b},003000000000000AAA&fields=Id,Title")
    assert read[0]["Title"] == "Updated" and read[2] is None
    _, deleted, _ = api.call("DELETE", f"composite/sobjects?ids={a}&allOrNone=false")
    assert deleted[0]["success"]
    _, deleted, _ = api.call("DELETE", f"composite/sobjects?ids={a},{b}&allOrNone=true")
    assert deleted[0]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"
    assert deleted[1]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert not Record.objects.get(sf_id=b).is_deleted


def test_collection_upsert_reports_created(api):
    _, results, _ = api.call(
        "PATCH",
        "composite/sobjects/Contact/External_Id__c",
        {"records": [{"attributes": {"type": "Contact"}, "External_Id__c": "C-1", "LastName": "One"}]},
    )
    assert results[0]["created"] is True
    _, results, _ = api.call(
        "PATCH",
        "composite/sobjects/Contact/External_Id__c",
        {"records": [{"attributes": {"type": "Contact"}, "External_Id__c": "C-1", "LastName": "Uno"}]},
    )
    assert results[0]["created"] is False and results[0]["success"]


def test_opportunities_derive_closed_and_won_from_the_stage(api):
    _, created, _ = api.call(
        "POST", "sobjects/Opportunity", {"Name": "D", "StageName": "Closed Won", "CloseDate": "2030-01-01"}
    )
    _, record, _ = api.get(f"sobjects/Opportunity/{created['id']}")
    assert (record["IsClosed"], record["IsWon"], record["Probability"]) == (True, True, 100)
    assert record["RecordTypeId"].startswith("012")
    status, body, _ = api.call("PATCH", f"sobjects/Opportunity/{created['id']}", {"StageName": "Bogus"})
    assert body[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    status, body, _ = api.call("PATCH", f"sobjects/Opportunity/{created['id']}", {"Amount": -1})
    assert body[0]["errorCode"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION"


def test_a_multi_currency_org_has_currency_iso_code_and_a_single_currency_org_refuses_it(db, api):
    status, body, _ = api.call(
        "POST",
        "sobjects/Opportunity",
        {"Name": "D", "StageName": "Prospecting", "CloseDate": "2030-01-01", "CurrencyIsoCode": "EUR"},
    )
    assert body[0]["errorCode"] == "INVALID_FIELD"
    multi = Api(seed_org("multi", multi_currency=True).access_token)
    status, created, _ = multi.call(
        "POST",
        "sobjects/Opportunity",
        {"Name": "D", "StageName": "Prospecting", "CloseDate": "2030-01-01", "CurrencyIsoCode": "EUR"},
    )
    assert status == 201
    assert multi.get(f"sobjects/Opportunity/{created['id']}")[1]["CurrencyIsoCode"] == "EUR"
    status, body, _ = multi.call("PATCH", f"sobjects/Opportunity/{created['id']}", {"CurrencyIsoCode": "XXX"})
    assert body[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"


def test_duplicate_rules_and_external_ids(db):
    api = Api(seed_org("dupes", duplicate_rule_on_email=True).access_token)
    assert (
        api.call("POST", "sobjects/Contact", {"LastName": "A", "Email": "a@x.com", "External_Id__c": "E1"})[0]
        == 201
    )
    assert (
        api.call("POST", "sobjects/Contact", {"LastName": "B", "Email": "A@X.com"})[1][0]["errorCode"]
        == "DUPLICATES_DETECTED"
    )
    assert (
        api.call("POST", "sobjects/Contact", {"LastName": "C", "External_Id__c": "e1"})[1][0]["errorCode"]
        == "DUPLICATE_VALUE"
    )


def test_contact_roles_need_an_opportunity_and_a_contact(api):
    _, body, _ = api.query("SELECT Id, AccountId FROM Opportunity LIMIT 1")
    opp = body["records"][0]["Id"]
    _, body, _ = api.query("SELECT Id FROM Contact LIMIT 1")
    contact = body["records"][0]["Id"]
    status, created, _ = api.call(
        "POST",
        "sobjects/OpportunityContactRole",
        {"OpportunityId": opp, "ContactId": contact, "Role": "Evaluator", "IsPrimary": True},
    )
    assert status == 201
    status, body, _ = api.call("POST", "sobjects/OpportunityContactRole", {"OpportunityId": opp})
    assert body[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert api.call("DELETE", f"sobjects/Opportunity/{opp}")[0] == 204
    assert Record.objects.get(sf_id=created["id"]).is_deleted
