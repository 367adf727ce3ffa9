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
def build(sandbox_url):
    """A connector from raw credentials; it records what it saves, and is closed afterwards."""
    made = []

    def make(credentials, **options):
        saved: list[dict] = []
        connector = SalesforceConnector(
            sandbox_url, credentials, on_credentials=saved.append, options={"backoff_base": 0.01, **options}
        )
        connector.saved = saved
        made.append(connector)
        return connector

    yield make
    for connector in made:  # no keep-alive socket may outlive the live server's thread
        connector.client.http.session.close()


@pytest.fixture
def make_connector(build, sandbox_url):
    """A connector with a seeded org's full credentials."""

    def make(seeded, **options):
        credentials = {
            "access_token": seeded.access_token,
            "refresh_token": seeded.refresh_token,
            "instance_url": sandbox_url,
            "client_id": seeded.org.client_id,
            "client_secret": seeded.org.client_secret,
        }
        return build(credentials, **options)

    return make


@pytest.fixture
def org(transactional_db):
    return seed_org("acme", contacts=6, accounts=3, opportunities=5, record_types=2)


@pytest.fixture
def connector(org, make_connector):
    return make_connector(org)


def org_row(seeded) -> Org:
    return Org.objects.get(pk=seeded.org.pk)
