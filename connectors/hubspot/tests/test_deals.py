"""Deal sync against the HubSpot sandbox: pipelines and their limit, primary-company
associations in batches with per-pair results, deal reads with their associations, deletions
and the contact roll-ups' fields."""

from __future__ import annotations

import pytest

from connectors.base import Stage
from connectors.errors import ConnectorError, ErrorCategory
from sandbox.hubspot.models import Association, CrmObject
from sandbox.hubspot.seed import seed_records

pytestmark = pytest.mark.django_db(transaction=True)

STAGES = [Stage("a", "Prospect", 0), Stage("b", "Won", 1, closed=True, won=True), Stage("c", "Lost", 2, closed=True)]


def _make(hubspot, object_type, n, **props):
    results = hubspot.write(object_type, creates=[{**props} for _ in range(n)])
    assert all(r.ok for r in results)
    return [r.id for r in results]


def test_it_refuses_a_pipeline_past_the_plans_limit_with_a_clear_error(make_portal, connect):
    portal = make_portal(deal_pipeline_limit=2)
    hubspot = connect(portal)
    hubspot.create_pipeline("deals", "Salesforce - 012A", STAGES)
    with pytest.raises(ConnectorError) as refused:
        hubspot.create_pipeline("deals", "Salesforce - 012B", STAGES)
    assert refused.value.category is ErrorCategory.PERMISSION_DENIED
    assert refused.value.vendor_code == "PIPELINE_LIMIT_EXCEEDED"
    assert "allows 2 deal pipelines" in refused.value.message
    assert "'Salesforce - 012B' was not created" in refused.value.message
    assert [p.label for p in hubspot.pipelines("deals")] == ["Sales Pipeline", "Salesforce - 012A"]


def test_it_returns_the_existing_pipeline_when_its_label_is_taken(hubspot):
    first = hubspot.create_pipeline("deals", "Salesforce - Standard pipeline", STAGES)
    again = hubspot.create_pipeline("deals", "Salesforce - Standard pipeline", STAGES)
    assert again == first
    assert len(hubspot.pipelines("deals")) == 2


def test_it_creates_pipelines_only_for_deals(hubspot):
    with pytest.raises(ConnectorError) as refused:
        hubspot.create_pipeline("contacts", "Nope", STAGES)
    assert refused.value.category is ErrorCategory.INVALID_PROPERTY_VALUE


def test_it_associates_contacts_and_deals_with_their_primary_company(portal, hubspot):
    [contact] = _make(hubspot, "contacts", 1, email="p@x.com")
    [deal] = _make(hubspot, "deals", 1, dealname="D")
    [company] = _make(hubspot, "companies", 1, name="Acme")
    assert all(r.ok for r in hubspot.write_associations("contacts", "companies", [(contact, company)]))
    assert all(r.ok for r in hubspot.write_associations("deals", "companies", [(deal, company)]))
    types = set(Association.objects.filter(portal=portal, to_id=int(company)).values_list("from_type", "type_id"))
    assert types == {("contacts", 1), ("contacts", 279), ("deals", 5), ("deals", 341)}


def test_a_new_primary_company_comes_first_when_reading_associations(hubspot):
    [contact] = _make(hubspot, "contacts", 1, email="p@x.com")
    old, new = _make(hubspot, "companies", 2, name="Co")
    hubspot.write_associations("contacts", "companies", [(contact, old)])
    hubspot.write_associations("contacts", "companies", [(contact, new)])
    assert hubspot.read_associations("contacts", [contact], "companies") == {contact: [new, old]}
    assert hubspot.read("contacts", [contact])[contact].associations["companies"] == [new, old]


def test_it_associates_deals_with_contacts_in_batches_of_100_with_one_result_per_pair(portal, hubspot):
    deals = _make(hubspot, "deals", 125, dealname="D")
    contacts = _make(hubspot, "contacts", 2)
    pairs = [(d, c) for d in deals for c in contacts]
    before = hubspot.client.calls
    results = hubspot.write_associations("deals", "contacts", pairs)
    assert hubspot.client.calls - before == 3
    assert [r.ref for r in results] == pairs and all(r.ok for r in results)
    assert Association.objects.filter(portal=portal, from_type="deals", to_type="contacts", type_id=3).count() == 250


def test_it_maps_a_partial_failure_to_its_pair(hubspot):
    [deal] = _make(hubspot, "deals", 1, dealname="D")
    [contact] = _make(hubspot, "contacts", 1)
    results = hubspot.write_associations("deals", "contacts", [(deal, contact), (deal, "99999999")])
    assert results[0].ok
    assert results[1].error.category is ErrorCategory.ASSOCIATION_FAILED
    assert "99999999" in results[1].error.message


def test_it_fails_every_pair_of_a_batch_hubspot_refuses_whole(portal, hubspot, monkeypatch):
    [deal] = _make(hubspot, "deals", 1, dealname="D")
    [contact] = _make(hubspot, "contacts", 1)
    from connectors.hubspot import writes

    monkeypatch.setitem(writes.ASSOCIATION_TYPES, ("deals", "contacts"), (999,))  # a type HubSpot refuses
    results = hubspot.write_associations("deals", "contacts", [(deal, contact)])
    assert results[0].error.category is ErrorCategory.ASSOCIATION_FAILED
    assert not Association.objects.filter(portal=portal, from_type="deals", to_type="contacts").exists()


def test_it_removes_associations_per_pair(portal, hubspot):
    [deal] = _make(hubspot, "deals", 1, dealname="D")
    contacts = _make(hubspot, "contacts", 2)
    hubspot.write_associations("deals", "contacts", [(deal, c) for c in contacts])
    results = hubspot.remove_associations("deals", "contacts", [(deal, contacts[0])])
    assert [r.ok for r in results] == [True]
    assert hubspot.read_associations("deals", [deal], "contacts") == {deal: [contacts[1]]}


def test_it_reads_deals_with_their_contacts_and_primary_company_first(hubspot):
    [deal] = _make(hubspot, "deals", 1, dealname="D")
    contacts = _make(hubspot, "contacts", 2)
    other, primary = _make(hubspot, "companies", 2, name="Co")
    hubspot.write_associations("deals", "contacts", [(deal, c) for c in contacts])
    hubspot.write_associations("deals", "companies", [(deal, other), (deal, primary)])
    [changed] = [r for page in hubspot.read_changes("deals") for r in page.records]
    assert sorted(changed.associations["contacts"]) == sorted(contacts)
    assert changed.associations["companies"] == [primary, other]
    assert hubspot.read("deals", [deal])[deal].associations == changed.associations


def test_it_reads_associations_in_batches_of_1000(portal, hubspot):
    seed_records(portal, deals=1500, companies=3)
    ids = [str(pk) for pk in CrmObject.objects.filter(portal=portal, object_type="deals").values_list("pk", flat=True)]
    before = hubspot.client.calls
    found = hubspot.read_associations("deals", ids, "companies")
    assert hubspot.client.calls - before == 2
    assert len(found) == 1500 and all(len(v) == 1 for v in found.values())


def test_it_reads_archived_deals_as_deleted_and_leaves_them_out_of_batch_reads(hubspot):
    kept, gone = _make(hubspot, "deals", 2, dealname="D")
    hubspot.delete("deals", [gone])
    deleted = [r.id for page in hubspot.read_deleted("deals") for r in page.records]
    assert deleted == [gone]
    assert set(hubspot.read("deals", [kept, gone])) == {kept}


def test_it_describes_the_contact_rollups_as_read_only(hubspot):
    fields = hubspot.field_map("contacts")
    for name in ("num_associated_deals", "first_deal_created_date", "recent_deal_close_date",
                 "recent_deal_amount", "total_revenue"):
        assert fields[name].read_only
    assert not fields["lifecyclestage"].read_only


def test_it_reads_a_contacts_rollups_after_its_deal_closes(hubspot):
    [contact] = _make(hubspot, "contacts", 1, email="buyer@x.com")
    [deal] = _make(hubspot, "deals", 1, dealname="D", amount=1200, dealstage="closedwon")
    hubspot.write_associations("deals", "contacts", [(deal, contact)])
    values = hubspot.read("contacts", [contact])[contact].values
    assert values["total_revenue"] == 1200 and values["num_associated_deals"] == 1
    assert values["lifecyclestage"] == "customer"
