"""Seeding orgs for deal sync and its benchmark: record types, accounts, contacts, roles."""

import io
from collections import Counter

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sandbox.salesforce import store
from sandbox.salesforce.models import Org, Record
from sandbox.salesforce.seed import seed_org


def _rows(org, sobject):
    return [r.data for r in Record.objects.filter(org=org, sobject=sobject).order_by("sf_id")]


@pytest.fixture
def deal_org(db):
    return seed_org(
        "deals",
        accounts=20,
        contacts=100,
        opportunities=60,
        record_types=2,
        contact_account_share=1,
        roles=(1, 3),
    ).org


def test_it_seeds_two_record_types_each_with_its_sales_process(deal_org):
    meta = store.OrgMeta(deal_org)
    types = meta.opportunity_record_types()
    assert [t["Name"] for t in types] == ["New Business", "Renewal"]
    allowed = [{s["ApiName"] for s in meta.allowed_stages(t["Id"])} for t in types]
    assert allowed[1] < allowed[0] and {"Closed Won", "Closed Lost"} <= allowed[1]
    opps = _rows(deal_org, "Opportunity")
    assert Counter(o["RecordTypeId"] for o in opps).keys() == {t["Id"] for t in types}
    for opp in opps:
        assert opp["StageName"] in allowed[[t["Id"] for t in types].index(opp["RecordTypeId"])]


def test_every_contact_and_opportunity_has_an_account(deal_org):
    accounts = {r.sf_id for r in Record.objects.filter(org=deal_org, sobject="Account")}
    assert all(c["AccountId"] in accounts for c in _rows(deal_org, "Contact"))
    assert all(o["AccountId"] in accounts for o in _rows(deal_org, "Opportunity"))


def test_every_opportunity_has_one_to_three_roles_exactly_one_primary(deal_org):
    roles = _rows(deal_org, "OpportunityContactRole")
    by_opp = {}
    for role in roles:
        by_opp.setdefault(role["OpportunityId"], []).append(role)
    assert len(by_opp) == 60
    assert {len(r) for r in by_opp.values()} == {1, 2, 3}
    assert all(sum(r["IsPrimary"] for r in group) == 1 for group in by_opp.values())
    assert all(len({r["ContactId"] for r in group}) == len(group) for group in by_opp.values())


def test_roles_prefer_contacts_of_the_opportunitys_account(deal_org):
    account_of = {
        r.sf_id: r.data["AccountId"] for r in Record.objects.filter(org=deal_org, sobject="Contact")
    }
    opp_account = {
        r.sf_id: r.data["AccountId"] for r in Record.objects.filter(org=deal_org, sobject="Opportunity")
    }
    roles = _rows(deal_org, "OpportunityContactRole")
    same = sum(account_of[r["ContactId"]] == opp_account[r["OpportunityId"]] for r in roles)
    assert same > len(roles) * 0.8


def test_the_same_seed_gives_the_same_data_and_another_seed_does_not(db):
    def content(name, seed):
        org = seed_org(name, accounts=3, contacts=10, opportunities=8, record_types=2, seed=seed).org
        opps = [(r["Name"], r.get("Amount"), r["StageName"]) for r in _rows(org, "Opportunity")]
        return opps, [r["Email"] for r in _rows(org, "Contact")], len(_rows(org, "OpportunityContactRole"))

    assert content("one", 7) == content("two", 7)
    assert content("three", 8)[:2] != content("four", 7)[:2]


def test_the_seed_command_takes_the_deal_options(db):
    out = io.StringIO()
    call_command(
        "sandbox_seed",
        "salesforce",
        *("--org", "bench", "--accounts", "4", "--contacts", "12", "--opportunities", "9"),
        *("--record-types", "2", "--contact-account-share", "1", "--roles", "1-3"),
        stdout=out,
    )
    org = Org.objects.get(name="bench")
    assert all(c["AccountId"] for c in _rows(org, "Contact"))
    per_opp = Counter(r["OpportunityId"] for r in _rows(org, "OpportunityContactRole"))
    assert len(per_opp) == 9 and set(per_opp.values()) <= {1, 2, 3}
    assert "9 opportunities" in out.getvalue()


@pytest.mark.parametrize(
    "options",
    [("--roles", "3-1"), ("--roles", "many"), ("--contact-account-share", "1.5")],
)
def test_the_seed_command_refuses_nonsense_counts(db, options):
    with pytest.raises((CommandError, SystemExit)):
        call_command(
            "sandbox_seed", "salesforce", "--org", "bad", *options, stdout=io.StringIO(), stderr=io.StringIO()
        )
    assert not Org.objects.filter(name="bad").exists()
