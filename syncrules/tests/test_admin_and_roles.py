"""Every admin page renders, and each role sees and does only what FEATURES.md gives it."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.urls import reverse

from connectors.models import Connection
from syncrules.models import (
    FieldMapping,
    PipelineMapping,
    RecordLink,
    RecordOutcome,
    StageMapping,
    SyncFilter,
    SyncRun,
)
from syncrules.tests.factories import make_sync

pytestmark = pytest.mark.django_db

SECRET = "pat-na1-secret-token-value"


@pytest.fixture
def world():
    sync = make_sync()
    sync.connection_a.credentials = {"access_token": SECRET}
    sync.connection_a.save()
    FieldMapping.objects.create(object_sync=sync, field_a="email", field_b="Email", is_default=True)
    SyncFilter.objects.create(object_sync=sync, side="a", field="lifecyclestage", operator="eq", value="lead")
    pipeline = PipelineMapping.objects.create(object_sync=sync, pipeline_a="default", pipeline_b="012A")
    StageMapping.objects.create(pipeline_mapping=pipeline, stage_a="closedwon", stage_b="Closed Won")
    link = RecordLink.objects.create(object_sync=sync, id_a="1", id_b="003A", status="failing",
                                     error_category="value_too_long", last_error="too long")
    run = SyncRun.objects.create(object_sync=sync, kind="initial", processed=5, estimated_total=10)
    RecordOutcome.objects.create(run=run, object_sync=sync, link=link, action="failed", category="value_too_long")
    return sync


def user_in(group: str) -> User:
    user = User.objects.create_user(group.replace(" ", "").lower(), password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


def test_every_changelist_and_change_page_renders_for_a_superuser(client, admin_user, world):
    client.force_login(admin_user)
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        changelist = client.get(reverse("admin:%s_%s_changelist" % info))
        assert changelist.status_code == 200, info
        obj = model_admin.get_queryset(changelist.wsgi_request).first()
        if obj is not None and model._meta.app_label in {"connectors", "syncrules"}:
            change = client.get(reverse("admin:%s_%s_change" % info, args=[obj.pk]))
            assert change.status_code == 200, info
        if model_admin.has_add_permission(changelist.wsgi_request):
            assert client.get(reverse("admin:%s_%s_add" % info)).status_code == 200, info


def test_the_errored_records_list_shows_the_category_and_its_hint(client, admin_user, world):
    client.force_login(admin_user)
    page = client.get(reverse("admin:syncrules_recordlink_changelist")).content.decode()
    assert "Value too long" in page and "Shorten it" in page


def test_the_connection_page_never_shows_the_secret(client, admin_user, world):
    client.force_login(admin_user)
    page = client.get(reverse("admin:connectors_connection_change", args=[world.connection_a.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert SECRET not in html
    assert 'name="cred_access_token"' in html and "Leave blank to keep it" in html


def test_saving_a_connection_with_a_blank_secret_keeps_the_stored_one(client, admin_user, world):
    client.force_login(admin_user)
    conn = world.connection_a
    url = reverse("admin:connectors_connection_change", args=[conn.pk])
    response = client.post(url, {"name": "Renamed", "base_url": "", "options": "{}", "cred_access_token": ""})
    assert response.status_code == 302, response.content.decode()[:2000]
    conn.refresh_from_db()
    assert conn.name == "Renamed" and conn.credentials["access_token"] == SECRET


def test_adding_a_connection_asks_for_the_chosen_apps_credentials(client, admin_user):
    client.force_login(admin_user)
    url = reverse("admin:connectors_connection_add") + "?kind=hubspot"
    assert 'name="cred_access_token"' in client.get(url).content.decode()
    response = client.post(url, {"kind": "hubspot", "name": "Marketing portal", "base_url": "",
                                 "options": "{}", "cred_access_token": "pat-abc"})
    assert response.status_code == 302
    assert Connection.objects.get(name="Marketing portal").credentials == {"access_token": "pat-abc"}


def test_support_can_view_syncs_but_not_change_them(client, world):
    client.force_login(user_in("Support"))
    url = reverse("admin:syncrules_objectsync_change", args=[world.pk])
    # The raw model form is for superusers: everyone else lands on the sync's read-only page.
    page = client.get(url, follow=True)
    assert page.status_code == 200
    assert page.redirect_chain[-1][0] == reverse("admin:syncrules_objectsync_page", args=[world.pk])
    assert 'name="_save"' not in page.content.decode()
    response = client.post(url, {"name": "hacked"})
    assert response.status_code == 302
    world.refresh_from_db()
    assert world.name != "hacked"


def test_support_can_browse_errored_records_and_retry(client, world):
    user = user_in("Support")
    assert user.has_perm("syncrules.retry_objectsync") and not user.has_perm("syncrules.run_objectsync")
    client.force_login(user)
    link = world.links.get()
    response = client.post(reverse("admin:syncrules_recordlink_changelist"),
                           {"action": "retry", "_selected_action": [link.pk]})
    assert response.status_code == 302
    link.refresh_from_db()
    assert link.next_retry_at is not None


def test_support_cannot_change_connections(client, world):
    user = user_in("Support")
    assert not user.has_perm("connectors.change_connection")
    client.force_login(user)
    url = reverse("admin:connectors_connection_change", args=[world.connection_a.pk])
    assert client.post(url, {"name": "x"}).status_code == 403


def test_editors_change_syncs_but_cannot_read_credentials(client, world):
    user = user_in("Sync editors")
    assert user.has_perm("syncrules.change_objectsync")
    assert not user.has_perm("connectors.view_credentials")
    assert not user.has_perm("syncrules.toggle_objectsync")
    client.force_login(user)
    page = client.get(reverse("admin:connectors_connection_change", args=[world.connection_a.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "cred_access_token" not in html and SECRET not in html


def test_editors_cannot_turn_syncs_on_or_off(client, world):
    client.force_login(user_in("Sync editors"))
    response = client.post(reverse("admin:syncrules_objectsync_changelist"),
                           {"action": "turn_on", "_selected_action": [world.pk]})
    world.refresh_from_db()
    assert world.state == "draft"
    assert response.status_code in {200, 302}


def test_sync_admins_turn_syncs_on(client, world):
    world.turn_off()  # a draft is finished through the wizard: the action leaves it a draft
    client.force_login(user_in("Sync admins"))
    client.post(reverse("admin:syncrules_objectsync_changelist"),
                {"action": "turn_on", "_selected_action": [world.pk]})
    world.refresh_from_db()
    assert world.state == "active"


def test_log_tables_are_read_only_even_for_superusers(client, admin_user, world):
    client.force_login(admin_user)
    assert client.get(reverse("admin:syncrules_syncrun_add")).status_code == 403
    run = world.runs.get()
    page = client.get(reverse("admin:syncrules_syncrun_change", args=[run.pk])).content.decode()
    assert 'name="processed"' not in page


def test_a_connection_of_unknown_kind_still_lists_with_a_clear_label(client, admin_user):
    Connection.objects.create(kind="pipedrive", name="Legacy CRM")
    client.force_login(admin_user)
    page = client.get(reverse("admin:connectors_connection_changelist"))
    assert page.status_code == 200
    assert "unknown kind &#x27;pipedrive&#x27;" in page.content.decode()


def test_support_exports_the_failing_records_as_csv_with_category_and_hint(client, world):
    RecordLink.objects.create(object_sync=world, id_a="2", id_b="003B")  # in sync: filtered out
    client.force_login(user_in("Support"))
    url = reverse("admin:syncrules_recordlink_export") + "?status__exact=failing"
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().strip().splitlines()
    assert lines[0].startswith("id,object sync,object type,id_a,id_b,status,error category")
    assert len(lines) == 2
    assert "Value too long" in lines[1] and "Shorten it" in lines[1] and "too long" in lines[1]


def test_the_errored_records_list_offers_the_export(client, world):
    client.force_login(user_in("Support"))
    page = client.get(reverse("admin:syncrules_recordlink_changelist") + "?status__exact=failing")
    # The link keeps the list's filters, so the file holds what the person is looking at.
    assert reverse("admin:syncrules_recordlink_export") + "?status__exact=failing" in page.content.decode()
