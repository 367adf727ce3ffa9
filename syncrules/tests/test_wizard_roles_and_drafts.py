"""Who may use the wizard, drafts in two tabs, other people's drafts, steps out of order, bad
POST data on every step, and a sync's page: turn off/on and delete with confirmation."""

import pytest
from django.urls import reverse

from syncrules.models import ObjectSync, SyncRun
from syncrules.tests.factories import make_sync
from syncrules.tests.wizard_helpers import connect, start, url, user_in

pytestmark = pytest.mark.django_db
NEW = "admin:syncrules_objectsync_wizard"
STEPS = ("select", "configure", "limit", "review")


def test_support_sees_syncs_read_only_and_no_wizard_buttons(client, apps):
    a, b = connect(apps)
    sync = ObjectSync.objects.create(connection_a=a, connection_b=b, object_type="contacts", state="active")
    client.force_login(user_in("Support"))
    for page in ("admin:index", "admin:syncrules_objectsync_changelist"):
        html = client.get(reverse(page)).content.decode()
        assert "Set up a sync" not in html and reverse(NEW) not in html
    html = client.get(reverse("admin:syncrules_objectsync_page", args=[sync.pk])).content.decode()
    assert "Contacts between Marketing HubSpot and Sales Salesforce." in html
    assert "Edit sync settings" not in html and "Turn off" not in html and "Delete" not in html
    assert client.get(reverse(NEW)).status_code == 302
    for step in STEPS:
        assert client.post(url(step, sync), {"_next": "1", "direction": "to_a"}).status_code == 302
    sync.refresh_from_db()
    assert sync.direction == "two_way"
    assert client.post(reverse("admin:syncrules_objectsync_turn_off", args=[sync.pk])).status_code == 302
    assert client.post(reverse("admin:syncrules_objectsync_delete_sync", args=[sync.pk])).status_code == 302
    sync.refresh_from_db()
    assert sync.state == "active"


def test_editors_and_admins_get_the_entry_points(client):
    client.force_login(user_in("Sync editors"))
    assert "Set up a sync" in client.get(reverse("admin:index")).content.decode()
    assert "Set up a sync" in client.get(reverse("admin:syncrules_objectsync_changelist")).content.decode()
    assert client.get(reverse("admin:syncrules_objectsync_add"))["Location"] == reverse(NEW)


def test_two_tabs_on_two_drafts_never_collide(client, apps):
    client.force_login(user_in("Sync editors"))
    a, b = connect(apps)
    first, second = start(client, a, b), start(client, a, b, "companies")
    client.post(url("configure", first), {"direction": "to_a", "_save": "1"})
    client.post(url("configure", second), {"direction": "to_b", "_save": "1"})
    first.refresh_from_db(), second.refresh_from_db()
    assert (first.direction, second.direction) == ("to_a", "to_b")
    assert first.object_type == "contacts" and second.object_type == "companies"
    # a reload keeps everything, and Back (the select step) shows the draft's own choice
    assert 'value="contacts" checked' in client.get(url("select", first)).content.decode()
    assert 'value="to_a" checked' in client.get(url("configure", first)).content.decode()


def test_someone_elses_draft_and_a_step_out_of_order_are_refused(client, apps):
    a, b = connect(apps)
    client.force_login(user_in("Sync editors", "alice"))
    draft = start(client, a, b)
    client.force_login(user_in("Sync editors", "bob"))
    response = client.post(url("configure", draft), {"direction": "to_a", "_save": "1"}, follow=True)
    assert "belongs to someone else" in response.content.decode()
    draft.refresh_from_db()
    assert draft.direction == "two_way"
    client.force_login(draft.created_by)
    response = client.post(url("review", draft), {"_save": "sync"}, follow=True)
    assert "Finish the earlier steps first." in response.content.decode()
    assert ObjectSync.objects.get().state == "draft"


def test_unknown_ids_give_a_message_not_a_500(client):
    client.force_login(user_in("Sync editors"))
    for step in STEPS:
        response = client.get(url(step, type("S", (), {"pk": 987654})), follow=True)
        assert response.status_code == 200 and "There is no sync with id 987654" in response.content.decode()
    assert client.get(reverse("admin:syncrules_objectsync_page", args=[987654])).status_code == 302


GARBAGE = [
    {},
    {"_next": "1", "direction": "sideways", "conflict_winner": "c", "mapping_ids": ["x", "1e9"], "enabled": "y"},
    {"_add": "1", "add_a": "\x00", "add_b": "<script>"},
    {"_remove": "not-a-number"}, {"_remove_filter": "-1"}, {"_add_filter": "z"},
    {"_add_filter": "a", "field_a": "ha_score", "operator_a": "in", "value_a": ",,,"},
    {"_map_pipelines": "1", "pipeline_a": "nope"}, {"_automap": "x"}, {"_remove_pipeline": ""}, {"_mirror": "1"},
    {"pipeline_ids": ["1", "x"], "stage_1_0": "nope"},
    {"_save": "reread"}, {"_preview": "1"},
    {"connection_a": "1' OR 1=1", "connection_b": ["1", "2"], "object_type": "\u00e9"},
]


@pytest.mark.parametrize("object_type", ["contacts", "deals"])
def test_every_step_survives_malformed_post_data(client, apps, object_type):
    client.force_login(user_in("Sync admins"))
    a, b = connect(apps)
    sync = start(client, a, b, object_type)
    sync.wizard_step = "review"
    sync.save()
    mapping = sync.field_mappings.first()
    targets = [url(step, sync) for step in STEPS] + [reverse(NEW), url("configure", sync) + f"values/{mapping.pk}/"]
    targets += [reverse(f"admin:syncrules_objectsync_{name}", args=[sync.pk])
                for name in ("turn_off", "turn_on", "run", "page")]
    for target in targets:
        for data in GARBAGE:
            response = client.post(target, data)
            assert response.status_code < 500, (target, data)
    assert ObjectSync.objects.filter(pk=sync.pk).exists()


def test_turning_off_and_on_asks_for_confirmation_first(client):
    sync = make_sync(state="active")
    client.force_login(user_in("Sync admins"))
    page = reverse("admin:syncrules_objectsync_page", args=[sync.pk])
    off = reverse("admin:syncrules_objectsync_turn_off", args=[sync.pk])
    assert off in client.get(page).content.decode()
    html = client.get(off).content.decode()
    assert "No run starts" in html and "Yes, turn it off" in html
    sync.refresh_from_db()
    assert sync.state == "active"  # GET changes nothing
    assert client.post(off)["Location"] == page
    sync.refresh_from_db()
    assert sync.state == "off"
    on = reverse("admin:syncrules_objectsync_turn_on", args=[sync.pk])
    assert "resumes from where it stopped" in client.get(on).content.decode()
    client.post(on)
    sync.refresh_from_db()
    assert sync.state == "active" and sync.next_run_at is not None


def test_an_editor_may_not_turn_syncs_on_or_off(client):
    sync = make_sync(state="off")
    client.force_login(user_in("Sync editors"))
    assert "Turn on" not in client.get(reverse("admin:syncrules_objectsync_page", args=[sync.pk])).content.decode()
    client.post(reverse("admin:syncrules_objectsync_turn_on", args=[sync.pk]))
    sync.refresh_from_db()
    assert sync.state == "off"


def test_a_draft_cannot_be_turned_on_or_run(client):
    sync = make_sync()
    client.force_login(user_in("Sync admins"))
    client.post(reverse("admin:syncrules_objectsync_turn_on", args=[sync.pk]))
    client.post(reverse("admin:syncrules_objectsync_run", args=[sync.pk]))
    sync.refresh_from_db()
    assert sync.state == "draft" and not SyncRun.objects.exists()
    html = client.get(reverse("admin:syncrules_objectsync_changelist")).content.decode()
    assert "Draft: finish setup" in html


def test_deleting_says_what_is_kept_and_deletes_only_on_post(client):
    sync = make_sync(state="active")
    client.force_login(user_in("Sync editors"))
    delete = reverse("admin:syncrules_objectsync_delete_sync", args=[sync.pk])
    html = client.get(delete).content.decode()
    assert "Nothing is deleted in HubSpot portal or Salesforce org" in html
    assert ObjectSync.objects.exists()
    response = client.post(delete, follow=True)
    assert "Nothing was deleted in either app" in response.content.decode()
    assert not ObjectSync.objects.exists()


def test_the_raw_form_is_for_superusers_with_internals_read_only(client, admin_user):
    sync = make_sync(state="active")
    change = reverse("admin:syncrules_objectsync_change", args=[sync.pk])
    client.force_login(user_in("Sync editors"))
    assert client.get(change)["Location"] == reverse("admin:syncrules_objectsync_page", args=[sync.pk])
    client.force_login(admin_user)
    html = client.get(change).content.decode()
    for name in ("state", "wizard_step", "options", "next_run_at", "interval_seconds", "cursor_a"):
        assert f'name="{name}"' not in html, name
    assert 'name="direction"' in html


def test_the_sync_page_reads_the_apps_labels_once_while_it_refreshes(client, apps):
    from django.core.cache import cache

    cache.clear()
    a, b = connect(apps)
    client.force_login(user_in("Sync admins"))
    sync = start(client, a, b)
    sync.turn_off()
    before = apps.a.calls_by_method["fields"]
    page = reverse("admin:syncrules_objectsync_page", args=[sync.pk])
    for _ in range(3):
        assert "Email \u27f7 Email" in client.get(page).content.decode()
    assert apps.a.calls_by_method["fields"] == before + 1
    cache.clear()
