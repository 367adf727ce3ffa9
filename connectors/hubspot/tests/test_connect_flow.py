"""The admin's OAuth connect flow (connectors/views.py) against the HubSpot sandbox:
scopes shown first, the consent page, back to the connection, which is then connected."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from django.core import signing

from connectors.hubspot.defaults import REQUIRED_SCOPES
from connectors.models import Connection
from connectors.views import STATE_SALT
from sandbox.hubspot.models import OAuthApp

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def connection(sandbox_url, portal):
    OAuthApp.objects.create(client_id="syncsite-admin", client_secret="topsecret")
    return Connection.objects.create(kind="hubspot", name="Main portal", base_url=sandbox_url,
                                     credentials={"client_id": "syncsite-admin", "client_secret": "topsecret"})


def _local(url: str) -> str:
    parsed = urlparse(url)
    return f"{parsed.path}?{parsed.query}"


def test_it_shows_the_requested_scopes_before_connecting(admin_client, connection):
    page = admin_client.get(f"/connect/{connection.pk}/")
    assert page.status_code == 200
    for scope in REQUIRED_SCOPES:
        assert scope.encode() in page.content
    assert b"Continue to HubSpot" in page.content


def test_it_connects_through_the_consent_page_and_comes_back_connected(admin_client, connection, portal):
    start = admin_client.post(f"/connect/{connection.pk}/")
    assert start.status_code == 302
    consent_url = start["Location"]
    assert "/sandbox/hubspot/oauth/authorize" in consent_url
    consent = admin_client.get(_local(consent_url))
    assert b"crm.objects.contacts.read" in consent.content
    form = {k: v[0] for k, v in parse_qs(urlparse(consent_url).query).items()}
    back = admin_client.post("/sandbox/hubspot/oauth/authorize", {**form, "portal": portal.hub_id, "grant": "1"})
    assert urlparse(back["Location"]).path == "/connect/callback/"
    done = admin_client.get(_local(back["Location"]))
    assert done["Location"] == f"/admin/connectors/connection/{connection.pk}/change/"
    connection.refresh_from_db()
    assert connection.status == Connection.Status.CONNECTED
    assert connection.credentials["access_token"] and connection.credentials["refresh_token"]
    assert connection.credentials["client_secret"] == "topsecret"
    page = admin_client.get(done["Location"])
    assert b"is connected" in page.content


def test_it_refuses_a_forged_state(admin_client, connection):
    response = admin_client.get("/connect/callback/?code=x&state=forged")
    assert response.status_code == 400
    connection.refresh_from_db()
    assert "access_token" not in connection.credentials


def test_it_refuses_a_state_made_for_another_user(admin_client, connection):
    state = signing.dumps({"c": connection.pk, "u": 999999}, salt=STATE_SALT)
    assert admin_client.get(f"/connect/callback/?code=x&state={state}").status_code == 403


def test_it_comes_back_with_a_message_when_the_person_cancels(admin_client, connection, admin_user):
    state = signing.dumps({"c": connection.pk, "u": admin_user.pk}, salt=STATE_SALT)
    response = admin_client.get(f"/connect/callback/?error=access_denied&error_description=denied&state={state}",
                                follow=True)
    assert b"was not connected: denied" in response.content


def test_it_records_a_failed_code_exchange_on_the_connection(admin_client, connection, admin_user):
    state = signing.dumps({"c": connection.pk, "u": admin_user.pk}, salt=STATE_SALT)
    admin_client.get(f"/connect/callback/?code=not-a-code&state={state}")
    connection.refresh_from_db()
    assert connection.status == Connection.Status.FAILING
    assert "BAD_AUTH_CODE" in connection.last_error


def test_it_asks_for_the_client_id_before_connecting(admin_client, connection):
    connection.credentials = {}
    connection.save()
    page = admin_client.get(f"/connect/{connection.pk}/")
    assert b"client id" in page.content
    assert admin_client.post(f"/connect/{connection.pk}/").status_code == 200


def test_it_is_closed_to_users_who_may_not_see_credentials(client, django_user_model, connection):
    user = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    client.force_login(user)
    assert client.get(f"/connect/{connection.pk}/").status_code == 403


def test_it_answers_404_for_a_connection_of_an_unknown_kind(admin_client, connection):
    Connection.objects.filter(pk=connection.pk).update(kind="pipedrive")
    assert admin_client.get(f"/connect/{connection.pk}/").status_code == 404


def test_a_reloaded_callback_shows_the_status_and_leaves_the_connection_connected(admin_client, connection, portal):
    start = admin_client.post(f"/connect/{connection.pk}/")
    form = {k: v[0] for k, v in parse_qs(urlparse(start["Location"]).query).items()}
    back = admin_client.post("/sandbox/hubspot/oauth/authorize", {**form, "portal": portal.hub_id, "grant": "1"})
    assert admin_client.get(_local(back["Location"]))["Location"].endswith("/change/")
    connection.refresh_from_db()
    tokens = dict(connection.credentials)
    assert connection.status == Connection.Status.CONNECTED
    # The same callback URL again (a reload, the history, a replay): the spent code is not
    # exchanged again, the connection stays connected with the same tokens.
    again = admin_client.get(_local(back["Location"]), follow=True)
    assert b"already used" in again.content
    connection.refresh_from_db()
    assert connection.status == Connection.Status.CONNECTED and connection.credentials == tokens
