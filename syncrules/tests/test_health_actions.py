"""Retry, resync and on/off from the health pages: who may, what is queued, what is said."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from syncrules import tasks
from syncrules.models import LinkStatus, ObjectSync, RecordLink
from syncrules.tests.health_helpers import health_world, user_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return health_world()


@pytest.fixture
def queued(monkeypatch):
    """What the pages queue, instead of running it."""
    calls = []
    monkeypatch.setattr(tasks, "enqueue_run", lambda sync_id, **kw: calls.append(("run", sync_id, kw)))
    monkeypatch.setattr(tasks, "enqueue_resync", lambda sync_id, side, ids=None: calls.append(("resync", sync_id, side)))
    return calls


def said(response) -> str:
    return " | ".join(str(m) for m in get_messages(response.wsgi_request))


def as_role(client, group):
    client.force_login(user_in(group))
    return client


def failing(sync, category=""):
    links = RecordLink.objects.filter(object_sync=sync, status=LinkStatus.FAILING)
    return links.filter(error_category=category) if category else links


def test_support_retries_the_selected_records_and_a_run_is_queued(client, world, queued):
    sync = world["contacts"]
    picked = list(failing(sync, "invalid_property_value").values_list("pk", flat=True))
    RecordLink.objects.filter(pk__in=picked).update(fail_count=4)
    response = as_role(client, "Support").post(reverse("health:retry", args=[sync.pk]), {"link": picked})
    assert response.status_code == 302
    assert "retries 2 record(s)" in said(response)
    assert queued == [("run", sync.pk, {"trigger": "manual"})]
    for link in RecordLink.objects.filter(pk__in=picked):
        assert link.fail_count == 0 and link.next_retry_at <= timezone.now()
    assert failing(sync, "value_too_long").get().next_retry_at is None


def test_retry_all_in_a_category_takes_only_that_category(client, world, queued):
    sync = world["contacts"]
    response = as_role(client, "Support").post(
        reverse("health:retry", args=[sync.pk]), {"category": "invalid_property_value", "scope": "all"})
    assert "retries 2 record(s)" in said(response)
    assert failing(sync, "invalid_property_value").filter(next_retry_at__isnull=True).count() == 0
    assert failing(sync, "value_too_long").get().next_retry_at is None
    assert len(queued) == 1


def test_a_record_no_longer_failing_is_left_alone_and_the_user_is_told(client, world, queued):
    sync = world["contacts"]
    healed = world["broken"]
    RecordLink.objects.filter(pk=healed.pk).update(status=LinkStatus.IN_SYNC, error_category="")
    response = as_role(client, "Support").post(reverse("health:retry", args=[sync.pk]), {"link": [healed.pk]})
    assert "no longer failing" in said(response) and queued == []


def test_a_retry_without_a_selection_or_with_garbage_says_so(client, world, queued):
    url = reverse("health:retry", args=[world["contacts"].pk])
    client = as_role(client, "Support")
    assert "Select the records" in said(client.post(url, {"link": ["abc", "", "9" * 40]}))
    assert "Unknown error category" in said(client.post(url, {"category": "<b>", "scope": "all"}))
    assert client.get(url).status_code == 405
    assert queued == []


def test_the_story_retries_one_record_and_returns_to_it(client, world, queued):
    broken = world["broken"]
    story = reverse("health:story", args=[broken.pk])
    client = as_role(client, "Support")
    response = client.post(reverse("health:retry", args=[world["contacts"].pk]), {"link": broken.pk, "next": story})
    assert response["Location"] == story and len(queued) == 1
    evil = client.post(
        reverse("health:retry", args=[world["contacts"].pk]), {"link": broken.pk, "next": "https://evil.example/"})
    assert evil["Location"].startswith("/admin/health/sync/")


def test_support_cannot_toggle_or_edit_syncs(client, world, queued):
    client = as_role(client, "Support")
    sync = world["contacts"]
    assert client.post(reverse("health:toggle", args=[sync.pk]), {"state": "off"}).status_code == 403
    assert ObjectSync.objects.get(pk=sync.pk).state == "active"
    assert "Turn off" not in client.get(reverse("health:overview")).content.decode()
    # The raw form is the superuser's: Support is sent to the sync's read-only page, nothing saved.
    response = client.post(reverse("admin:syncrules_objectsync_change", args=[sync.pk]), {"name": "x"})
    assert response.status_code in (302, 403) and ObjectSync.objects.get(pk=sync.pk).name == sync.name


def test_an_admin_turns_a_sync_off_and_on_from_the_overview(client, world):
    client = as_role(client, "Sync admins")
    sync = world["contacts"]
    assert "Turn off" in client.get(reverse("health:overview")).content.decode()
    client.post(reverse("health:toggle", args=[sync.pk]), {"state": "off"})
    assert ObjectSync.objects.get(pk=sync.pk).state == "off"
    response = client.post(reverse("health:toggle", args=[sync.pk]), {"state": "on"})
    assert ObjectSync.objects.get(pk=sync.pk).state == "active" and "Turned" in said(response)
    ObjectSync.objects.filter(pk=sync.pk).update(state="draft")
    assert "draft" in said(client.post(reverse("health:toggle", args=[sync.pk]), {"state": "on"}))


def test_an_editor_can_retry_but_not_toggle(client, world, queued):
    client = as_role(client, "Sync editors")
    sync = world["contacts"]
    assert client.post(reverse("health:toggle", args=[sync.pk]), {"state": "off"}).status_code == 403
    client.post(reverse("health:retry", args=[sync.pk]), {"link": [world["broken"].pk]})
    assert len(queued) == 1


def test_resync_asks_first_then_queues_the_deleted_records(client, world, queued):
    client = as_role(client, "Support")
    sync = world["contacts"]
    url = reverse("health:resync", args=[sync.pk, "b"])
    page = client.get(url).content.decode()
    assert "1 record of" in page and "Resync all" in page and queued == []
    response = client.post(url)
    assert queued == [("resync", sync.pk, "b")] and "Queued the resync of 1 record(s) deleted in Sales org" in said(response)


def test_resync_while_the_sync_runs_or_with_nothing_deleted_says_so(client, world, queued):
    client = as_role(client, "Support")
    sync = world["contacts"]
    ObjectSync.objects.filter(pk=sync.pk).update(running_since=timezone.now())
    assert "is running now" in said(client.post(reverse("health:resync", args=[sync.pk, "a"])))
    companies = world["companies"]
    assert "nothing to resync" in said(client.post(reverse("health:resync", args=[companies.pk, "a"])))
    assert "Unknown side" in said(client.get(reverse("health:resync", args=[sync.pk, "c"])))
    assert queued == []


def test_a_user_without_the_run_permission_cannot_retry_or_resync(client, world, queued):
    from django.contrib.auth.models import Permission

    user = user_in(None, "viewer")
    user.user_permissions.add(Permission.objects.get(codename="view_recordlink"))
    client.force_login(user)
    sync = world["contacts"]
    assert client.post(reverse("health:retry", args=[sync.pk]), {"link": [world["broken"].pk]}).status_code == 403
    assert client.post(reverse("health:resync", args=[sync.pk, "b"])).status_code == 403
    page = client.get(reverse("health:errors", args=[sync.pk])).content.decode()
    assert "Retry selected" not in page and queued == []
