"""Writes: batches of 100, per-record results for partial failures, categorized errors."""

from __future__ import annotations

import pytest

from connectors.errors import ErrorCategory
from sandbox.hubspot.models import CrmObject

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_creates_in_batches_of_100(portal, hubspot):
    hubspot.fields("contacts")  # the properties call is cached; count only the writes
    before = hubspot.client.calls
    results = hubspot.write("contacts", creates=[{"email": f"p{i}@x.com", "firstname": "P"} for i in range(250)])
    assert hubspot.client.calls - before == 3
    assert all(r.ok for r in results)
    assert [r.ref for r in results] == list(range(250))
    assert CrmObject.objects.filter(portal=portal, object_type="contacts").count() == 250


def test_it_keeps_good_records_when_others_in_the_batch_fail(portal, hubspot):
    [existing] = hubspot.write("contacts", creates=[{"email": "taken@x.com"}])
    results = hubspot.write("contacts", creates=[
        {"email": "fine@x.com"}, {"email": "not-an-email"}, {"email": "taken@x.com"},
        {"lifecyclestage": "wizard"}, {"nosuchproperty": "x"}])
    assert results[0].ok
    assert results[1].error.category is ErrorCategory.INVALID_EMAIL
    assert results[1].error.vendor_code == "INVALID_EMAIL" and results[1].error.field == "email"
    assert results[2].error.category is ErrorCategory.DUPLICATE_RECORD
    assert results[2].error.message == f"Contact already exists. Existing ID: {existing.id}"
    assert results[3].error.vendor_code == "INVALID_OPTION"
    assert results[4].error.vendor_code == "PROPERTY_DOESNT_EXIST"
    assert CrmObject.objects.filter(portal=portal, email="fine@x.com").exists()


def test_it_reports_a_value_of_the_wrong_type_without_sending_it(hubspot):
    hubspot.fields("deals")
    before = hubspot.client.calls
    [result] = hubspot.write("deals", creates=[{"dealname": "D", "amount": "a lot"}])
    assert result.error.category is ErrorCategory.TYPE_MISMATCH
    assert result.error.field == "amount"
    assert hubspot.client.calls == before


def test_it_updates_and_reports_unknown_ids_per_record(portal, hubspot):
    [created] = hubspot.write("companies", creates=[{"name": "Old"}])
    results = hubspot.write("companies", updates={created.id: {"name": "New"}, "99999999": {"name": "Ghost"}})
    assert results[0].ok and results[0].id == created.id
    assert results[1].error.category is ErrorCategory.RECORD_DELETED
    assert CrmObject.objects.get(pk=created.id).properties["name"] == "New"


def test_it_creates_and_updates_in_one_call_in_input_order(hubspot):
    [first] = hubspot.write("companies", creates=[{"name": "A"}])
    results = hubspot.write("companies", creates=[{"name": "B"}], updates={first.id: {"city": "Oslo"}})
    assert [r.ref for r in results] == [0, first.id]
    assert all(r.ok for r in results)


def test_it_deletes_in_batches(portal, hubspot):
    created = hubspot.write("contacts", creates=[{"email": f"d{i}@x.com"} for i in range(3)])
    results = hubspot.delete("contacts", [r.id for r in created])
    assert all(r.ok for r in results)
    assert hubspot.read("contacts", [r.id for r in created]) == {}


def test_it_reports_an_association_to_a_missing_record(portal, hubspot):
    [contact] = hubspot.write("contacts", creates=[{"email": "a@x.com"}])
    [company] = hubspot.write("companies", creates=[{"name": "Acme"}])
    results = hubspot.write_associations("contacts", "companies", [(contact.id, company.id), (contact.id, "999999")])
    assert results[0].ok
    assert results[1].error.category is ErrorCategory.ASSOCIATION_FAILED
    assert hubspot.read_associations("contacts", [contact.id], "companies") == {contact.id: [company.id]}
    removed = hubspot.remove_associations("contacts", "companies", [(contact.id, company.id)])
    assert removed[0].ok
    assert hubspot.read_associations("contacts", [contact.id], "companies") == {}


def test_it_reports_batches_written_before_a_call_fails(portal, connect):
    from sandbox.hubspot.models import Portal

    conn = connect(portal, max_attempts=1, parallel_calls=1)  # one batch after the other
    conn.fields("contacts")

    def fail_after_first_batch(response):
        if "/batch/create" in response.url:
            Portal.objects.filter(pk=portal.pk).update(faults={"error_500": 1.0})

    conn.client.http.on_response = fail_after_first_batch
    results = conn.write("contacts", creates=[{"email": f"w{i}@x.com"} for i in range(150)])
    assert all(r.ok for r in results[:100])
    assert all(r.error.category is ErrorCategory.APP_UNAVAILABLE for r in results[100:])
    assert CrmObject.objects.filter(portal=portal, object_type="contacts").count() == 100


def test_it_raises_when_the_first_batch_fails_as_a_whole(portal, connect):
    from connectors.errors import ConnectorError
    from sandbox.hubspot.models import Portal

    conn = connect(portal, max_attempts=1)
    conn.fields("contacts")
    Portal.objects.filter(pk=portal.pk).update(faults={"error_500": 1.0})
    with pytest.raises(ConnectorError):
        conn.write("contacts", creates=[{"email": "a@x.com"}])
