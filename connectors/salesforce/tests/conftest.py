"""Fixtures: a seeded sandbox org served over real HTTP by live_server, and connectors to it."""

from __future__ import annotations

import pytest

from connectors.salesforce.connector import SalesforceConnector
from sandbox.salesforce.models import Org
from sandbox.salesforce.seed import seed_org


@pytest.fixture
def sandbox_url(live_server) -> str:
    return live_server.url + "/sandbox/salesforce"


@pytest.fixture
def make_connector(sandbox_url):
    """Build a connector for a seeded org; records the credentials it saves."""

    def make(seeded, **options):
        saved: list[dict] = []
        credentials = {
            "access_token": seeded.access_token,
            "refresh_token": seeded.refresh_token,
            "instance_url": sandbox_url,
            "client_id": seeded.org.client_id,
            "client_secret": seeded.org.client_secret,
        }
        connector = SalesforceConnector(
            sandbox_url, credentials, on_credentials=saved.append, options={"backoff_base": 0.01, **options}
        )
        connector.saved = saved
        return connector

    return make


@pytest.fixture
def org(transactional_db):
    return seed_org("acme", contacts=6, accounts=3, opportunities=5, record_types=2)


@pytest.fixture
def connector(org, make_connector):
    return make_connector(org)


def org_row(seeded) -> Org:
    return Org.objects.get(pk=seeded.org.pk)
