"""Companies, then deals, through the wizard: "Sync more data", the deal prerequisites, pipelines
auto-mapped, the association mappings view, and both initial runs."""

import pytest

from syncrules.models import ObjectSync, StageMapping, SyncRun
from tests.browser.wizard_support import Counter, connect_sandboxes, select_object

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def walk_to_review_and_save(me, page):
    me.click("input[name=_next][value='Next: Limit']")
    me.click("input[name=_next][value='Next: Review']")
    page.wait_for_selector("text=Summary")
    me.click("button[name=_save][value=sync]", timeout=300_000)
    page.wait_for_selector("text=its initial sync has started", timeout=300_000)


def test_companies_then_deals_with_auto_mapped_stages(admin_login, page, live_server, tmp_path):
    connect_sandboxes(live_server, companies=25, deals=12, sf_accounts=15, opportunities=10)
    page.set_viewport_size({"width": 1366, "height": 800})
    admin_login("/admin/")
    me = Counter(page, tmp_path)
    select_object(me, "companies")
    page.wait_for_selector("text=Field mappings")
    walk_to_review_and_save(me, page)
    companies = ObjectSync.objects.get(object_type="companies")
    assert companies.runs.get().status in ("succeeded", "partial")

    page.goto(f"{live_server.url}/admin/")
    me.click("text=Sync more data: HubSpot Marketing")
    me.check("input[name=object_type][value=deals]")
    me.shot("6-select-deals")
    me.click("input[name=_next]")
    page.wait_for_selector("text=Before deals can sync")
    body = page.inner_text("body")
    assert "A company sync between the same apps is on" in body
    assert "Turn on a contact sync between the same apps first" in body
    me.shot("6b-deal-prerequisites")
    me.click("input[name=_next]")
    page.wait_for_selector("#deals")
    me.check("input[name=sync_deals]")
    me.click("input[name=_map_pipelines]")
    page.wait_for_selector("text=auto-map paired")
    deals = ObjectSync.objects.get(object_type="deals")
    pairs = dict(StageMapping.objects.filter(pipeline_mapping__object_sync=deals).values_list("stage_a", "stage_b"))
    assert pairs.get("closedwon") == "Closed Won" and pairs.get("closedlost") == "Closed Lost"
    me.shot("7-configure-deals")
    me.click("text=Association mappings")
    page.wait_for_selector("text=Associations this sync keeps")
    body = page.inner_text("#content-main")
    assert "Deals \u2192 Companies" in body and "Salesforce Sales: Opportunity \u2192 Account" in body
    assert "Inactive: no contacts sync runs" in body
    me.shot("7b-association-mappings")
    walk_to_review_and_save(me, page)
    me.shot("8-deal-sync-page")
    deals.refresh_from_db()
    assert deals.state == "active" and deals.sync_deals
    run = SyncRun.objects.get(object_sync=deals)
    assert run.status in ("succeeded", "partial"), run.error
    assert run.created > 0
