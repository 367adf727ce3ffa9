"""A person sets up and runs a Salesforce deal sync in the admin, then resyncs a deleted deal.

Everything runs for real: the actions call the apps (the sandboxes over HTTP), "Run now" queues
the django-q2 tasks (sync mode in tests), and the pages show what happened.
"""

import pytest

from connectors.base import DEALS
from connectors.models import Connection
from sandbox.hubspot import gate
from sandbox.hubspot.seed import ensure_portal
from sandbox.salesforce.seed import seed_org
from syncrules.engine.mappings import create_default_mappings
from syncrules.models import FieldMapping, LinkStatus, ObjectSync, RecordLink, SyncRun

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def syncs(live_server):
    gate.reset_rate_limits()
    portal = ensure_portal(990_101, rate_limit_enabled=False)
    org = seed_org("browser-deals", accounts=3, contacts=6, opportunities=5, record_types=2, roles=(1, 2),
                   contact_account_share=1.0)
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
    made = {}
    for kind, name in (("deals", "Deals"), ("contacts", "Contacts"), ("companies", "Companies")):
        made[kind] = ObjectSync.objects.create(connection_a=hubspot, connection_b=salesforce, object_type=kind,
                                               name=name, state=ObjectSync.State.ACTIVE, sync_deals=kind == "deals",
                                               # HubSpot deletions are read at this interval (300 s by default)
                                               options={"association_sweep_seconds": 0})
        create_default_mappings(made[kind])
    # HubSpot's and Salesforce's options for these barely overlap; value maps are the wizard's job.
    FieldMapping.objects.filter(field_a__in=["industry", "dealtype"]).delete()
    yield made, hubspot
    gate.reset_rate_limits()


def test_a_deal_sync_is_set_up_run_and_a_deleted_deal_resynced_from_the_admin(admin_login, syncs):
    made, hubspot = syncs
    deals = made["deals"]
    client = hubspot.connector()
    page = admin_login("/admin/syncrules/objectsync/")
    page.check(f"input[name=_selected_action][value='{deals.pk}']")
    page.select_option("select[name=action]", "check_prerequisites")
    page.click("button[name=index]")
    page.wait_for_selector("text=Map at least one deal stage")
    assert "A company sync between the same apps is on" in page.inner_text("body")

    page.check(f"input[name=_selected_action][value='{deals.pk}']")
    page.select_option("select[name=action]", "mirror_pipelines")
    page.click("button[name=index]")
    page.wait_for_selector("text=created 2 pipeline(s), mapped 2")

    page.check("#action-toggle")  # every sync: the action runs them companies, contacts, deals
    page.select_option("select[name=action]", "run_now")
    page.click("button[name=index]")
    page.wait_for_selector("text=Queued 3 run(s)")
    run = SyncRun.objects.get(object_sync=deals)
    assert run.status == SyncRun.Status.SUCCEEDED and run.created == 5 and run.waiting == 0, run.error
    assert run.associated >= 10  # each deal's company and contacts, in this same run

    page.check(f"input[name=_selected_action][value='{deals.pk}']")
    page.select_option("select[name=action]", "check_prerequisites")
    page.click("button[name=index]")
    page.wait_for_selector("text=deal stages are mapped")
    assert "Map at least one" not in page.inner_text("body")

    link = RecordLink.objects.filter(object_sync=deals).first()
    assert client.delete(DEALS, [link.id_a])[0].ok
    page.goto(page.url.split("/admin/")[0] + "/admin/syncrules/objectsync/")
    page.check(f"input[name=_selected_action][value='{deals.pk}']")
    page.select_option("select[name=action]", "run_now")
    page.click("button[name=index]")
    page.wait_for_selector("text=Queued 1 run(s)")

    page.goto(page.url.split("/admin/")[0] + f"/admin/syncrules/recordlink/?status__exact={LinkStatus.DELETED_A}")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1 and "Record deleted in the other app" in rows.first.inner_text()
    page.check(f"input[name=_selected_action][value='{link.pk}']")
    page.select_option("select[name=action]", "resync_deleted")
    page.click("button[name=index]")
    page.wait_for_selector("text=Queued the resync of 1 deleted record(s)")
    link.refresh_from_db()
    assert link.status == LinkStatus.IN_SYNC
    assert link.id_a in client.read(DEALS, [link.id_a])
    assert "Traceback" not in page.content()
    client.client.http.session.close()  # no kept-alive socket may outlive the live server's thread
