"""A Salesforce connection keeps the org's API usage on its row and stops at its budget."""

from datetime import UTC, datetime, timedelta

import pytest

from connectors.errors import ConnectorError, ErrorCategory
from connectors.models import Connection


def make_connection(org, sandbox_url, **fields) -> Connection:
    return Connection.objects.create(
        kind="salesforce",
        name="Org",
        base_url=sandbox_url,
        credentials={
            "access_token": org.access_token,
            "refresh_token": org.refresh_token,
            "instance_url": sandbox_url,
            "client_id": org.org.client_id,
            "client_secret": org.org.client_secret,
        },
        **fields,
    )


def test_it_records_the_orgs_api_usage_on_the_connection(org, sandbox_url):
    connection = make_connection(org, sandbox_url)
    connector = connection.connector()
    try:
        connector.fields("contacts")
    finally:
        connector.client.http.session.close()
    connection.refresh_from_db()
    assert connection.api_usage["used"] >= 1
    assert connection.api_usage["allowed"] > connection.api_usage["used"]


def test_a_recent_reading_over_budget_stops_the_first_call(org, sandbox_url):
    seen = {"used": 80, "allowed": 100, "at": datetime.now(UTC).isoformat()}
    connection = make_connection(org, sandbox_url, api_usage=seen)
    connector = connection.connector()
    with pytest.raises(ConnectorError) as info:
        connector.fields("contacts")
    assert info.value.category is ErrorCategory.API_LIMIT_REACHED
    assert connector.client.http.calls == 0


def test_an_old_reading_does_not_block_the_connection(org, sandbox_url):
    seen = {"used": 80, "allowed": 100, "at": (datetime.now(UTC) - timedelta(hours=3)).isoformat()}
    connection = make_connection(org, sandbox_url, api_usage=seen)
    connector = connection.connector()
    try:
        assert any(spec.name == "Email" for spec in connector.fields("contacts"))
    finally:
        connector.client.http.session.close()
