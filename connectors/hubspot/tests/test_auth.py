"""Authentication: private-app tokens, OAuth (authorize URL, code exchange, refresh before
expiry and on 401), and check() naming missing scopes."""

from __future__ import annotations

import time
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from django.utils import timezone

from connectors.errors import ConnectorError, ErrorCategory
from connectors.hubspot.defaults import REQUIRED_SCOPES
from sandbox.hubspot.models import AccessToken, OAuthApp, Portal

pytestmark = pytest.mark.django_db(transaction=True)
REDIRECT = "http://localhost:8000/connect/callback/"


@pytest.fixture
def app(transactional_db):
    return OAuthApp.objects.create(client_id="syncsite", client_secret="s3cret")


def _consent(conn, portal, sandbox_url):
    """Walk the sandbox's consent page like a person would and return the callback's code."""
    url = conn.authorize_url(REDIRECT, "state-1")
    session = requests.Session()
    page = session.get(url, timeout=10)
    assert page.status_code == 200
    token = session.cookies["csrftoken"]
    form = {**{k: v[0] for k, v in parse_qs(urlparse(url).query).items()}, "portal": portal.hub_id, "grant": "1",
            "csrfmiddlewaretoken": token}
    answer = session.post(f"{sandbox_url}/oauth/authorize", data=form, allow_redirects=False,
                          headers={"Referer": url}, timeout=10)
    query = parse_qs(urlparse(answer.headers["Location"]).query)
    assert query["state"] == ["state-1"]
    return query["code"][0]


@pytest.fixture
def oauth_conn(app, portal, connect, sandbox_url):
    conn = connect(portal, {"client_id": app.client_id, "client_secret": app.client_secret})
    credentials = conn.exchange_code(_consent(conn, portal, sandbox_url), REDIRECT)
    return connect(portal, credentials)


def test_it_builds_an_authorize_url_with_the_scopes_and_state(app, portal, connect):
    conn = connect(portal, {"client_id": "syncsite", "client_secret": "x"})
    query = parse_qs(urlparse(conn.authorize_url(REDIRECT, "abc")).query)
    assert query["client_id"] == ["syncsite"] and query["state"] == ["abc"]
    assert query["redirect_uri"] == [REDIRECT]
    assert query["scope"][0].split(" ") == list(REQUIRED_SCOPES)


def test_it_exchanges_a_code_for_tokens_that_work(oauth_conn, portal):
    creds = oauth_conn.credentials
    assert creds["access_token"] and creds["refresh_token"] and creds["hub_id"] == portal.hub_id
    assert creds["expires_at"] > time.time() + 1000
    assert oauth_conn.pipelines("deals")
    assert oauth_conn.check().ok


def test_it_refreshes_a_token_about_to_expire_before_using_it(oauth_conn):
    old = oauth_conn.credentials["access_token"]
    oauth_conn.credentials["expires_at"] = time.time() + 30
    assert oauth_conn.pipelines("deals")
    assert oauth_conn.credentials["access_token"] != old
    assert oauth_conn.saved_credentials[-1]["access_token"] == oauth_conn.credentials["access_token"]
    assert oauth_conn.client.http.retries == 0


def test_it_refreshes_and_retries_once_on_a_401(oauth_conn):
    old = oauth_conn.credentials["access_token"]
    AccessToken.objects.filter(token=old).update(expires_at=timezone.now() - timedelta(seconds=5))
    assert oauth_conn.pipelines("deals")
    assert oauth_conn.credentials["access_token"] != old
    assert oauth_conn.saved_credentials


def test_it_reports_a_revoked_refresh_token_as_authentication_expired(oauth_conn):
    AccessToken.objects.update(expires_at=timezone.now() - timedelta(seconds=5))
    oauth_conn.credentials["refresh_token"] = "revoked"
    with pytest.raises(ConnectorError) as info:
        oauth_conn.pipelines("deals")
    assert info.value.category is ErrorCategory.AUTHENTICATION_EXPIRED
    assert "BAD_REFRESH_TOKEN" in info.value.message


def test_it_reports_an_invalid_private_token_as_authentication_expired(portal, connect):
    conn = connect(portal, {"access_token": "pat-na1-wrong"})
    result = conn.check()
    assert not result.ok
    assert "Authentication expired" in result.message


def test_it_names_the_missing_scopes_of_a_private_app(portal, connect):
    Portal.objects.filter(pk=portal.pk).update(scopes=["crm.objects.contacts.read", "crm.schemas.contacts.read"])
    result = connect(portal).check()
    assert not result.ok
    assert "crm.objects.companies.read" in result.missing
    assert "crm.objects.contacts.read" not in result.missing
    assert "crm.objects.companies.read" in result.message


def test_it_names_the_missing_scopes_of_an_oauth_token(app, portal, connect, sandbox_url):
    conn = connect(portal, {"client_id": app.client_id, "client_secret": app.client_secret})
    url = conn.authorize_url(REDIRECT, "state-1").replace("%20crm.schemas.deals.write", "")
    conn.authorize_url = lambda *_: url
    creds = conn.exchange_code(_consent(conn, portal, sandbox_url), REDIRECT)
    result = connect(portal, creds).check()
    assert result.missing == ["crm.schemas.deals.write"]


def test_it_accepts_a_private_app_with_every_scope(hubspot):
    assert hubspot.check().ok
