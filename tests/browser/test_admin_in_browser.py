"""An admin connects an app in a real browser (Debian's chromium through Playwright)."""

import pytest

from connectors.models import Connection

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_connects_hubspot_with_a_private_app_token(admin_login):
    page = admin_login("/admin/connectors/connection/")
    page.click("text=Connect HubSpot")
    page.fill("#id_name", "Marketing portal")
    page.fill("#id_cred_access_token", "pat-na1-browser-secret")
    page.click("input[name=_save]")
    page.wait_for_selector("text=was added successfully")
    assert page.locator("#result_list").inner_text().count("Marketing portal") == 1
    conn = Connection.objects.get(name="Marketing portal")
    assert conn.kind == "hubspot" and conn.credentials["access_token"] == "pat-na1-browser-secret"
    page.click("text=Marketing portal")
    assert "pat-na1-browser-secret" not in page.content()
    assert page.locator("#id_cred_access_token").input_value() == ""


def test_a_wrong_form_entry_gets_a_clear_error_and_no_traceback(admin_login):
    page = admin_login("/admin/connectors/connection/add/?kind=hubspot")
    page.fill("#id_name", "Broken")
    page.fill("#id_base_url", "not a url at all")
    page.click("input[name=_save]")
    page.wait_for_selector(".errornote")
    assert "Enter a valid URL" in page.content()
    assert "Traceback" not in page.content()
    assert not Connection.objects.filter(name="Broken").exists()
