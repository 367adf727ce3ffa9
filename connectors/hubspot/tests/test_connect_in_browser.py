"""An admin connects HubSpot with OAuth in a real browser: the connection, the scopes page,
the sandbox's consent page, and back to the connection, which shows it is connected."""

from __future__ import annotations

import pytest

from connectors.models import Connection
from sandbox.hubspot.models import OAuthApp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_connects_hubspot_through_the_consent_page(admin_login, live_server, settings, portal):
    settings.SITE_URL = live_server.url
    OAuthApp.objects.create(client_id="browser-app", client_secret="browser-secret")
    page = admin_login("/admin/connectors/connection/")
    page.click("text=Connect HubSpot")
    page.fill("#id_name", "Sales portal")
    page.fill("#id_base_url", f"{live_server.url}/sandbox/hubspot")
    page.fill("#id_cred_client_id", "browser-app")
    page.fill("#id_cred_client_secret", "browser-secret")
    page.click("input[name=_continue]")
    page.click("#connect-oauth-link")
    assert "crm.objects.contacts.write" in page.locator("#requested-scopes").inner_text()
    page.click("#connect-oauth")
    page.wait_for_selector("#grant")
    assert "crm.objects.deals.read" in page.locator("#scopes").inner_text()
    page.select_option("#portal", str(portal.hub_id))
    page.click("#grant")
    page.wait_for_selector("text=is connected")
    connection = Connection.objects.get(name="Sales portal")
    assert connection.status == Connection.Status.CONNECTED
    assert connection.credentials["hub_id"] == portal.hub_id
    assert "Connected" in page.content()
