"""Connector tests run over real HTTP against the HubSpot sandbox served by live_server."""

from __future__ import annotations

import pytest

from connectors.hubspot.connector import HubSpotConnector
from sandbox.hubspot import gate
from sandbox.hubspot.seed import ensure_portal

_hub_ids = iter(range(900_000, 999_999))


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    gate.reset_rate_limits()
    yield
    gate.reset_rate_limits()


@pytest.fixture
def sandbox_url(live_server):
    return f"{live_server.url}/sandbox/hubspot"


@pytest.fixture
def make_portal(transactional_db):
    def make(**fields):
        fields.setdefault("rate_limit_enabled", False)
        return ensure_portal(next(_hub_ids), **fields)

    return make


@pytest.fixture
def portal(make_portal):
    return make_portal()


@pytest.fixture
def connect(sandbox_url):
    """A connector for a portal's private-app token (client limits off unless asked for)."""
    made = []

    def connect(portal, credentials=None, **options):
        options.setdefault("client_rate_limit", False)
        options.setdefault("search_lag_seconds", 0)  # the sandbox's search index has no lag
        saved = []
        conn = HubSpotConnector(sandbox_url, credentials or {"access_token": portal.private_token},
                                on_credentials=saved.append, options=options)
        conn.saved_credentials = saved
        made.append(conn)
        return conn

    yield connect
    # Close kept-alive sockets now, while the live server still shares its database connection.
    for conn in made:
        conn.client.http.session.close()


@pytest.fixture
def hubspot(portal, connect):
    return connect(portal)
