"""Record names and match keys over real HTTP, filled from what the run reads anyway."""

from __future__ import annotations

import pytest

from connectors.base import COMPANIES, CONTACTS, DEALS
from syncrules.engine import run_sync
from syncrules.engine.runner import Engine
from syncrules.models import RecordLink
from syncrules.tests.e2e.helpers import every, new_sync
from syncrules.tests.e2e.test_deals import deals  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db(transaction=True)


def both_sided(sync):
    return list(RecordLink.objects.filter(object_sync=sync).exclude(id_a=None).exclude(id_b=None))


def test_contacts_companies_and_deals_are_named_on_both_sides_from_the_sandboxes(deals):  # noqa: F811
    deals.run_all()
    opportunities = every(deals.salesforce, DEALS)
    accounts = every(deals.salesforce, COMPANIES)
    contacts = every(deals.salesforce, CONTACTS)
    deal_links, company_links, contact_links = (both_sided(s) for s in (deals.deals, deals.companies, deals.contacts))
    assert len(deal_links) == 8 and len(company_links) == 4 and len(contact_links) == 10
    for link in deal_links:
        assert link.name_a == link.name_b == opportunities[link.id_b].values["Name"] and link.match_key == ""
    for link in company_links:
        account = accounts[link.id_b].values
        assert link.name_b.startswith(account["Name"]) and link.name_a.startswith(account["Name"])
        assert link.match_key and link.match_key in (account.get("Website") or account["Name"]).lower()
    for link in contact_links:
        person = contacts[link.id_b].values
        assert link.name_b == f"{person['FirstName']} {person['LastName']}".strip() == link.name_a
        assert link.match_key == person["Email"].lower()


def test_naming_records_costs_no_http_call(pair, monkeypatch):
    def calls_of_an_initial_contact_sync(**_):
        hubspot, salesforce = pair(contacts=30, sf_contacts=20, hub_seed=11)
        sync = new_sync(hubspot, salesforce, CONTACTS)
        return run_sync(sync.pk).http_calls, sync

    named_calls, named = calls_of_an_initial_contact_sync()
    monkeypatch.setattr(Engine, "name", lambda self, link, values: False)
    unnamed_calls, unnamed = calls_of_an_initial_contact_sync()
    assert named_calls == unnamed_calls > 0
    assert all(link.name_a and link.name_b and link.match_key for link in both_sided(named))
    assert not any(link.name_a or link.match_key for link in both_sided(unnamed))
