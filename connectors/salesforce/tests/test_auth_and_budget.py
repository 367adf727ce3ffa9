"""Sessions (refresh on INVALID_SESSION_ID, OAuth code flow), permissions and the API budget."""

from urllib.parse import parse_qs, urlparse

import pytest
import requests
from django.utils import timezone

from connectors.base import CONTACTS
from connectors.errors import ConnectorError, ErrorCategory
from connectors.models import Connection
from connectors.salesforce.tests.conftest import org_row
from sandbox.salesforce.models import Org, Token


def expire_sessions(seeded):
    Token.objects.filter(org=seeded.org, kind=Token.Kind.ACCESS).update(expires_at=timezone.now())


def test_it_refreshes_an_expired_session_and_saves_the_new_token(org, connector):
    expire_sessions(org)
    pages = list(connector.read_changes(CONTACTS))
    assert sum(len(p.records) for p in pages) == 6
    assert connector.client.token_calls == 1
    (saved,) = connector.saved
    assert saved["access_token"] != org.access_token
    assert saved["refresh_token"] == org.refresh_token
    assert Token.objects.get(value=saved["access_token"]).kind == Token.Kind.ACCESS


def test_a_refused_refresh_is_authentication_expired_with_the_vendors_words(org, connector):
    expire_sessions(org)
    Token.objects.filter(value=org.refresh_token).update(revoked=True)
    with pytest.raises(ConnectorError) as info:
        connector.fields(CONTACTS)
    assert info.value.category is ErrorCategory.AUTHENTICATION_EXPIRED
    assert "invalid_grant" in info.value.message
    assert connector.saved == []


def test_without_a_refresh_token_an_expired_session_asks_to_reconnect(org, build, sandbox_url):
    expire_sessions(org)
    connector = build({"access_token": org.access_token, "instance_url": sandbox_url})
    result = connector.check()
    assert not result.ok
    assert "Authentication expired" in result.message and "reconnect" in result.message
    with pytest.raises(ConnectorError) as info:
        connector.fields(CONTACTS)
    assert info.value.category is ErrorCategory.AUTHENTICATION_EXPIRED


def test_it_connects_through_the_oauth_web_server_flow(org, build):
    connector = build({"client_id": org.org.client_id, "client_secret": org.org.client_secret})
    url = connector.authorize_url("https://sync.example.com/connect/callback", "state-123")
    page = requests.get(url, timeout=5)
    assert page.status_code == 200 and "Allow" in page.text
    form = {**{k: v[0] for k, v in parse_qs(urlparse(url).query).items()}, "decision": "allow"}
    answer = requests.post(url.split("?")[0], data=form, allow_redirects=False, timeout=5)
    callback = parse_qs(urlparse(answer.headers["Location"]).query)
    assert callback["state"] == ["state-123"]
    credentials = connector.exchange_code(callback["code"][0], "https://sync.example.com/connect/callback")
    assert set(credentials) >= {"access_token", "refresh_token", "instance_url", "client_id", "client_secret"}
    connected = build(credentials)
    assert connected.check().ok


def test_a_code_cannot_be_exchanged_twice(org, build):
    connector = build({"client_id": org.org.client_id, "client_secret": org.org.client_secret})
    url = connector.authorize_url("https://x.example/cb", "s")
    form = {**{k: v[0] for k, v in parse_qs(urlparse(url).query).items()}, "decision": "allow"}
    location = requests.post(url.split("?")[0], data=form, allow_redirects=False, timeout=5).headers[
        "Location"
    ]
    code = parse_qs(urlparse(location).query)["code"][0]
    connector.exchange_code(code, "https://x.example/cb")
    with pytest.raises(ConnectorError) as info:
        connector.exchange_code(code, "https://x.example/cb")
    assert info.value.category is ErrorCategory.AUTHENTICATION_EXPIRED


def test_check_names_missing_objects_and_fields(org, connector):
    Org.objects.filter(pk=org.org.pk).update(
        restrictions={
            "hidden_objects": ["OpportunityContactRole"],
            "hidden_fields": ["Contact.Phone"],
            "readonly_fields": ["Opportunity.Amount"],
        }
    )
    result = connector.check()
    assert not result.ok
    assert any("OpportunityContactRole" in m for m in result.missing)
    assert "Contact.Phone (field not visible)" in result.missing
    assert "Opportunity.Amount (read-only for the integration user)" in result.missing


def test_check_passes_and_shows_api_usage(org, connector):
    result = connector.check()
    assert result.ok and "API calls used today" in result.message


def test_it_reports_api_usage_to_the_connection(org, connector):
    connection = Connection.objects.create(kind="salesforce", name="SF", credentials={})
    connector.on_api_usage = connection.record_api_usage
    connector.fields(CONTACTS)
    usage = Connection.objects.get(pk=connection.pk).api_usage
    assert (usage["used"], usage["allowed"]) == (org_row(org).api_used, 15000)


def test_it_stops_before_sending_once_the_budget_share_is_used(org, make_connector):
    Org.objects.filter(pk=org.org.pk).update(api_max=100, api_used=73)
    connector = make_connector(org, api_budget_share=0.75)
    connector.fields(CONTACTS)  # the 74th call: under 75%
    assert connector.api_usage == (74, 100)
    list(connector.read_changes(CONTACTS))  # the 75th call reaches the share
    with pytest.raises(ConnectorError) as info:
        connector.read(CONTACTS, ["003000000000000AAA"])
    assert info.value.category is ErrorCategory.API_LIMIT_REACHED
    assert "75%" in info.value.message
    assert org_row(org).api_used == 75  # nothing more was sent


def test_a_spent_daily_allocation_is_api_limit_reached_without_retries(org, make_connector):
    Org.objects.filter(pk=org.org.pk).update(api_max=10, api_used=10)
    connector = make_connector(org, api_budget_share=1.5)
    with pytest.raises(ConnectorError) as info:
        connector.fields(CONTACTS)
    assert info.value.category is ErrorCategory.API_LIMIT_REACHED
    assert connector.client.http.calls == 1
