"""Shared fixtures of the end-to-end tests: a HubSpot sandbox portal and a Salesforce sandbox
org served by the live server, and object syncs between them."""

from __future__ import annotations

import itertools

import pytest

from connectors.models import Connection
from sandbox.hubspot import gate
from sandbox.hubspot.seed import ensure_portal, seed_records
from sandbox.salesforce.seed import seed_org
from syncrules.tests.e2e.helpers import connect_sandboxes

_hub_ids = itertools.count(700_001)
_orgs = itertools.count(1)


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    gate.reset_rate_limits()
    yield
    gate.reset_rate_limits()


@pytest.fixture(autouse=True)
def _close_sockets(monkeypatch):
    """No kept-alive socket may outlive the live server's thread (it holds a database session)."""
    made = []
    original = Connection.connector

    def connector(self):
        made.append(original(self))
        return made[-1]

    monkeypatch.setattr(Connection, "connector", connector)
    yield
    for built in made:
        built.client.http.session.close()


@pytest.fixture
def pair(live_server):
    """Two connections: a seeded HubSpot portal (side A) and a seeded Salesforce org (side B)."""

    def make(*, contacts=0, companies=0, sf_contacts=0, sf_accounts=0, hub_seed=0, **org_options):
        portal = ensure_portal(next(_hub_ids), rate_limit_enabled=False)
        # The portal's data follows its hub id unless `hub_seed` pins it (a test counting on it).
        seed_records(portal, contacts=contacts, companies=companies, seed=hub_seed)
        org = seed_org(f"e2e{next(_orgs)}", contacts=sf_contacts, accounts=sf_accounts, **org_options)
        return connect_sandboxes(live_server.url, portal, org)

    return make
