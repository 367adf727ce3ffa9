"""Writing over real HTTP: sObject Collections with per-record failures, deletes, error categories."""

import datetime as dt
from decimal import Decimal

import pytest

from connectors.base import CONTACTS, DEALS
from connectors.errors import ErrorCategory
from connectors.salesforce.tests.conftest import org_row
from sandbox.salesforce.models import Org, Record


def test_it_reports_each_record_of_a_partly_failing_batch(org, connector):
    results = connector.write(
        CONTACTS,
        [
            {"LastName": "Good", "Email": "good@example.com"},
            {"FirstName": "No last name"},
            {"LastName": "Bad email", "Email": "not-an-email"},
            {"LastName": "x" * 81},
        ],
    )
    assert [r.ref for r in results] == [0, 1, 2, 3]
    assert results[0].ok and results[0].id.startswith("003")
    assert results[1].error.category is ErrorCategory.MISSING_REQUIRED_FIELD
    assert results[1].error.vendor_code == "REQUIRED_FIELD_MISSING" and "LastName" in results[1].error.message
    assert results[2].error.category is ErrorCategory.INVALID_EMAIL
    assert results[3].error.category is ErrorCategory.VALUE_TOO_LONG
    assert Record.objects.filter(sobject="Contact", data__LastName="Good").count() == 1


def test_it_sends_200_records_per_collections_call(org, connector):
    creates = [{"LastName": f"Bulk {i}"} for i in range(450)]
    connector.describe("Contact")
    before = connector.client.http.calls
    results = connector.write(CONTACTS, creates)
    assert connector.client.http.calls - before == 3
    assert all(r.ok for r in results) and [r.ref for r in results] == list(range(450))


def test_it_converts_python_values_for_salesforce(org, connector):
    account = Record.objects.filter(sobject="Account").first().sf_id
    results = connector.write(
        DEALS,
        [
            {
                "Name": "Big deal",
                "StageName": "Prospecting",
                "CloseDate": dt.date(2030, 1, 31),
                "Amount": Decimal("1234.50"),
                "AccountId": account,
            }
        ],
    )
    assert results[0].ok
    deal = connector.read(DEALS, [results[0].id])[results[0].id]
    assert deal.values["CloseDate"] == dt.date(2030, 1, 31)
    assert deal.values["Amount"] == Decimal("1234.5")
    assert deal.values["IsClosed"] is False


@pytest.mark.parametrize(
    ("values", "category", "code"),
    [
        (
            {"StageName": "No such stage"},
            ErrorCategory.INVALID_PROPERTY_VALUE,
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        ),
        ({"Amount": -5}, ErrorCategory.AUTOMATION_REJECTED, "FIELD_CUSTOM_VALIDATION_EXCEPTION"),
        ({"IsWon": True}, ErrorCategory.PERMISSION_DENIED, "INVALID_FIELD_FOR_INSERT_UPDATE"),
        (
            {"AccountId": "001000000000000AAA"},
            ErrorCategory.ASSOCIATION_FAILED,
            "INVALID_CROSS_REFERENCE_KEY",
        ),
    ],
)
def test_it_classifies_vendor_errors_keeping_the_message(org, connector, values, category, code):
    deal = Record.objects.filter(sobject="Opportunity").first().sf_id
    (result,) = connector.write(DEALS, updates={deal: values})
    assert result.error.category is category
    assert result.error.vendor_code == code
    assert result.error.message


def test_a_duplicate_external_id_is_a_duplicate_record(org, connector):
    first, second = connector.write(
        CONTACTS, [{"LastName": "A", "External_Id__c": "X-1"}, {"LastName": "B", "External_Id__c": "x-1"}]
    )
    assert first.ok
    assert second.error.category is ErrorCategory.DUPLICATE_RECORD


def test_locked_rows_are_reported_as_transient(org, connector):
    Org.objects.filter(pk=org.org.pk).update(fault_lock_share=1.0)
    (result,) = connector.write(CONTACTS, [{"LastName": "Locked"}])
    assert result.error.category is ErrorCategory.RECORD_LOCKED
    assert result.error.category.transient


def test_it_deletes_and_reads_the_deletions_back_through_query_all(org, connector):
    ids = list(Record.objects.filter(sobject="Contact").values_list("sf_id", flat=True)[:2])
    cursor = list(connector.read_deleted(CONTACTS))[-1].cursor
    assert all(r.ok for r in connector.delete(CONTACTS, ids))
    deleted = [d for p in connector.read_deleted(CONTACTS, cursor) for d in p.records]
    assert sorted(d.id for d in deleted) == sorted(ids)
    assert all(d.deleted_at is not None for d in deleted)
    assert not set(ids) & {r.id for p in connector.read_changes(CONTACTS) for r in p.records}


def test_deleting_twice_is_fine_but_updating_a_deleted_record_is_record_deleted(org, connector):
    contact = Record.objects.filter(sobject="Contact").first().sf_id
    assert connector.delete(CONTACTS, [contact])[0].ok
    assert connector.delete(CONTACTS, [contact])[0].ok
    (result,) = connector.write(CONTACTS, updates={contact: {"Title": "Ghost"}})
    assert result.error.category is ErrorCategory.RECORD_DELETED
    assert Record.objects.get(sf_id=contact).is_deleted


def test_deleting_an_account_cascades_to_its_contacts_and_opportunities(org, connector):
    account = Record.objects.filter(sobject="Account").first()
    children = [
        r.sf_id
        for r in Record.objects.filter(sobject__in=["Contact", "Opportunity"])
        if r.data.get("AccountId") == account.sf_id
    ]
    connector.client.collection("DELETE", [], params={"ids": account.sf_id, "allOrNone": "false"})
    assert children
    assert all(Record.objects.get(sf_id=c).is_deleted for c in children)
    assert org_row(org).api_used > 0


def test_a_value_that_fails_the_whole_call_is_isolated_and_the_others_are_written(org, connector):
    creates = [{"Name": f"Deal {i}", "StageName": "Prospecting", "CloseDate": "2030-01-01"} for i in range(5)]
    creates[3]["CloseDate"] = "next spring"  # not a date: Salesforce refuses the whole request
    results = connector.write(DEALS, creates)
    assert [r.ok for r in results] == [True, True, True, False, True]
    assert results[3].error.category is ErrorCategory.TYPE_MISMATCH
    assert results[3].error.vendor_code == "JSON_PARSER_ERROR"
    assert Record.objects.filter(sobject="Opportunity", data__Name__startswith="Deal ").count() == 4
