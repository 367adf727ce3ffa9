"""Reading over real HTTP: paging through nextRecordsUrl, the incremental cursor, values, lookups."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from connectors.base import COMPANIES, CONTACTS, DEALS, FieldType
from connectors.salesforce.tests.conftest import org_row
from sandbox.salesforce.models import Record
from sandbox.salesforce.seed import seed_org


@pytest.fixture
def big_org(transactional_db):
    # 450 contacts inserted in one go share a single SystemModstamp (one-second precision).
    return seed_org("big", contacts=450, accounts=2)


def test_it_pages_through_next_records_url_one_call_per_batch(big_org, make_connector):
    connector = make_connector(big_org, query_batch_size=200)
    pages = list(connector.read_changes(CONTACTS))
    assert [len(p.records) for p in pages] == [200, 200, 50]
    assert len({r.id for p in pages for r in p.records}) == 450
    assert connector.client.http.calls == 1 + 3  # describe, then one call per batch
    assert pages[0].estimated_total == 450


def test_its_cursor_resumes_exactly_after_the_last_record_when_timestamps_are_shared(big_org, make_connector):
    first = make_connector(big_org, query_batch_size=200)
    page = next(iter(first.read_changes(CONTACTS)))
    assert len({r.modified_at for r in page.records}) == 1
    seen = {r.id for r in page.records}
    resumed = make_connector(big_org, query_batch_size=200)
    rest = [r.id for p in resumed.read_changes(CONTACTS, page.cursor) for r in p.records]
    assert len(rest) == 250
    assert seen.isdisjoint(rest)
    assert seen | set(rest) == set(
        Record.objects.filter(org=org_row(big_org), sobject="Contact").values_list("sf_id", flat=True)
    )


def test_it_reads_only_what_changed_after_the_cursor(org, connector):
    Record.objects.update(system_modstamp=timezone.now().replace(microsecond=0) - timedelta(hours=1))
    pages = list(connector.read_changes(CONTACTS))
    cursor = pages[-1].cursor
    changed = pages[0].records[0].id
    result = connector.write(CONTACTS, updates={changed: {"Title": "Chief Tester"}})
    assert result[0].ok
    later = list(connector.read_changes(CONTACTS, cursor))
    assert [r.id for p in later for r in p.records] == [changed]
    assert later[0].records[0].values["Title"] == "Chief Tester"


def test_a_change_in_the_same_second_as_the_final_cursor_is_not_missed(org, connector):
    pages = list(connector.read_changes(CONTACTS))
    first = pages[0].records[0].id  # the lowest id: it sorts before the cursor's id
    assert pages[-1].cursor["id"] == ""  # the final timestamp is too recent to trust the tie-break
    assert connector.write(CONTACTS, updates={first: {"Title": "Same second"}})[0].ok
    later = [r for p in connector.read_changes(CONTACTS, pages[-1].cursor) for r in p.records]
    assert first in {r.id for r in later}


def test_an_empty_change_set_gives_one_empty_page_keeping_the_cursor(org, connector):
    Record.objects.update(system_modstamp=timezone.now().replace(microsecond=0) - timedelta(hours=1))
    cursor = list(connector.read_changes(COMPANIES))[-1].cursor
    pages = list(connector.read_changes(COMPANIES, cursor))
    assert len(pages) == 1
    assert pages[0].records == [] and pages[0].cursor == cursor


def test_it_returns_plain_python_values_and_associations(org, connector):
    deal = next(r for p in connector.read_changes(DEALS) for r in p.records)
    values = deal.values
    assert isinstance(values["Amount"], Decimal)
    assert isinstance(values["CloseDate"], date)
    assert isinstance(values["SystemModstamp"], datetime) and values["SystemModstamp"].tzinfo is not None
    assert isinstance(values["IsClosed"], bool)
    assert values["AccountId"] and deal.associations[COMPANIES] == [values["AccountId"]]


def test_it_describes_fields_with_types_requirements_and_picklist_options(org, connector):
    specs = {f.name: f for f in connector.fields(DEALS)}
    assert specs["StageName"].type is FieldType.ENUMERATION and specs["StageName"].required
    assert "Closed Won" in {o.value for o in specs["StageName"].options}
    assert specs["Amount"].type is FieldType.NUMBER
    assert specs["CloseDate"].type is FieldType.DATE
    assert specs["IsWon"].read_only
    assert specs["AccountId"].type is FieldType.REFERENCE and specs["AccountId"].reference_to == COMPANIES
    contact = {f.name: f for f in connector.fields(CONTACTS)}
    assert contact["LastName"].required and contact["LastName"].max_length == 80
    assert not contact["Email"].required


def test_it_reads_by_id_and_leaves_out_ids_that_do_not_exist(org, connector):
    ids = [r.id for p in connector.read_changes(CONTACTS) for r in p.records][:3]
    found = connector.read(CONTACTS, [*ids, "003000000000000AAA"])
    assert set(found) == set(ids)


def test_it_finds_by_email_case_insensitively_and_escapes_quotes(org, connector):
    contact = next(r for p in connector.read_changes(CONTACTS) for r in p.records)
    email = contact.values["Email"]
    found = connector.find(CONTACTS, "Email", [email.upper(), "o'brien@example.com"])
    assert [r.id for r in found[email.upper()]] == [contact.id]
    assert "o'brien@example.com" not in found


def test_it_refuses_to_find_by_a_field_the_object_does_not_have(org, connector):
    from connectors.errors import ConnectorError, ErrorCategory

    with pytest.raises(ConnectorError) as info:
        connector.find(CONTACTS, "Nope__c", ["x"])
    assert info.value.category is ErrorCategory.PERMISSION_DENIED


def test_it_offers_the_shared_default_field_keys(connector):
    keys = {d.key: d.field for d in connector.default_fields(CONTACTS)}
    assert keys == {
        "email": "Email",
        "first_name": "FirstName",
        "last_name": "LastName",
        "phone": "Phone",
        "job_title": "Title",
        "owner": "OwnerId",
    }
    deal_keys = {d.key: d.field for d in connector.default_fields(DEALS)}
    assert deal_keys["stage"] == "StageName" and deal_keys["close_date"] == "CloseDate"
    assert {d.key for d in connector.default_fields(COMPANIES)} == {
        "name",
        "domain",
        "phone",
        "industry",
        "city",
        "owner",
    }


def test_an_object_hidden_from_the_user_is_permission_denied(org, connector):
    from connectors.errors import ConnectorError, ErrorCategory
    from sandbox.salesforce.models import Org

    Org.objects.filter(pk=org.org.pk).update(restrictions={"hidden_objects": ["Account"]})
    with pytest.raises(ConnectorError) as info:
        connector.fields(COMPANIES)
    assert info.value.category is ErrorCategory.PERMISSION_DENIED
    assert "Account" in info.value.message


def test_contacts_can_be_leads_by_option(org, make_connector):
    connector = make_connector(org, contacts_object="Lead")
    assert connector.object_types()[0].app_name == "Lead"
    (created,) = connector.write(
        CONTACTS, [{"LastName": "Lead", "Company": "Acme", "Email": "l@acme.example"}]
    )
    assert created.ok and created.id.startswith("00Q")
    (record,) = [r for p in connector.read_changes(CONTACTS) for r in p.records]
    assert record.values["Status"] == "Open - Not Contacted"
    assert {d.key for d in connector.default_fields(CONTACTS)} >= {"email", "company_name"}


def test_with_leads_as_contacts_deals_carry_no_contact_associations(org, make_connector):
    connector = make_connector(org, contacts_object="Lead")
    deals = [r for p in connector.read_changes(DEALS) for r in p.records]
    assert deals and all(CONTACTS not in d.associations for d in deals)
    (result,) = connector.write_associations(DEALS, CONTACTS, [(deals[0].id, "00Q000000000000AAA")])
    assert result.error is not None
