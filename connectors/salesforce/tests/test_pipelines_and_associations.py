"""Record types as pipelines, and associations through AccountId and OpportunityContactRole."""

import pytest

from connectors.base import COMPANIES, CONTACTS, DEALS
from connectors.errors import ErrorCategory
from sandbox.salesforce.models import Record
from sandbox.salesforce.seed import seed_org


def test_each_opportunity_record_type_is_a_pipeline_with_its_sales_process_stages(org, connector):
    pipelines = connector.pipelines(DEALS)
    record_types = dict((r.sf_id, r.data["Name"]) for r in Record.objects.filter(sobject="RecordType"))
    assert {(p.id, p.label) for p in pipelines} == set(record_types.items())
    renewal = next(p for p in pipelines if p.label == "Renewal")
    new_business = next(p for p in pipelines if p.label == "New Business")
    assert len(renewal.stages) < len(new_business.stages) == 10
    won = next(s for s in renewal.stages if s.id == "Closed Won")
    lost = next(s for s in renewal.stages if s.id == "Closed Lost")
    assert (won.closed, won.won, lost.closed, lost.won) == (True, True, True, False)
    assert [s.order for s in renewal.stages] == sorted(s.order for s in renewal.stages)


def test_an_org_without_record_types_has_one_standard_pipeline_with_all_stages(
    transactional_db, make_connector
):
    connector = make_connector(seed_org("plain", opportunities=2))
    (pipeline,) = connector.pipelines(DEALS)
    assert pipeline.label == "Standard pipeline"
    assert len(pipeline.stages) == 10
    assert not any(s.closed for s in pipeline.stages[:8])
    assert connector.pipelines(CONTACTS) == []


def test_a_stage_outside_the_record_types_process_is_refused(org, connector):
    renewal = Record.objects.get(sobject="RecordType", data__Name="Renewal").sf_id
    (result,) = connector.write(
        DEALS,
        [{"Name": "R", "StageName": "Qualification", "CloseDate": "2030-01-01", "RecordTypeId": renewal}],
    )
    assert result.error.category is ErrorCategory.INVALID_PROPERTY_VALUE


@pytest.fixture
def ids(org):
    def first(sobject, n=1):
        return list(
            Record.objects.filter(sobject=sobject, is_deleted=False)
            .order_by("sf_id")
            .values_list("sf_id", flat=True)[:n]
        )

    return first


def test_it_adds_contact_roles_once_and_makes_the_first_primary(org, connector, ids):
    (deal,) = connector.write(DEALS, [{"Name": "New", "StageName": "Prospecting", "CloseDate": "2030-01-01"}])
    c1, c2 = ids("Contact", 2)
    results = connector.write_associations(DEALS, CONTACTS, [(deal.id, c1), (deal.id, c2), (deal.id, c1)])
    assert all(r.ok for r in results) and [r.ref for r in results] == [
        (deal.id, c1),
        (deal.id, c2),
        (deal.id, c1),
    ]
    roles = Record.objects.filter(sobject="OpportunityContactRole", data__OpportunityId=deal.id)
    assert roles.count() == 2
    assert connector.read_associations(DEALS, [deal.id], CONTACTS) == {deal.id: [c1, c2]}
    assert connector.read_associations(CONTACTS, [c2], DEALS)[c2][-1] == deal.id
    read_back = connector.read(DEALS, [deal.id])[deal.id]
    assert read_back.associations[CONTACTS] == [c1, c2]


def test_it_removes_contact_roles(org, connector, ids):
    role = Record.objects.filter(sobject="OpportunityContactRole").first()
    deal, contact = role.data["OpportunityId"], role.data["ContactId"]
    (result,) = connector.remove_associations(CONTACTS, DEALS, [(contact, deal)])
    assert result.ok
    assert contact not in connector.read_associations(DEALS, [deal], CONTACTS)[deal]


def test_the_company_of_contacts_and_deals_is_their_account(org, connector, ids):
    (account,) = ids("Account")
    (contact,) = ids("Contact")
    (deal,) = ids("Opportunity")
    assert all(r.ok for r in connector.write_associations(CONTACTS, COMPANIES, [(contact, account)]))
    assert all(r.ok for r in connector.write_associations(COMPANIES, DEALS, [(account, deal)]))
    assert connector.read_associations(CONTACTS, [contact], COMPANIES) == {contact: [account]}
    assert deal in connector.read_associations(COMPANIES, [account], DEALS)[account]
    assert connector.remove_associations(DEALS, COMPANIES, [(deal, account)])[0].ok
    assert connector.read_associations(DEALS, [deal], COMPANIES) == {deal: []}


def test_associating_a_company_that_does_not_exist_fails_as_an_association(org, connector, ids):
    (contact,) = ids("Contact")
    (result,) = connector.write_associations(CONTACTS, COMPANIES, [(contact, "001000000000000AAA")])
    assert result.error.category is ErrorCategory.ASSOCIATION_FAILED


def test_unsupported_associations_fail_per_pair(org, connector):
    (result,) = connector.write_associations(COMPANIES, COMPANIES, [("a", "b")])
    assert result.error.category is ErrorCategory.ASSOCIATION_FAILED
