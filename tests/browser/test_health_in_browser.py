"""Support staff use the health pages in a browser, on a real run between the two sandboxes.

A contact's job title is too long for Salesforce, so the first run leaves it failing. The support
user finds it from the overview, reads how to fix it, fixes it in the HubSpot sandbox (through
its API, as the app's UI would), retries, and sees it in sync; then opens its story and follows
its link into the sandbox. A second test fills the sandboxes with hundreds of records, failures
and long names, and saves screenshots of every page for each role (to $SHOTS_DIR if set).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests
from django.contrib.auth.models import Group, User

from connectors.models import Connection
from sandbox.hubspot import gate
from sandbox.hubspot.models import CrmObject
from sandbox.hubspot.seed import ensure_portal, seed_records
from sandbox.salesforce.seed import seed_org
from syncrules.engine import run_sync
from syncrules.engine.mappings import create_default_mappings
from syncrules.models import FieldMapping, LinkStatus, ObjectSync, RecordLink
from syncrules.permissions import restore_role_groups

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG_TITLE = "Senior Vice President of Strategic Partnerships " * 5  # Salesforce's Title takes 128
SIZE = {"width": 1366, "height": 800}


def connect(live_server, hub_id: int, org_name: str, *, contacts: int, companies: int, sf_contacts: int,
            sf_accounts: int):
    gate.reset_rate_limits()
    portal = ensure_portal(hub_id, rate_limit_enabled=False)
    seed_records(portal, contacts=contacts, companies=companies)
    org = seed_org(org_name, contacts=sf_contacts, accounts=sf_accounts)
    sandbox = f"{live_server.url}/sandbox"
    hubspot = Connection.objects.create(
        kind="hubspot", name="Marketing portal (HubSpot EU)", base_url=f"{sandbox}/hubspot",
        credentials={"access_token": portal.private_token, "hub_id": portal.hub_id},
        options={"client_rate_limit": False, "search_lag_seconds": 0},
    )
    salesforce = Connection.objects.create(
        kind="salesforce", name="Sales org (Salesforce production)", base_url=f"{sandbox}/salesforce",
        credentials={"access_token": org.access_token, "refresh_token": org.refresh_token,
                     "instance_url": f"{sandbox}/salesforce", "client_id": org.org.client_id,
                     "client_secret": org.org.client_secret},
        options={"backoff_base": 0.01},
    )
    return portal, hubspot, salesforce


def new_sync(hubspot, salesforce, object_type: str) -> ObjectSync:
    sync = ObjectSync.objects.create(connection_a=hubspot, connection_b=salesforce, object_type=object_type,
                                     name=f"{object_type.title()}: marketing portal <-> sales org",
                                     state=ObjectSync.State.ACTIVE)
    create_default_mappings(sync)
    # Where mappings have a policy for values that do not fit (the `values` branch), a too-long
    # value fails its record, as these tests need, instead of being skipped with a warning.
    if any(f.name == "policy" for f in FieldMapping._meta.get_fields()):
        sync.field_mappings.update(policy="fail_record")
    return sync


def break_title(portal, count: int = 1) -> list[CrmObject]:
    broken = list(CrmObject.objects.filter(portal=portal, object_type="contacts").exclude(email="")[:count])
    for contact in broken:
        contact.properties = {**contact.properties, "jobtitle": LONG_TITLE}
        contact.save(update_fields=["properties"])
    return broken


def role(name: str) -> Group:
    """The role's group as the role table makes it (a transactional test's flush removed it)."""
    restore_role_groups()
    return Group.objects.get(name=name)


def login(page, live_server, group: str):
    name = group.replace(" ", "").lower()
    if not User.objects.filter(username=name).exists():
        user = User.objects.create_user(name, password="pw-for-browser", is_staff=True)
        user.groups.add(role(group))
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", name)
    page.fill("#id_password", "pw-for-browser")
    page.click("input[type=submit]")
    return page


@pytest.fixture(autouse=True)
def _close_sockets(monkeypatch):
    """No kept-alive socket may outlive the test: the live server's thread behind it holds a
    database session, and PostgreSQL then cannot drop the test database (a run that fails while
    preparing, like the revoked portal's, leaves its other side's connector open)."""
    made = []
    original = Connection.connector

    def connector(self):
        made.append(original(self))
        return made[-1]

    monkeypatch.setattr(Connection, "connector", connector)
    yield
    for built in made:
        built.close()


@pytest.fixture
def failing_contact(live_server):
    portal, hubspot, salesforce = connect(live_server, 990_301, "health-browser", contacts=12, companies=0,
                                          sf_contacts=4, sf_accounts=0)
    broken = break_title(portal)[0]
    sync = new_sync(hubspot, salesforce, "contacts")
    run_sync(sync.pk)
    yield portal, sync, str(broken.pk)
    gate.reset_rate_limits()


def test_support_fixes_a_failed_record_from_the_overview_and_sees_it_in_sync(page, live_server, failing_contact):
    portal, sync, broken_id = failing_contact
    login(page, live_server, "Support")
    page.click("#health-overview-link")
    errors = page.locator(f"#count-{sync.pk}-errors")
    assert errors.inner_text() == "1"
    errors.click()

    group = page.locator("#group-value_too_long")
    assert "Value too long" in group.inner_text()
    assert "shorten the value the message names" in group.inner_text()  # the how-to-fix steps
    assert "CRM > Contacts" in group.inner_text()
    row = page.locator("#error-list tbody tr")
    assert row.count() == 1 and broken_id in row.inner_text()

    # The fix, made in the app (the sandbox's API stands in for HubSpot's UI).
    fixed = requests.patch(f"{live_server.url}/sandbox/hubspot/crm/v3/objects/contacts/{broken_id}",
                           json={"properties": {"jobtitle": "Senior Vice President"}},
                           headers={"Authorization": f"Bearer {portal.private_token}"}, timeout=10)
    assert fixed.status_code == 200, fixed.text

    row.locator("input[name=link]").check()
    page.click("button[name=retry_selected]")
    page.wait_for_selector("text=Queued a run that retries 1 record(s)")
    link = RecordLink.objects.get(object_sync=sync, id_a=broken_id)
    assert link.status == LinkStatus.IN_SYNC, link.last_error
    assert "No record of this sync has an error" in page.content()

    page.goto(f"{live_server.url}/admin/health/records/?sync={sync.pk}&q={broken_id}")
    record = page.locator("#record-list tbody tr")
    assert record.count() == 1 and "In sync" in record.inner_text()
    record.locator("a[href^='/admin/health/records/']").first.click()  # the name opens its story
    story = page.locator("#story").inner_text()
    assert "Failed in Sales org" in story and "Value too long" in story
    assert story.index("Created in Sales org") < story.index("Failed in Sales org"), story  # newest first
    href = page.locator("#open-a").get_attribute("href")
    assert f"/sandbox/hubspot/contacts/{portal.hub_id}/record/0-1/{broken_id}" in href
    page.goto(href)
    assert "Senior Vice President" in page.content()


def give_a_history(live_server, portal, sync) -> RecordLink:
    """A synced contact edited, broken, fixed and retried: a story of several runs."""
    link = RecordLink.objects.filter(object_sync=sync, status=LinkStatus.IN_SYNC, id_b__isnull=False).first()
    url = f"{live_server.url}/sandbox/hubspot/crm/v3/objects/contacts/{link.id_a}"
    headers = {"Authorization": f"Bearer {portal.private_token}"}
    for props in ({"firstname": "Alexandra", "phone": "+44 20 7946 0958"}, {"jobtitle": LONG_TITLE},
                  {"jobtitle": "Head of Partnerships"}):
        assert requests.patch(url, json={"properties": props}, headers=headers, timeout=10).status_code == 200
        run_sync(sync.pk)
    return RecordLink.objects.get(pk=link.pk)


def shots_dir(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("SHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_the_pages_look_right_with_hundreds_of_records_for_each_role(browser, live_server, tmp_path):
    portal, hubspot, salesforce = connect(live_server, 990_302, "health-shots", contacts=400, companies=120,
                                          sf_contacts=150, sf_accounts=40)
    broken = break_title(portal, 7)
    long_name = "Maximilian Alexander-Konstantin von Hohenzollern-Sigmaringen-Wittelsbach"
    first = broken[0]
    first.properties = {**first.properties, "firstname": long_name, "lastname": "<script>alert(1)</script>"}
    first.save(update_fields=["properties"])
    companies, contacts = new_sync(hubspot, salesforce, "companies"), new_sync(hubspot, salesforce, "contacts")
    # Industries differ between the apps; left unmapped they would fail most companies.
    companies.field_mappings.filter(field_a="industry").update(enabled=False)
    run_sync(companies.pk)
    run_sync(contacts.pk)
    assert RecordLink.objects.filter(object_sync=contacts, status=LinkStatus.FAILING).count() >= 7
    story = give_a_history(live_server, portal, contacts)
    # A second portal whose token was revoked: its runs fail as a whole, shown as a banner.
    revoked = Connection.objects.create(kind="hubspot", name="Events portal (HubSpot US)",
                                        base_url=hubspot.base_url, credentials={"access_token": "revoked-token"},
                                        options=hubspot.options)
    events = ObjectSync.objects.create(connection_a=revoked, connection_b=salesforce, object_type="contacts",
                                       name="Contacts: events portal <-> sales org", state=ObjectSync.State.ACTIVE)
    run_sync(events.pk)
    folder = shots_dir(tmp_path)
    for group in ("Support", "Sync admins"):
        context = browser.new_context(viewport=SIZE)
        page = login(context.new_page(), live_server, group)
        role = group.replace(" ", "-").lower()
        for name, path in [("overview", "/admin/health/"), ("errors", f"/admin/health/sync/{contacts.pk}/errors/"),
                           ("records", "/admin/health/records/"),
                           ("story", f"/admin/health/records/{story.pk}/"),
                           ("charts", f"/admin/health/sync/{contacts.pk}/activity/"), ("index", "/admin/")]:
            page.goto(live_server.url + path)
            assert "Traceback" not in page.content() and "<script>alert(1)" not in page.content()
            if name == "overview":
                assert "the last run failed as a whole" in page.locator(f"#banner-{events.pk}").inner_text()
            page.screenshot(path=str(folder / f"{name}-{role}.png"))
        context.close()
    gate.reset_rate_limits()
