"""End to end over real HTTP, HubSpot sandbox <-> Salesforce sandbox: values the other app cannot
hold never block a record, and the default mappings work out of the box."""

from __future__ import annotations

from collections import Counter

import pytest

from connectors.base import COMPANIES, CONTACTS
from syncrules.engine import run_sync
from syncrules.models import Direction, FieldMapping, LinkStatus, RecordLink
from syncrules.tests.e2e.helpers import every, new_sync

pytestmark = pytest.mark.django_db(transaction=True)


def alike(records, *fields) -> int:
    """Records that share a match key (name or domain) with another record of the same app."""
    total = 0
    for field in fields:
        counts = Counter(str(r.values.get(field) or "").strip().casefold() for r in records.values())
        total += sum(n - 1 for key, n in counts.items() if key and n > 1)
    return total


def test_a_default_company_sync_fails_no_company_and_the_contacts_get_their_companies(pair):
    hubspot, salesforce = pair(companies=30, contacts=60, sf_accounts=30, sf_contacts=60)
    on_hubspot, on_salesforce = every(hubspot, COMPANIES), every(salesforce, COMPANIES)
    companies = new_sync(hubspot, salesforce, COMPANIES)
    contacts = new_sync(hubspot, salesforce, CONTACTS)
    assert companies.field_mappings.get(field_a="industry").value_map["a_to_b"]["COMPUTER_SOFTWARE"] == "Technology"

    run = run_sync(companies.pk)
    failed = run.outcomes.filter(action="failed")
    assert set(failed.values_list("category", flat=True)) <= {"duplicate_record"}
    assert run.failed <= alike(on_hubspot, "name", "domain") + alike(on_salesforce, "Name", "Website")
    warned = RecordLink.objects.filter(object_sync=companies, status=LinkStatus.IN_SYNC, has_warnings=True)
    assert run.warned == warned.count() > 0  # e.g. Salesforce's "Other": HubSpot has no such option
    items = [w for link in warned for w in link.warnings]
    assert {(w["field"], w["category"]) for w in items} <= {("industry", "invalid_property_value"),
                                                          ("Industry", "invalid_property_value")}
    assert all(w["value"] and "no matching option" in w["reason"] for w in items)

    run_sync(contacts.pk)
    run_sync(contacts.pk)
    company_links = {link.id_a: link.id_b for link in RecordLink.objects.filter(object_sync=companies, status="in_sync")}
    sf_contacts = every(salesforce, CONTACTS)
    synced = list(RecordLink.objects.filter(object_sync=contacts, status=LinkStatus.IN_SYNC))
    hub_contacts = hubspot.connector().read(CONTACTS, [link.id_a for link in synced])  # one batched read
    checked = 0
    for link in synced:
        company = (hub_contacts[link.id_a].associations.get(COMPANIES) or [None])[0]
        if company in company_links:
            assert sf_contacts[link.id_b].associations[COMPANIES] == [company_links[company]]
            checked += 1
    assert checked > 10
    waiting = RecordLink.objects.filter(object_sync=contacts, status=LinkStatus.FAILING,
                                        error_category="waiting_for_dependency")
    assert waiting.count() <= run.failed * 10  # only contacts of companies that failed as duplicates wait


def test_a_missing_option_is_added_to_hubspot_when_the_mapping_says_so(pair):
    hubspot, salesforce = pair()
    made = salesforce.connector().write(COMPANIES, creates=[
        {"Name": "Oil Corp", "Industry": "Energy"}, {"Name": "Makers Ltd", "Industry": "Manufacturing"},
        {"Name": "Shop Inc", "Industry": "Retail"},
    ])
    assert all(r.ok for r in made)
    sync = new_sync(hubspot, salesforce, COMPANIES, direction=Direction.TO_A)
    sync.field_mappings.filter(field_a="industry").update(policy=FieldMapping.Policy.ADD_OPTION)
    run = run_sync(sync.pk)
    assert (run.created, run.failed, run.warned) == (3, 0, 0), list(run.outcomes.values_list("message", flat=True))
    options = {o.value for o in hubspot.connector().field_map(COMPANIES)["industry"].options}
    assert {"Energy", "Manufacturing", "RETAIL", "COMPUTER_SOFTWARE"} <= options
    by_name = {r.values["name"]: r.values.get("industry") for r in every(hubspot, COMPANIES).values()}
    assert by_name == {"Oil Corp": "Energy", "Makers Ltd": "Manufacturing", "Shop Inc": "RETAIL"}
    again = run_sync(sync.pk)
    assert (again.created, again.updated, again.failed) == (0, 0, 0)


def test_a_preview_under_add_option_adds_no_option_and_equals_the_run(pair):
    from syncrules.engine.api import preview_sync
    from syncrules.engine.preview import comparable, run_figures

    hubspot, salesforce = pair()
    salesforce.connector().write(COMPANIES, creates=[{"Name": "Oil Corp", "Industry": "Energy"}])
    sync = new_sync(hubspot, salesforce, COMPANIES, direction=Direction.TO_A)
    sync.field_mappings.filter(field_a="industry").update(policy=FieldMapping.Policy.ADD_OPTION)
    options = {o.value for o in hubspot.connector().field_map(COMPANIES)["industry"].options}
    assert "Energy" not in options
    result = preview_sync(sync.pk)
    # The preview says the company would be created with its industry, and asks nothing of HubSpot.
    assert result["a"]["create"] == 1 and result["a"]["failures"] == [] and result["a"]["warnings"] == []
    assert {o.value for o in hubspot.connector().field_map(COMPANIES)["industry"].options} == options
    assert comparable(result) == run_figures(run_sync(sync.pk))


def test_a_skipped_option_never_erases_the_value_the_other_app_holds(pair):
    hubspot, salesforce = pair()
    [hub] = hubspot.connector().write(COMPANIES, creates=[{"name": "Keep Co", "industry": "RETAIL"}])
    [sf] = salesforce.connector().write(COMPANIES, creates=[{"Name": "Keep Co", "Industry": "Retail"}])
    sync = new_sync(hubspot, salesforce, COMPANIES)
    assert run_sync(sync.pk).matched == 1
    salesforce.connector().write(COMPANIES, updates={sf.id: {"Industry": "Other", "BillingCity": "Oslo"}})
    run = run_sync(sync.pk)
    assert (run.updated, run.warned, run.failed) == (1, 1, 0)
    values = hubspot.connector().read(COMPANIES, [hub.id])[hub.id].values
    assert values["industry"] == "RETAIL" and values["city"] == "Oslo"
    link = RecordLink.objects.get(object_sync=sync)
    assert link.has_warnings and link.warnings[0]["field"] == "industry" and link.warnings[0]["value"] == "Other"
    assert run_sync(sync.pk).updated == 0  # the warning stays; nothing ping-pongs


def test_add_option_is_offered_only_where_the_target_app_can_add_options(pair):
    from syncrules.engine.api import mapping_policies

    hubspot, salesforce = pair()
    hub, sf = hubspot.connector(), salesforce.connector()
    industry_a, industry_b = hub.field_map(COMPANIES)["industry"], {s.name: s for s in sf.fields(COMPANIES)}["Industry"]
    offered = {direction: [v for v, _ in mapping_policies(industry_a, industry_b, direction=direction,
                                                          object_type=COMPANIES, connector_a=hub, connector_b=sf)]
               for direction in ("to_a", "to_b", "two_way")}
    assert "add_option" in offered["to_a"] and "add_option" in offered["two_way"]
    assert "add_option" not in offered["to_b"]  # a Salesforce picklist cannot gain values through the API
    assert offered["to_b"] == ["skip_field", "fail_record", "fallback_option"]
