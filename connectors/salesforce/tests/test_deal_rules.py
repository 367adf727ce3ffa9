"""Salesforce's deal sync rules (FEATURES F6) and opportunities with record types and currencies."""

from decimal import Decimal

import pytest

from connectors.base import COMPANIES, CONTACTS, DEALS, Pipeline, Stage
from connectors.errors import ConnectorError, ErrorCategory
from connectors.salesforce.connector import SalesforceConnector
from connectors.salesforce.defaults import MASTER_RECORD_TYPE_ID
from sandbox.salesforce.models import Org, Record
from sandbox.salesforce.seed import seed_org

DEAL = {"Name": "Deal", "StageName": "Prospecting", "CloseDate": "2030-01-01"}


def _record_type(name: str) -> str:
    return Record.objects.get(sobject="RecordType", data__Name=name).sf_id


def test_it_needs_the_sync_deals_switch_and_propagates_only_opportunity_deletions():
    assert SalesforceConnector.deal_switch is True
    connector = SalesforceConnector("https://login.salesforce.com", {})
    assert connector.propagates_deletions(DEALS) is True
    assert not connector.propagates_deletions(CONTACTS) and not connector.propagates_deletions(COMPANIES)


def test_each_record_type_is_mirrored_as_salesforce_dash_its_id(org, connector):
    pipelines = connector.pipelines(DEALS)
    assert len(pipelines) == 2
    labels = [connector.mirrored_pipeline_label(p, pipelines) for p in pipelines]
    assert labels == [f"Salesforce - {p.id}" for p in pipelines]
    assert all(p.id.startswith("012") and len(p.id) == 18 for p in pipelines)


@pytest.mark.parametrize("record_types", [0, 1])
def test_an_org_with_a_single_pipeline_is_mirrored_as_the_standard_pipeline(
    transactional_db, make_connector, record_types
):
    connector = make_connector(seed_org(f"single{record_types}", opportunities=1, record_types=record_types))
    (pipeline,) = connector.pipelines(DEALS)
    assert connector.mirrored_pipeline_label(pipeline, [pipeline]) == "Salesforce - Standard pipeline"


def test_it_cannot_create_a_pipeline_and_says_who_can(org, connector):
    with pytest.raises(ConnectorError) as caught:
        connector.create_pipeline(DEALS, "Salesforce - x", [Stage("a", "A")])
    assert caught.value.category is ErrorCategory.PERMISSION_DENIED
    assert "record type" in caught.value.message


def test_it_creates_and_moves_opportunities_between_record_types(org, connector):
    new_business, renewal = _record_type("New Business"), _record_type("Renewal")
    (created,) = connector.write(DEALS, [{**DEAL, "RecordTypeId": new_business}])
    assert created.ok
    assert connector.read(DEALS, [created.id])[created.id].values["RecordTypeId"] == new_business
    moved = {"RecordTypeId": renewal, "StageName": "Closed Won"}
    assert connector.write(DEALS, updates={created.id: moved})[0].ok
    values = connector.read(DEALS, [created.id])[created.id].values
    assert (values["RecordTypeId"], values["StageName"], values["IsWon"]) == (renewal, "Closed Won", True)


def test_moving_an_opportunity_to_a_record_type_without_its_stage_fails_as_an_invalid_value(org, connector):
    (created,) = connector.write(DEALS, [{**DEAL, "StageName": "Qualification"}])
    (moved,) = connector.write(DEALS, updates={created.id: {"RecordTypeId": _record_type("Renewal")}})
    assert moved.error.category is ErrorCategory.INVALID_PROPERTY_VALUE
    assert moved.error.vendor_code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"


def test_a_record_type_id_that_does_not_exist_fails_the_record_not_the_batch(org, connector):
    results = connector.write(DEALS, [{**DEAL, "RecordTypeId": "012000000000099AAA"}, DEAL])
    assert results[0].error.category is ErrorCategory.ASSOCIATION_FAILED
    assert results[1].ok


def test_opportunities_of_the_master_record_type_read_with_record_type_none(org, connector):
    (created,) = connector.write(DEALS, [DEAL])
    Record.objects.filter(sf_id=created.id).update(
        data={**Record.objects.get(sf_id=created.id).data, "RecordTypeId": None}
    )
    assert connector.read(DEALS, [created.id])[created.id].values["RecordTypeId"] is None


def test_without_record_types_the_standard_pipeline_reads_and_writes_as_none(
    transactional_db, make_connector
):
    connector = make_connector(seed_org("plain", opportunities=2))
    (pipeline,) = connector.pipelines(DEALS)
    assert pipeline.id == MASTER_RECORD_TYPE_ID
    deals = [r for p in connector.read_changes(DEALS) for r in p.records]
    assert len(deals) == 2 and all(d.values["RecordTypeId"] is None for d in deals)
    results = connector.write(DEALS, [{**DEAL, "RecordTypeId": pipeline.id}, {**DEAL, "RecordTypeId": None}])
    assert all(r.ok for r in results)
    (wrong,) = connector.write(DEALS, [{**DEAL, "RecordTypeId": "0125g000000AbCdEFG"}])
    assert wrong.error is not None  # no such field without record types


def test_amounts_are_never_converted_between_currencies(transactional_db, make_connector):
    connector = make_connector(
        seed_org("multi", accounts=1, multi_currency=True, currencies=["USD", "EUR", "JPY"])
    )
    creates = [
        {**DEAL, "Amount": Decimal("1234.56"), "CurrencyIsoCode": code} for code in ("USD", "EUR", "JPY")
    ]
    results = connector.write(DEALS, creates)
    assert all(r.ok for r in results)
    read = connector.read(DEALS, [r.id for r in results])
    assert [(read[r.id].values["Amount"], read[r.id].values["CurrencyIsoCode"]) for r in results] == [
        (Decimal("1234.56"), "USD"),
        (Decimal("1234.56"), "EUR"),
        (Decimal("1234.56"), "JPY"),
    ]
    assert connector.write(DEALS, updates={results[0].id: {"CurrencyIsoCode": "EUR"}})[0].ok
    assert connector.read(DEALS, [results[0].id])[results[0].id].values["Amount"] == Decimal("1234.56")
    (bad,) = connector.write(DEALS, [{**DEAL, "Amount": 1, "CurrencyIsoCode": "CHF"}])
    assert bad.error.category is ErrorCategory.INVALID_PROPERTY_VALUE


def test_the_mirrored_label_depends_only_on_how_many_pipelines_the_org_has():
    pipelines = [Pipeline("012A", "A"), Pipeline("012B", "B")]
    connector = SalesforceConnector("https://login.salesforce.com", {})
    assert connector.mirrored_pipeline_label(pipelines[1], pipelines) == "Salesforce - 012B"
    assert connector.mirrored_pipeline_label(pipelines[1], pipelines[1:]) == "Salesforce - Standard pipeline"


def test_check_passes_for_an_org_without_record_types(transactional_db, make_connector):
    result = make_connector(seed_org("plain", opportunities=1)).check()
    assert result.ok, result.message


def test_check_names_a_record_type_field_the_user_cannot_see(org, connector):
    Org.objects.filter(pk=org.org.pk).update(restrictions={"hidden_fields": ["Opportunity.RecordTypeId"]})
    result = connector.check()
    assert not result.ok and result.missing == ["Opportunity.RecordTypeId (field not visible)"]


def test_opportunities_are_deleted_in_batches_and_read_back_as_deleted_with_their_roles(
    transactional_db, make_connector
):
    connector = make_connector(seed_org("gone", contacts=20, accounts=5, opportunities=250, roles=(1, 3)))
    cursor = list(connector.read_deleted(DEALS))[-1].cursor
    opps = list(Record.objects.filter(sobject="Opportunity").values_list("sf_id", flat=True))
    before = connector.client.http.calls
    results = connector.delete(DEALS, [*opps, opps[0]])
    assert connector.client.http.calls - before == 2 and all(r.ok for r in results)
    deleted = [d.id for p in connector.read_deleted(DEALS, cursor) for d in p.records]
    assert sorted(deleted) == sorted(opps)
    assert not Record.objects.filter(sobject="OpportunityContactRole", is_deleted=False).exists()
    assert Record.objects.filter(sobject="Contact", is_deleted=False).count() == 20


def test_deleting_an_opportunity_that_never_existed_fails_for_that_id_only(org, connector):
    opp = Record.objects.filter(sobject="Opportunity").first().sf_id
    missing, kept = connector.delete(DEALS, ["006000000000000AAA", opp])
    assert missing.error.category is ErrorCategory.RECORD_DELETED and kept.ok
