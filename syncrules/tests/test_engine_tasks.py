"""Running syncs: the command, the django-q2 tasks, the dispatcher schedule and the admin action."""

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from syncrules import tasks
from syncrules.models import ObjectSync, RecordLink, SyncRun
from syncrules.tests.factories import make_memory_sync

pytestmark = pytest.mark.django_db
C = "contacts"


def test_the_command_runs_a_sync_and_prints_its_counts(apps):
    apps.a.create(C, email="ann@example.com", first="Ann", last="Lee")
    sync = make_memory_sync(apps)
    out = StringIO()
    call_command("sync_run", str(sync.pk), stdout=out)
    assert "Initial sync succeeded" in out.getvalue() and "created 1" in out.getvalue()
    run = SyncRun.objects.get(object_sync=sync)
    assert run.trigger == SyncRun.Trigger.COMMAND and run.http_calls > 0
    call_command("sync_run", str(sync.pk), stdout=out)
    call_command("sync_run", str(sync.pk), "--initial", stdout=out)
    assert list(SyncRun.objects.filter(object_sync=sync).values_list("kind", flat=True).order_by("pk")) == [
        "initial", "incremental", "initial",
    ]
    assert len(apps.b.all(C)) == 1


def test_the_command_refuses_an_unknown_or_running_sync(apps):
    with pytest.raises(CommandError, match="No object sync"):
        call_command("sync_run", "999")
    sync = make_memory_sync(apps)
    sync.claim()
    with pytest.raises(CommandError, match="already running"):
        call_command("sync_run", str(sync.pk))


def test_the_command_fails_loudly_when_the_run_fails(apps):
    from connectors.errors import ConnectorError, ErrorCategory

    sync = make_memory_sync(apps)
    apps.a.fail_calls.append(ConnectorError(ErrorCategory.AUTHENTICATION_EXPIRED, "token expired"))
    with pytest.raises(CommandError, match="token expired"):
        call_command("sync_run", str(sync.pk), stdout=StringIO())
    assert ObjectSync.objects.get(pk=sync.pk).running_since is None  # released for the next run


def test_a_queued_run_starts_only_once_the_transaction_commits(apps, django_capture_on_commit_callbacks):
    apps.a.create(C, email="ann@example.com", first="Ann", last="Lee")
    sync = make_memory_sync(apps)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        tasks.enqueue_run(sync.pk)
        assert not SyncRun.objects.exists()
    assert len(callbacks) == 1
    run = SyncRun.objects.get(object_sync=sync)
    assert run.trigger == SyncRun.Trigger.MANUAL and run.status == SyncRun.Status.SUCCEEDED


def test_the_task_is_harmless_when_delivered_twice_or_for_a_deleted_sync(apps):
    apps.a.create(C, email="ann@example.com", first="Ann", last="Lee")
    sync = make_memory_sync(apps, state=ObjectSync.State.ACTIVE)
    assert tasks.run_object_sync(sync.pk) is not None
    assert tasks.run_object_sync(sync.pk) is not None
    assert len(apps.b.all(C)) == 1 and RecordLink.objects.count() == 1
    assert tasks.run_object_sync(12345) is None


def test_the_dispatcher_queues_due_active_syncs_once(apps, django_capture_on_commit_callbacks):
    due = make_memory_sync(apps, state=ObjectSync.State.ACTIVE, next_run_at=timezone.now() - timedelta(seconds=5))
    later = make_memory_sync(apps, state=ObjectSync.State.ACTIVE, next_run_at=timezone.now() + timedelta(hours=1))
    off = make_memory_sync(apps, state=ObjectSync.State.OFF, next_run_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.dispatch_due_syncs() == [due.pk]
        assert tasks.dispatch_due_syncs() == []
    assert SyncRun.objects.filter(object_sync=due).count() == 1
    assert not SyncRun.objects.filter(object_sync__in=[later, off]).exists()
    assert ObjectSync.objects.get(pk=due.pk).next_run_at > timezone.now()


def test_there_is_exactly_one_dispatcher_schedule():
    assert Schedule.objects.filter(func=tasks.DISPATCH_TASK).count() == 1  # made by a migration
    assert tasks.ensure_schedules() is False
    call_command("ensure_schedules", stdout=StringIO())
    schedule = Schedule.objects.get(func=tasks.DISPATCH_TASK)
    assert schedule.schedule_type == Schedule.MINUTES and schedule.minutes == 1 and schedule.repeats == -1


def test_run_now_in_the_admin_needs_the_run_permission(apps, client, django_capture_on_commit_callbacks):
    sync = make_memory_sync(apps, state=ObjectSync.State.ACTIVE)
    url = reverse("admin:syncrules_objectsync_changelist")
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(*Group.objects.get(name="Sync editors").permissions.exclude(codename="run_objectsync"))
    client.force_login(viewer)
    assert "run_now" not in client.get(url).content.decode()
    editor = User.objects.create_user("editor", password="pw", is_staff=True)
    editor.groups.add(Group.objects.get(name="Sync editors"))
    client.force_login(editor)
    assert "run_now" in client.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"action": "run_now", "_selected_action": [sync.pk]})
    assert response.status_code == 302
    assert SyncRun.objects.get(object_sync=sync).trigger == SyncRun.Trigger.MANUAL


def test_the_dispatcher_skips_a_running_sync_but_not_one_whose_worker_died(apps, django_capture_on_commit_callbacks):
    past = timezone.now() - timedelta(seconds=5)
    running = make_memory_sync(apps, state=ObjectSync.State.ACTIVE, next_run_at=past, running_since=timezone.now())
    dead = make_memory_sync(apps, state=ObjectSync.State.ACTIVE, next_run_at=past,
                            running_since=timezone.now() - timedelta(hours=3))
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.dispatch_due_syncs() == [dead.pk]
    assert SyncRun.objects.filter(object_sync=dead).count() == 1
    assert not SyncRun.objects.filter(object_sync=running).exists()


def test_a_scheduled_run_of_a_sync_turned_off_meanwhile_does_nothing(apps):
    sync = make_memory_sync(apps, state=ObjectSync.State.OFF)
    assert tasks.run_object_sync(sync.pk, False, SyncRun.Trigger.SCHEDULE) is None
    assert tasks.run_object_sync(sync.pk, False, SyncRun.Trigger.MANUAL) is not None
