"""A new user sets up a two-way contact sync HubSpot sandbox <-> Salesforce sandbox in the wizard:
one custom mapping with a value map, one filter, the preview's figures, Save and sync, and the
initial run doing what the preview said. Counts pages, clicks and typed fields on the way."""

import pytest

from connectors.base import CONTACTS
from syncrules.models import ObjectSync, SyncRun

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

from tests.browser.wizard_support import Counter, connect_sandboxes  # noqa: E402


@pytest.fixture
def apps(live_server):
    hubspot, salesforce = connect_sandboxes(live_server, contacts=150, sf_contacts=90)
    # 25 people exist in both apps already: matched by email, never duplicated.
    hub = hubspot.connector()
    people = next(iter(hub.read_changes(CONTACTS, None))).records[:25]
    salesforce.connector().write(CONTACTS, creates=[
        {"Email": r.values["email"], "LastName": r.values.get("lastname") or "Known", "FirstName": "Matched"}
        for r in people if r.values.get("email")])
    # Three whose first name is longer than Salesforce's 40 characters: the preview says they fail.
    hub.write(CONTACTS, creates=[{"email": f"long.name{n}@example.com", "lastname": "Long",
                                  "firstname": "Maximiliana-Alexandrina Bartholomew-" + "x" * (10 + n),
                                  "lifecyclestage": "lead"} for n in range(3)])
    return hubspot, salesforce


def test_a_new_user_sets_up_a_two_way_contact_sync(admin_login, page, apps, tmp_path):
    page.set_viewport_size({"width": 1366, "height": 800})
    admin_login("/admin/")
    me = Counter(page, tmp_path)
    me.pages = 0  # from "connected both apps", on the admin index
    me.shot("0-admin-index")
    me.click("text=Set up a sync")
    # 1. Select object
    me.choose("select[name=connection_a]", label="HubSpot Marketing (HubSpot)")
    me.choose("select[name=connection_b]", label="Salesforce Sales (Salesforce)")
    me.check("input[name=object_type][value=contacts]")
    me.shot("1-select-object")
    me.click("input[name=_next]")
    # 2. Configure: the default mappings are there; add Lifecycle Stage <-> Lead Source
    page.wait_for_selector("text=Data syncs between HubSpot Marketing and Salesforce Sales")
    me.choose("select[name=add_a]", value="lifecyclestage")
    me.choose("select[name=add_b]", value="LeadSource")
    me.click("input[name=_add]")
    page.wait_for_selector("text=Mapping added.")
    me.shot("2-configure")
    me.click("tr:has-text('Lifecycle Stage') >> text=Value map")
    for name, value in (("a_to_b_0", "Purchased List"), ("a_to_b_1", "Web"), ("a_to_b_4", "Phone Inquiry"),
                        ("a_to_b_5", "Partner Referral"), ("b_to_a_0", "lead"), ("b_to_a_1", "opportunity"),
                        ("b_to_a_2", "customer"), ("b_to_a_3", "subscriber")):
        me.choose(f"select[name={name}]", value=value)
    me.shot("2b-value-map")
    me.click("input[type=submit][value='Save value map']")
    page.wait_for_selector("text=Value map of Lifecycle Stage saved.")
    me.click("input[name=_next][value='Next: Limit']")
    # 3. Limit: only HubSpot contacts that are not mere subscribers
    page.wait_for_selector("text=Contacts are matched by email address")
    me.choose("select[name=field_a]", value="lifecyclestage")
    me.choose("select[name=operator_a]", value="neq")
    me.choose("select[name=option_a]", value="subscriber")
    me.click("button[name=_add_filter][value=a]")
    page.wait_for_selector("text=Filter added.")
    me.shot("3-limit")
    me.click("input[name=_next][value='Next: Review']")
    # 4. Review: the summary, then the preview
    page.wait_for_selector("text=Lifecycle Stage \u27f7 Lead Source")
    me.click("button[name=_preview]", timeout=120_000)
    page.wait_for_selector("text=pairs would be matched", timeout=120_000)
    me.shot("4-review-preview")
    sync = ObjectSync.objects.get()
    preview = sync.previews.get()
    assert preview.status == "done", preview.error
    result = preview.result
    assert result["matched"] >= 20 and result["a"]["excluded"].get("filter", 0) > 0
    # Three first names too long for Salesforce: under the mappings' default policy the records
    # sync without them, with a warning each (a preview says so before anything is written).
    assert sum(w["count"] for w in result["b"]["warnings"]) == 3 and result["b"]["failures"] == []
    assert "3 \u00d7 Value too long" in page.inner_text("#preview")
    assert f"{result['matched']}</span> pairs would be matched" in page.content()
    me.click("button[name=_save][value=sync]", timeout=300_000)
    page.wait_for_selector("text=its initial sync has started", timeout=300_000)
    me.shot("5-sync-page")
    print(f"\nFrom 'connected both apps' to 'a contact sync running': {me.report()}")

    sync.refresh_from_db()
    assert sync.state == ObjectSync.State.ACTIVE
    run = SyncRun.objects.get(object_sync=sync)
    assert run.trigger == SyncRun.Trigger.WIZARD and run.status in ("succeeded", "partial"), run.error
    created = {side: run.outcomes.filter(action="created", side=side).count() for side in "ab"}
    assert created == {"a": result["a"]["create"], "b": result["b"]["create"]}
    assert run.matched == result["matched"]
    excluded = sum(result[s]["excluded"].get(k, 0) for s in "ab" for k in result[s]["excluded"])
    assert run.excluded == excluded
    failed = sum(f["count"] for s in "ab" for f in result[s]["failures"])
    assert run.failed == failed
    assert run.warned == sum(w["count"] for s in "ab" for w in result[s]["warnings"]) == 3
    body = page.inner_text("body")
    assert "Initial sync" in body and "Save and sync" in body
