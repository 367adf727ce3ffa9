"""The permission matrix, generated from the role table (syncrules.permissions.ROLES): each role
x each page x each action is allowed exactly as the table says, checked over HTTP.

Expected answers come from the role's permissions in ROLES (every permission for a superuser
and for "Sync admins", none for staff without a group, the login page for anonymous), never
from the pages themselves, so a page that forgets a check or checks the wrong permission fails.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.urls import reverse

from connectors.models import Connection
from syncrules import deals, tasks
from syncrules.models import LinkStatus, ObjectSync, RecordLink
from syncrules.permissions import APPS, ROLES
from syncsite.tests.world import build_world

pytestmark = pytest.mark.django_db

# Which permission each admin action needs (the role table says who holds it).
ACTIONS = {
    ("syncrules", "objectsync"): {
        "turn_on": "syncrules.toggle_objectsync",
        "turn_off": "syncrules.toggle_objectsync",
        "run_now": "syncrules.run_objectsync",
        "resync_deleted_in_a": "syncrules.resync_objectsync",
        "resync_deleted_in_b": "syncrules.resync_objectsync",
        "check_prerequisites": "syncrules.change_objectsync",
        "mirror_pipelines": "syncrules.change_objectsync",
    },
    ("syncrules", "recordlink"): {
        "retry": "syncrules.retry_objectsync",
        "resync_deleted": "syncrules.resync_objectsync",
    },
    ("connectors", "connection"): {"test_connections": "connectors.change_connection"},
}
READ_ONLY = {"recordlink", "syncrun", "recordoutcome"}  # log tables: nobody adds or edits rows


def role_permissions(role: str) -> set[str]:
    every = {f"{p.content_type.app_label}.{p.codename}"
             for p in Permission.objects.filter(content_type__app_label__in=APPS).select_related("content_type")}
    if role == "superuser":
        return every
    if role in {"staff without group", "anonymous"}:
        return set()
    table = {r.name: r.permissions for r in ROLES}[role]
    return every if table is None else set(table)


@pytest.fixture
def effects(monkeypatch):
    """Side effects of the actions, recorded instead of done (no run, no vendor call)."""
    done: list[str] = []
    monkeypatch.setattr(tasks, "enqueue_run", lambda pk, **kw: done.append("run"))
    monkeypatch.setattr(tasks, "enqueue_resync", lambda pk, side, ids=None: done.append("resync"))
    monkeypatch.setattr(deals, "check_prerequisites", lambda sync, *a: done.append("check") or [])
    monkeypatch.setattr(deals, "mirror_pipelines", lambda sync, *a, **kw: done.append("mirror") or
                        deals.PipelineSetup())
    monkeypatch.setattr(ObjectSync, "turn_on", lambda self: done.append("toggle"))
    monkeypatch.setattr(ObjectSync, "turn_off", lambda self: done.append("toggle"))
    monkeypatch.setattr(Connection, "test", lambda self: done.append("test") or
                        type("R", (), {"ok": True, "message": ""})())
    return done


def _pages(world) -> list[tuple[str, str, str, str]]:
    """(app, model, page, url) for every admin page of our apps: list, add, change, delete."""
    pages = []
    for model in admin.site._registry:
        app, name = model._meta.app_label, model._meta.model_name
        if app not in APPS:
            continue
        obj = model._default_manager.order_by("pk").first()
        pages.append((app, name, "view", reverse(f"admin:{app}_{name}_changelist")))
        pages.append((app, name, "add", reverse(f"admin:{app}_{name}_add")))
        if obj is not None:
            pages.append((app, name, "change", reverse(f"admin:{app}_{name}_change", args=[obj.pk])))
            pages.append((app, name, "delete", reverse(f"admin:{app}_{name}_delete", args=[obj.pk])))
    return pages


def _expected_page(perms: set[str], app: str, name: str, page: str, superuser: bool = False) -> int:
    if name == "objectsync" and page in ("add", "change"):
        return _expected_sync_form(perms, page, superuser)
    if page == "view":
        allowed = f"{app}.view_{name}" in perms or f"{app}.change_{name}" in perms
    elif page == "add":
        allowed = f"{app}.add_{name}" in perms and name not in READ_ONLY
    elif page == "change":  # the change page opens read-only for viewers; "change" is checked by its save button
        allowed = f"{app}.view_{name}" in perms or f"{app}.change_{name}" in perms
    else:
        allowed = f"{app}.delete_{name}" in perms
    return 200 if allowed else 403


def _expected_sync_form(perms: set[str], page: str, superuser: bool) -> int:
    """Syncs are set up in the wizard (Add leads there) and shown on their own page; the raw
    change form is the superuser's. Those without the permission are refused at once."""
    if page == "add":
        return 302 if {"syncrules.add_objectsync", "syncrules.change_objectsync"} <= perms else 403
    if superuser:
        return 200
    return 302 if {"syncrules.view_objectsync", "syncrules.change_objectsync"} & perms else 403


def _action_targets(world) -> dict[tuple[str, str], list[int]]:
    return {
        ("syncrules", "objectsync"): [s.pk for s in world.syncs],
        ("syncrules", "recordlink"): list(RecordLink.objects.values_list("pk", flat=True)),
        ("connectors", "connection"): [c.pk for c in world.connections],
    }


def test_every_role_gets_exactly_the_pages_and_actions_the_role_table_gives(client, effects):
    world = build_world(sandboxes=False)
    pages, targets = _pages(world), _action_targets(world)
    checked = 0
    wrong = []
    for role, user in world.users.items():
        client.logout()
        if user is not None:
            client.force_login(user)
        perms = role_permissions(role)
        for app, name, page, url in pages:
            response = client.get(url)
            expected = 302 if user is None else _expected_page(perms, app, name, page, user.is_superuser)
            checked += 1
            if response.status_code != expected:
                wrong.append(f"{role}: GET {url} ({page}) answered {response.status_code}, expected {expected}")
            if page == "change" and expected == 200:
                can_save = f"{app}.change_{name}" in perms and name not in READ_ONLY
                checked += 1
                if ('name="_save"' in response.content.decode()) != can_save:
                    wrong.append(f"{role}: the save button of {url} is {'missing' if can_save else 'shown'}")
        for (app, name), actions in ACTIONS.items():
            changelist = reverse(f"admin:{app}_{name}_changelist")
            offered = client.get(changelist).content.decode() if user is not None else ""
            for action, needed in actions.items():
                allowed = user is not None and needed in perms
                effects.clear()
                client.post(changelist, {"action": action, "_selected_action": targets[(app, name)]})
                happened = bool(effects) or _retried()
                checked += 1
                if happened != allowed or (f'value="{action}"' in offered) != allowed:
                    wrong.append(f"{role}: action {action} on {name} {'refused' if allowed else 'allowed'} "
                                 f"(offered: {f'value={action!r}' in offered.replace(chr(34), chr(39))})")
                RecordLink.objects.update(next_retry_at=None)
    print(f"\npermission matrix: {len(world.users)} roles x ({len(pages)} pages + "
          f"{sum(map(len, ACTIONS.values()))} actions) = {checked} checks")
    assert not wrong, "\n".join(wrong)


def _retried() -> bool:
    return RecordLink.objects.filter(status=LinkStatus.FAILING, next_retry_at__isnull=False).exists()


@pytest.mark.parametrize("role", ["superuser", "Sync admins", "Sync editors", "Support", "staff without group"])
def test_the_connect_flow_and_credentials_are_only_for_those_who_may_set_credentials(client, role):
    world = build_world(sandboxes=False)
    client.force_login(world.users[role])
    perms = role_permissions(role)
    may = {"connectors.change_connection", "connectors.view_credentials"} <= perms
    connection = world.connections[0]
    assert client.get(reverse("connectors:oauth_start", args=[connection.pk])).status_code == (200 if may else 403)
    page = client.get(reverse("admin:connectors_connection_change", args=[connection.pk]))
    shows_fields = "cred_access_token" in page.content.decode()
    assert shows_fields == may


def test_the_readme_role_table_is_the_one_in_code():
    from pathlib import Path

    from syncrules.permissions import readme_role_table

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert readme_role_table() in readme, (
        "README.md's role table differs from syncrules.permissions.ROLES; paste this in:\n" + readme_role_table()
    )


def test_the_groups_hold_exactly_the_permissions_of_the_role_table():
    from django.contrib.auth.models import Group

    for role in ROLES:
        held = {f"{p.content_type.app_label}.{p.codename}"
                for p in Group.objects.get(name=role.name).permissions.select_related("content_type")}
        assert held == role_permissions(role.name), role.name


def _turn_on_through_the_form(client, sync: ObjectSync) -> None:
    url = reverse("admin:syncrules_objectsync_change", args=[sync.pk])
    data = {"name": sync.name, "connection_a": sync.connection_a_id, "connection_b": sync.connection_b_id,
            "object_type": sync.object_type, "direction": sync.direction, "conflict_winner": sync.conflict_winner,
            "wizard_step": sync.wizard_step, "require_email": "on", "match_records": "on", "options": "{}",
            "interval_seconds": 300, "state": "active", "next_run_at_0": "2026-01-01", "next_run_at_1": "00:00:00"}
    for prefix in ("field_mappings", "filters", "pipeline_mappings"):
        data |= {f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0}
    client.post(url, data)
    sync.refresh_from_db()


def test_no_one_turns_a_sync_on_through_the_raw_change_form(client):
    """The raw form redirects non-superusers to the sync's page and keeps `state` read-only even
    for superusers: syncs are turned on and off only by the permission-gated actions and pages."""
    world = build_world(sandboxes=False)
    draft = world.syncs[2]
    for who in ("Sync editors", "Sync admins", "superuser"):
        client.force_login(world.users[who])
        _turn_on_through_the_form(client, draft)
        assert draft.state == ObjectSync.State.DRAFT, who
        assert draft.next_run_at is None, who
