"""A person runs a sync from the admin and finds the record that failed, and why, in a browser.

The sync runs for real: the "Run now" action queues the django-q2 task (sync mode in tests), the
engine talks to the HubSpot and Salesforce sandboxes over HTTP, and the pages show its outcome.
"""

import pytest

from connectors.models import Connection
from sandbox.hubspot import gate
from sandbox.hubspot.models import CrmObject
from sandbox.hubspot.seed import ensure_portal, seed_records
from sandbox.salesforce.seed import seed_org
from syncrules.engine.mappings import create_default_mappings
from syncrules.models import LinkStatus, ObjectSync, SyncRun

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG_TITLE = "Senior Vice President " * 10  # 220 characters: Salesforce's Title takes 128


@pytest.fixture
def contact_sync(live_server):
    gate.reset_rate_limits()
    portal = ensure_portal(990_001, rate_limit_enabled=False)
    seed_records(portal, contacts=12)
    broken = CrmObject.objects.filter(portal=portal, object_type="contacts").exclude(email="").first()
    broken.properties = {**broken.properties, "jobtitle": LONG_TITLE}
    broken.save(update_fields=["properties"])
    org = seed_org("browser-run", contacts=5, accounts=2)
    sandbox = f"{live_server.url}/sandbox"
    hubspot = Connection.objects.create(
        kind="hubspot", name="Marketing portal", base_url=f"{sandbox}/hubspot",
        credentials={"access_token": portal.private_token},
        options={"client_rate_limit": False, "search_lag_seconds": 0},
    )
    salesforce = Connection.objects.create(
        kind="salesforce", name="Sales org", base_url=f"{sandbox}/salesforce",
        credentials={"access_token": org.access_token, "refresh_token": org.refresh_token,
                     "instance_url": f"{sandbox}/salesforce", "client_id": org.org.client_id,
                     "client_secret": org.org.client_secret},
    )
    sync = ObjectSync.objects.create(connection_a=hubspot, connection_b=salesforce, object_type="contacts",
                                     name="Contacts HubSpot <-> Salesforce", state=ObjectSync.State.ACTIVE)
    create_default_mappings(sync)
    # A job title the user deems essential: too long for Salesforce, the record fails (the
    # default policy would sync it without the title, with a warning).
    sync.field_mappings.filter(field_a="jobtitle").update(policy="fail_record")
    yield sync, str(broken.pk)
    gate.reset_rate_limits()


def test_run_now_syncs_and_the_failed_record_shows_its_category_and_hint(admin_login, contact_sync):
    sync, broken_id = contact_sync
    page = admin_login("/admin/syncrules/objectsync/")
    page.check(f"input[name=_selected_action][value='{sync.pk}']")
    page.select_option("select[name=action]", "run_now")
    page.click("button[name=index]")
    page.wait_for_selector("text=Queued 1 run(s)")

    run = SyncRun.objects.get(object_sync=sync)
    assert run.status == SyncRun.Status.PARTIAL, run.error
    assert run.created > 0 and run.failed == 1

    page.click("text=Sync runs")
    page.wait_for_url("**/admin/syncrules/syncrun/")  # not the object sync list's rows, still shown
    row = page.locator("#result_list tbody tr").first
    assert "Finished with failures" in row.inner_text()

    page.goto(page.url.split("/admin/")[0] + f"/admin/syncrules/recordlink/?status__exact={LinkStatus.FAILING}")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    assert broken_id in rows.first.inner_text()
    category = rows.first.locator("span[title]")
    assert category.inner_text() == "Value too long"
    assert "Shorten it" in category.get_attribute("title")
    assert "Traceback" not in page.content()
