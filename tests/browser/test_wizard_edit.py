"""Editing a sync through the same steps, turning it off and on with confirmation, deleting a
draft; and what an editor (who may not turn syncs on) and Support see."""

import pytest
from django.contrib.auth.models import Group, User

from syncrules.models import ObjectSync
from tests.browser.wizard_support import Counter, connect_sandboxes, ensure_roles, login, select_object

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def staff(name: str, group: str) -> User:
    ensure_roles()
    user = User.objects.create_user(name, password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


def start_contacts(me, page):
    select_object(me)
    page.wait_for_selector("text=Field mappings")


def test_edit_turn_off_and_on_then_delete_a_draft(page, live_server, tmp_path):
    connect_sandboxes(live_server, contacts=40, sf_contacts=30)
    staff("sam", "Sync admins")
    page.set_viewport_size({"width": 1366, "height": 800})
    login(page, live_server, "sam")
    me = Counter(page, tmp_path)
    start_contacts(me, page)
    me.click("input[name=_next][value='Next: Limit']")
    me.click("input[name=_next][value='Next: Review']")
    me.click("button[name=_save][value=sync]", timeout=300_000)
    page.wait_for_selector("text=its initial sync has started", timeout=300_000)
    sync = ObjectSync.objects.get()

    me.click("text=Edit sync settings")
    me.check("input[name=direction][value=to_b]")
    me.choose("select[name=add_a]", value="city")
    me.choose("select[name=add_b]", value="MailingCity")
    me.click("input[name=_add]")
    page.wait_for_selector("text=Mapping added.")
    me.click("input[name=_next][value='Next: Limit']")
    me.click("input[name=_next][value='Next: Review']")
    page.wait_for_selector("text=Save and re-read both apps")
    me.shot("9-edit-review-reread")
    me.click("button[name=_save][value=reread]", timeout=300_000)
    page.wait_for_selector("text=both apps are being read again", timeout=300_000)
    assert "Data syncs only to Salesforce Sales." in page.inner_text("body")
    page.emulate_media(color_scheme="dark")  # the admin's own variables: native in the dark theme too
    page.reload()
    me.shot("9b-sync-page-dark")
    page.goto(f"{live_server.url}/admin/syncrules/objectsync/wizard/{sync.pk}/configure/")
    me.shot("9c-configure-dark")
    page.emulate_media(color_scheme="light")
    page.goto(f"{live_server.url}/admin/syncrules/objectsync/{sync.pk}/overview/")

    me.click("a.button:has-text('Turn off')")
    page.wait_for_selector("text=No run starts")
    me.shot("10-confirm-turn-off")
    sync.refresh_from_db()
    assert sync.state == "active"
    me.click("input[value='Yes, turn it off']")
    page.wait_for_selector("text=is off")
    me.click("a.button:has-text('Turn on')")
    me.click("input[value='Yes, turn it on']")
    page.wait_for_selector("text=is on: it runs within a minute")
    sync.refresh_from_db()
    assert sync.state == "active"

    page.goto(f"{live_server.url}/admin/")
    start_contacts(me, page)
    page.goto(f"{live_server.url}/admin/syncrules/objectsync/")
    page.wait_for_selector("text=Draft: finish setup")
    me.shot("11-list-with-draft")
    draft = ObjectSync.objects.get(state="draft")
    page.click(f"a[href$='/{draft.pk}/overview/']")
    page.wait_for_selector("text=Finish setup")
    me.click("a.button:has-text('Delete')")
    page.wait_for_selector("text=Nothing is deleted in HubSpot Marketing or Salesforce Sales")
    me.shot("12-confirm-delete")
    me.click("input[value='Yes, delete the sync']")
    page.wait_for_selector("text=Nothing was deleted in either app")
    assert list(ObjectSync.objects.values_list("pk", flat=True)) == [sync.pk]


def test_an_editor_saves_a_sync_off_and_support_only_reads_it(page, live_server, tmp_path):
    connect_sandboxes(live_server, contacts=20, sf_contacts=10)
    staff("eddie", "Sync editors")
    staff("sue", "Support")
    page.set_viewport_size({"width": 1366, "height": 800})
    login(page, live_server, "eddie")
    me = Counter(page, tmp_path)
    start_contacts(me, page)
    me.click("input[name=_next][value='Next: Limit']")
    me.choose("select[name=field_a]", value="date_of_birth")
    me.choose("select[name=operator_a]", value="gt")
    me.type("input[name=value_a]", "last year")
    me.click("button[name=_add_filter][value=a]")
    page.wait_for_selector("text=write it as 2026-01-31")
    me.shot("3b-limit-form-error")
    me.click("input[name=_next][value='Next: Review']")
    page.wait_for_selector("text=Save sync")
    me.shot("4b-review-editor")
    me.click("button[name=_save][value=save]")
    page.wait_for_selector("text=a Sync admin must turn it on")
    assert ObjectSync.objects.get().state == "off"

    page.context.clear_cookies()
    login(page, live_server, "sue")
    assert "Set up a sync" not in page.inner_text("body")
    page.goto(f"{live_server.url}/admin/syncrules/objectsync/")
    page.click("text=Contacts: HubSpot Marketing")
    page.wait_for_selector("text=Settings")
    body = page.inner_text("#content-main")
    assert "Edit sync settings" not in body and "Turn on" not in body and "Delete" not in body
    me.shot("13-sync-page-support")
