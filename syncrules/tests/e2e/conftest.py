"""Shared fixtures of the end-to-end tests: a HubSpot sandbox portal and a Salesforce sandbox
org served by the live server, and object syncs between them."""

from __future__ import annotations

import itertools

import pytest

from connectors.models import Connection
from sandbox.hubspot import gate
from sandbox.hubspot.seed import ensure_portal, seed_records
from sandbox.salesforce.seed import seed_org

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
        hubspot = Connection.objects.create(
            kind="hubspot", name="HubSpot sandbox", base_url=f"{live_server.url}/sandbox/hubspot",
            credentials={"access_token": portal.private_token},
            # The sandbox indexes searches at once; real HubSpot lags (the connector waits 15 s by default).
            options={"client_rate_limit": False, "search_lag_seconds": 0},
        )
        salesforce = Connection.objects.create(
            kind="salesforce", name="Salesforce sandbox", base_url=f"{live_server.url}/sandbox/salesforce",
            credentials={
                "access_token": org.access_token, "refresh_token": org.refresh_token,
                "instance_url": f"{live_server.url}/sandbox/salesforce",
                "client_id": org.org.client_id, "client_secret": org.org.client_secret,
            },
            options={"backoff_base": 0.01},
        )
        return hubspot, salesforce

    return make
