"""Secrets never leave the credential store: the HTTP layer redacts them from every error and
log line, webhook signatures are checked without raising, OAuth states are single-use."""

from __future__ import annotations

import logging
from urllib.parse import quote, quote_plus

import pytest
from django.core import signing
from django.urls import reverse

from connectors.errors import ConnectorError
from connectors.http import HttpClient, RedactingFilter, redact, secret_values
from connectors.hubspot.webhooks import signature_v3, verify_v3
from connectors.models import Connection
from connectors.views import STATE_SALT

TOKEN = "sbx-Secret/Token+with=odd chars"


def test_it_redacts_known_secrets_in_every_encoding_and_credential_shaped_text():
    text = (f"GET /oauth/v1/access-tokens/sbx-abc123 failed; Bearer pat-na1-xyz; ?code=abc&state=1; "
            f'{{"refresh_token": "r-123"}}; {TOKEN} %2F {quote(TOKEN, safe="")} {quote_plus(TOKEN)}')
    out = redact(text, [TOKEN])
    for secret in ("sbx-abc123", "pat-na1-xyz", "code=abc", "r-123", TOKEN, "Secret%2FToken", "Secret%2FToken"):
        assert secret not in out
    assert "state=1" in out and "/oauth/v1/access-tokens/***" in out


def test_secret_values_are_the_credentials_named_like_secrets():
    creds = {"access_token": "a", "client_id": "id", "client_secret": "s", "instance_url": "u", "code": "c"}
    assert sorted(secret_values(creds)) == ["a", "c", "s"]


def test_a_failed_request_never_names_the_token_in_its_path_or_headers(caplog):
    caplog.set_level(logging.DEBUG)
    client = HttpClient("http://127.0.0.1:9", auth_headers=lambda: {"Authorization": "Bearer pat-na1-hidden"},
                        max_attempts=2, sleep=lambda _s: None, secrets=lambda: [TOKEN])
    with pytest.raises(ConnectorError) as info:
        client.request("GET", f"/oauth/v1/access-tokens/{TOKEN}", params={"hapikey": "k-123"})
    logged = " ".join(r.getMessage() for r in caplog.records)
    for text in (str(info.value), logged):
        assert TOKEN not in text and "pat-na1-hidden" not in text and "k-123" not in text
    assert "access-tokens/***" in str(info.value)


def test_the_logging_filter_redacts_urllib3_request_lines():
    record = logging.LogRecord("urllib3.connectionpool", logging.DEBUG, __file__, 1,
                               '%s "%s %s HTTP/1.1" %s', ("http://h", "GET", "/oauth/v1/access-tokens/sbx-1", 200),
                               None)
    RedactingFilter().filter(record)
    assert "sbx-1" not in record.getMessage()


@pytest.mark.parametrize("headers", [
    {"X-HubSpot-Signature-v3": "é" * 44, "X-HubSpot-Request-Timestamp": "1700000000000"},
    {"X-HubSpot-Signature-v3": "abc", "X-HubSpot-Request-Timestamp": "\u00b2\u00b3"},
    {"X-HubSpot-Signature-v3": "abc", "X-HubSpot-Request-Timestamp": "9" * 400},
    {"X-HubSpot-Signature-v3": "abc", "X-HubSpot-Request-Timestamp": None},
    {},
])
def test_a_webhook_signature_check_answers_false_on_odd_input(headers):
    assert verify_v3("secret", "POST", "https://x/hook", b"{}", headers, now_ms=1700000000000) is False


def test_a_webhook_signed_with_an_empty_secret_is_refused():
    now = "1700000000000"
    headers = {"X-HubSpot-Signature-v3": signature_v3("", "POST", "https://x/h", b"[]", now),
               "X-HubSpot-Request-Timestamp": now}
    assert verify_v3("", "POST", "https://x/h", b"[]", headers, now_ms=int(now)) is False
    good = {**headers, "X-HubSpot-Signature-v3": signature_v3("s", "POST", "https://x/h", b"[]", now)}
    assert verify_v3("s", "POST", "https://x/h", b"[]", good, now_ms=int(now)) is True


@pytest.mark.django_db
def test_an_oauth_state_is_good_for_one_callback_only(admin_client, admin_user, monkeypatch):
    connection = Connection.objects.create(kind="hubspot", name="P", base_url="http://127.0.0.1:9",
                                           status=Connection.Status.CONNECTED,
                                           credentials={"client_id": "c", "client_secret": "s"})
    exchanges = []
    monkeypatch.setattr("connectors.hubspot.connector.HubSpotConnector.exchange_code",
                        lambda self, code, uri: exchanges.append(code) or {"access_token": "new"})
    monkeypatch.setattr(Connection, "test", lambda self: type("R", (), {"ok": True, "message": ""})())
    state = signing.dumps({"c": connection.pk, "u": admin_user.pk}, salt=STATE_SALT)
    url = reverse("connectors:oauth_callback")
    assert admin_client.get(url, {"code": "one", "state": state}).status_code == 302
    replay = admin_client.get(url, {"code": "two", "state": state}, follow=True)
    assert exchanges == ["one"]
    assert b"already used" in replay.content
    connection.refresh_from_db()
    assert connection.status == Connection.Status.CONNECTED


@pytest.mark.django_db
@pytest.mark.parametrize("state", [{"c": "1; drop", "u": 1}, ["x"], {"c": 10**30, "u": 1}])
def test_a_signed_but_malformed_state_is_refused_without_a_500(admin_client, admin_user, state):
    if isinstance(state, dict):
        state = {**state, "u": admin_user.pk}
    signed = signing.dumps(state, salt=STATE_SALT)
    response = admin_client.get(reverse("connectors:oauth_callback"), {"code": "x", "state": signed})
    assert response.status_code in {403, 404}


@pytest.mark.django_db
def test_errors_stored_before_the_upgrade_lose_their_tokens():
    import importlib

    from django.apps import apps

    migration = importlib.import_module("connectors.migrations.0002_security")
    leaky = Connection.objects.create(kind="hubspot", name="P",
                                      last_error="App unavailable: GET /oauth/v1/access-tokens/sbx-old-token timed out")
    migration.redact_stored_errors(apps, None)
    leaky.refresh_from_db()
    assert "sbx-old-token" not in leaky.last_error and "timed out" in leaky.last_error


@pytest.mark.django_db
def test_the_debug_error_page_would_hide_posted_credentials(admin_client):
    connection = Connection.objects.create(kind="hubspot", name="P")
    url = reverse("admin:connectors_connection_change", args=[connection.pk])
    response = admin_client.post(url, {"name": "P", "options": "{}", "cred_access_token": "pat-na1-posted"})
    assert response.wsgi_request.sensitive_post_parameters == "__ALL__"
    start = admin_client.post(reverse("connectors:oauth_start", args=[connection.pk]))
    assert start.wsgi_request.sensitive_post_parameters == "__ALL__"
