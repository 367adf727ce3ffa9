"""Wizard steps 3 and 4: Limit (email, matching, filters) and Review (summary, Save and sync)."""

import pytest
from django.urls import reverse

from syncrules.models import ObjectSync, SyncFilter, SyncRun
from syncrules.tests.wizard_helpers import connect, start, url, user_in

pytestmark = pytest.mark.django_db


def walk_to(client, sync, step):
    for current, nxt in (("configure", "limit"), ("limit", "review")):
        if current == step:
            return
        client.post(url(current, sync), {"_next": "1", "limit_form": "1", "require_email": "on",
                                         "match_records": "on"})
        if nxt == step:
            return


@pytest.fixture
def draft(client, apps):
    client.force_login(user_in("Sync editors"))
    a, b = connect(apps)
    sync = start(client, a, b)
    walk_to(client, sync, "limit")
    return sync


def test_limit_explains_matching_and_saves_the_email_and_matching_switches(client, draft):
    html = client.get(url("limit", draft)).content.decode()
    assert "Contacts are matched by email address" in html
    assert "Only sync contacts with an email address" in html and "only decide whether a record enters" in html
    client.post(url("limit", draft), {"limit_form": "1", "_save": "1"})
    draft.refresh_from_db()
    assert not draft.require_email and not draft.match_records


def test_a_filter_is_added_per_direction_with_an_option_by_its_label(client, draft):
    response = client.post(url("limit", draft), {"limit_form": "1", "require_email": "on", "match_records": "on",
                                                 "field_a": "ha_stage", "operator_a": "eq", "value_a": "customer",
                                                 "_add_filter": "a"})
    assert response.status_code == 302
    added = SyncFilter.objects.get()
    assert (added.side, added.field, added.operator, added.value) == ("a", "ha_stage", "eq", "ha_customer")
    html = client.get(url("limit", draft)).content.decode()
    assert "Stage is equal to <strong>Customer</strong>" in html
    client.post(url("limit", draft), {"limit_form": "1", "_remove_filter": added.pk})
    assert not SyncFilter.objects.exists()


@pytest.mark.parametrize("field, operator, value, text", [
    ("ha_score", "gt", "many", "is a number"),
    ("ha_stage", "eq", "partner", "is not an option of Stage"),
    ("ha_score", "contains", "1", "Choose a condition that suits Score"),
    ("ha_birthday", "gt", "31/01/2026", "write it as 2026-01-31"),
    ("ha_vip", "eq", "maybe", "enter true or false"),
    ("ha_first", "eq", "", "Enter a value"),
    ("", "eq", "x", "Choose a field"),
    ("ha_score", "in", "1, two", "is a number"),
])
def test_a_bad_filter_gets_a_form_error_and_is_not_saved(client, draft, field, operator, value, text):
    response = client.post(url("limit", draft), {"limit_form": "1", "field_a": field,
                                                 "operator_a": operator, "value_a": value, "_add_filter": "a"})
    assert response.status_code == 400
    html = response.content.decode()
    assert text in html and "wz-field-error" in html
    assert not SyncFilter.objects.exists()


def test_known_needs_no_value_and_numbers_take_a_list(client, draft):
    client.post(url("limit", draft), {"field_b": "sf_first", "operator_b": "known", "_add_filter": "b"})
    client.post(url("limit", draft), {"field_b": "sf_score", "operator_b": "in", "value_b": "1, 2.5", "_add_filter": "b"})
    assert list(SyncFilter.objects.values_list("operator", "value")) == [("known", ""), ("in", "1,2.5")]


def test_review_summarises_every_rule_in_plain_words(client, draft):
    SyncFilter.objects.create(object_sync=draft, side="a", field="ha_score", operator="gt", value="10")
    walk_to(client, draft, "review")
    html = client.get(url("review", draft)).content.decode()
    for text in ("Contacts between Marketing HubSpot and Sales Salesforce.", "Data syncs between Marketing HubSpot",
                 "Email \u27f7 Email", "Only contacts with an email address sync.",
                 "Contacts from Marketing HubSpot sync only if Score is greater than 10",
                 "Every contact from Sales Salesforce may sync.", "Contacts \u2192 Companies"):
        assert text in html, text


def test_an_editor_who_may_not_turn_syncs_on_saves_it_off(client, draft):
    walk_to(client, draft, "review")
    html = client.get(url("review", draft)).content.decode()
    assert 'value="sync"' not in html and "Save sync</button>" in html
    response = client.post(url("review", draft), {"_save": "save"}, follow=True)
    draft.refresh_from_db()
    assert draft.state == ObjectSync.State.OFF and draft.wizard_step == "done"
    assert "a Sync admin must turn it on" in response.content.decode()
    assert not SyncRun.objects.exists()


def test_save_and_sync_turns_the_sync_on_and_queues_the_initial_run(client, apps, django_capture_on_commit_callbacks):
    client.force_login(user_in("Sync admins"))
    a, b = connect(apps)
    apps.a.create("contacts", email="ada@example.com", first="Ada")
    sync = start(client, a, b)
    walk_to(client, sync, "review")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("review", sync), {"_save": "sync"})
    assert response["Location"] == reverse("admin:syncrules_objectsync_page", args=[sync.pk])
    sync.refresh_from_db()
    assert sync.state == ObjectSync.State.ACTIVE
    run = SyncRun.objects.get(object_sync=sync)
    assert run.trigger == SyncRun.Trigger.WIZARD and run.kind == SyncRun.Kind.INITIAL
    assert run.created == 1, (run.status, run.error, run.failed, run.excluded)
    page = client.get(response["Location"]).content.decode()
    assert "Initial sync" in page and "started by Save and sync" in page


def test_save_refuses_a_sync_with_every_mapping_off(client, draft):
    walk_to(client, draft, "review")
    draft.field_mappings.update(enabled=False)
    client.post(url("review", draft), {"_save": "save"})
    draft.refresh_from_db()
    assert draft.state == ObjectSync.State.DRAFT


def test_an_edited_sync_offers_to_read_both_apps_again(client, apps, django_capture_on_commit_callbacks):
    client.force_login(user_in("Sync admins"))
    a, b = connect(apps)
    sync = start(client, a, b)
    walk_to(client, sync, "review")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("review", sync), {"_save": "sync"})
    assert "re-read" not in client.get(url("review", sync)).content.decode()
    client.post(url("configure", sync), {"add_a": "ha_score", "add_b": "sf_first", "_add": "1"})
    html = client.get(url("review", sync)).content.decode()
    assert "Save and re-read both apps" in html
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("review", sync), {"_save": "reread"})
    assert SyncRun.objects.filter(object_sync=sync).count() == 2


def test_review_previews_the_initial_run_and_its_figures_hold(client, apps, django_capture_on_commit_callbacks):
    client.force_login(user_in("Sync admins"))
    a, b = connect(apps)
    for n in range(3):
        apps.a.create("contacts", email=f"p{n}@example.com", first=f"P{n}")
    apps.a.create("contacts", first="No email")
    apps.b.create("contacts", email="p0@example.com", last="Zero")
    sync = start(client, a, b)
    walk_to(client, sync, "review")
    assert "Preview the initial sync" in client.get(url("review", sync)).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("review", sync), {"_preview": "1"})
    html = client.get(url("review", sync)).content.decode()
    preview = sync.previews.get()
    assert preview.status == "done", preview.error
    assert preview.result["b"]["create"] == 2 and preview.result["matched"] == 1
    assert "pairs would be matched" in html and "p0@example.com" in html and "no email address" in html
    client.post(url("configure", sync), {"direction": "to_b", "_save": "1"})
    assert "The settings changed since this preview" in client.get(url("review", sync)).content.decode()
    client.post(url("configure", sync), {"direction": "two_way", "conflict_winner": "a", "_save": "1"})
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("review", sync), {"_save": "sync"})
    run = SyncRun.objects.get(object_sync=sync)
    assert (run.matched, run.excluded) == (1, 1)
    assert run.outcomes.filter(action="created", side="b").count() == preview.result["b"]["create"]
