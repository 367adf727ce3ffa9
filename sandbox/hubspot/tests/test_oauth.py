"""OAuth 2.0: consent page, code exchange, refresh and HubSpot-shaped token errors."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from sandbox.hubspot.models import OAuthApp

pytestmark = pytest.mark.django_db
REDIRECT = "http://localhost:9000/callback"


@pytest.fixture
def app(db):
    return OAuthApp.objects.create(client_id="cid", client_secret="shh")


def _authorize(client, portal, **extra):
    params = {"client_id": "cid", "redirect_uri": REDIRECT, "scope": "oauth crm.objects.contacts.read",
              "state": "s1", **extra}
    page = client.get("/sandbox/hubspot/oauth/authorize", params)
    response = client.post("/sandbox/hubspot/oauth/authorize", {**params, "portal": portal.hub_id, "grant": "1"})
    return page, response


def _token(client, **form):
    return client.post("/sandbox/hubspot/oauth/v1/token", {"client_id": "cid", "client_secret": "shh", **form})


def test_it_shows_the_requested_scopes_and_redirects_back_with_a_code(client, app, portal):
    page, response = _authorize(client, portal)
    assert b"crm.objects.contacts.read" in page.content
    assert response.status_code == 302
    query = parse_qs(urlparse(response["Location"]).query)
    assert query["state"] == ["s1"] and query["code"]


def test_it_redirects_with_an_error_when_the_user_cancels(client, app, portal):
    response = client.post("/sandbox/hubspot/oauth/authorize", {"client_id": "cid", "redirect_uri": REDIRECT,
                                                                "scope": "oauth", "state": "s", "deny": "1"})
    assert parse_qs(urlparse(response["Location"]).query)["error"] == ["access_denied"]


def test_it_refuses_an_unknown_client_on_the_consent_page(client, app):
    response = client.get("/sandbox/hubspot/oauth/authorize", {"client_id": "nope", "redirect_uri": REDIRECT,
                                                               "scope": "oauth"})
    assert response.status_code == 400


def test_it_exchanges_a_code_once_and_refreshes_with_the_same_refresh_token(client, app, portal, api):
    _, response = _authorize(client, portal)
    code = parse_qs(urlparse(response["Location"]).query)["code"][0]
    tokens = _token(client, grant_type="authorization_code", code=code, redirect_uri=REDIRECT).json()
    assert set(tokens) >= {"access_token", "refresh_token", "expires_in", "token_type", "token_use"}
    assert tokens["expires_in"] == 1800 and tokens["hub_id"] == portal.hub_id
    again = _token(client, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    assert again.status_code == 400
    refreshed = _token(client, grant_type="refresh_token", refresh_token=tokens["refresh_token"]).json()
    assert refreshed["refresh_token"] == tokens["refresh_token"]
    assert refreshed["access_token"] != tokens["access_token"]
    assert api("GET", "/crm/v3/objects/contacts", token=refreshed["access_token"]).status_code == 200
    assert api("GET", "/crm/v3/objects/companies", token=refreshed["access_token"]).status_code == 403
    info = client.get(f"/sandbox/hubspot/oauth/v1/access-tokens/{refreshed['access_token']}").json()
    assert info["scopes"] == ["oauth", "crm.objects.contacts.read"]


def test_it_answers_a_bad_refresh_token_in_hubspots_shape(client, app):
    response = _token(client, grant_type="refresh_token", refresh_token="nope")
    assert response.status_code == 400
    assert response.json()["status"] == "BAD_REFRESH_TOKEN"
    assert response.json()["message"] and response.json()["correlationId"]


# Only BAD_REFRESH_TOKEN is attested (reference 1.2 [S]); the other status names are [U].
@pytest.mark.parametrize("form", [
    {"grant_type": "authorization_code", "code": "nope", "redirect_uri": REDIRECT},
    {"grant_type": "refresh_token", "refresh_token": "x", "client_secret": "wrong"},
])
def test_it_refuses_bad_token_requests_with_a_status_and_message(client, app, form):
    response = _token(client, **form)
    assert response.status_code == 400
    assert response.json()["status"].startswith("BAD_") and response.json()["message"]


def test_it_refuses_a_code_for_another_redirect_uri(client, app, portal):
    _, response = _authorize(client, portal)
    code = parse_qs(urlparse(response["Location"]).query)["code"][0]
    response = _token(client, grant_type="authorization_code", code=code, redirect_uri="http://localhost/other")
    assert response.status_code == 400
    assert "access_token" not in response.json()
