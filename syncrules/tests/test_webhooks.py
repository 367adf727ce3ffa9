"""HubSpot's webhook endpoint and the debounce of change-triggered runs."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from connectors.hubspot.webhooks import signature_v3
from syncrules.models import ObjectSync, SyncRun
from syncrules.tests.factories import make_connection, make_sync
from syncrules.webhooks import debounce
from syncrules.webhooks.models import PendingChange, SyncTrigger

pytestmark = pytest.mark.django_db

URL = "/webhooks/hubspot/"
SECRET = "hub-secret"
PORTAL = 4242


@pytest.fixture
def hubspot(db):
    return make_connection("hubspot", "HubSpot", credentials={"hub_id": PORTAL, "client_secret": SECRET,
                                                              "access_token": "pat-x"})


def _active(object_type, connection_a, **kwargs):
    return make_sync(object_type, connection_a=connection_a, state=ObjectSync.State.ACTIVE,
                     initial_sync_done_at=timezone.now(), **kwargs)


def _event(object_id, kind="contact.propertyChange", portal=PORTAL, event_id=1, **extra):
    return {"eventId": event_id, "portalId": portal, "subscriptionType": kind, "objectId": object_id,
            "occurredAt": int(time.time() * 1000), **extra}


def _post(client, events, *, secret=SECRET, timestamp=None, signature=None):
    body = json.dumps(events).encode()
    timestamp = str(int(time.time() * 1000) if timestamp is None else timestamp)
    signature = signature or signature_v3(secret, "POST", f"http://testserver{URL}", body, timestamp)
    return client.post(URL, body, content_type="application/json", HTTP_X_HUBSPOT_REQUEST_TIMESTAMP=timestamp,
                       HTTP_X_HUBSPOT_SIGNATURE_V3=signature)


def test_a_valid_delivery_queues_one_run_of_each_affected_sync(client, hubspot, queued, django_capture_on_commit_callbacks):
    contacts, companies = _active("contacts", hubspot), _active("companies", hubspot)
    _active("deals", hubspot)  # no deal changed
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, [_event(11), _event(12, event_id=2), _event(7, "company.creation", event_id=3)])
    assert response.status_code == 200
    assert sorted(queued) == sorted([contacts.pk, companies.pk])
    assert set(PendingChange.objects.filter(object_sync=contacts).values_list("side", "record_id")) == {("a", "11"), ("a", "12")}
    trigger = SyncTrigger.objects.get(pk=contacts.pk)
    assert trigger.last_webhook_at is not None and trigger.webhook_events == 3


def test_it_answers_401_to_a_bad_signature_and_queues_nothing(client, hubspot, queued, django_capture_on_commit_callbacks):
    sync = _active("contacts", hubspot)
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, [_event(11)], secret="not-the-secret")
    assert response.status_code == 401
    assert queued == [] and not PendingChange.objects.filter(object_sync=sync).exists()


def test_it_answers_401_when_the_connection_has_no_client_secret(client, queued):
    connection = make_connection("hubspot", "No secret", credentials={"hub_id": PORTAL, "access_token": "pat-x"})
    _active("contacts", connection)
    assert _post(client, [_event(11)]).status_code == 401
    assert queued == []


def test_it_answers_401_to_a_stale_timestamp_even_well_signed(client, hubspot, queued):
    _active("contacts", hubspot)
    six_minutes_ago = int(time.time() * 1000) - 6 * 60 * 1000
    response = _post(client, [_event(11)], timestamp=six_minutes_ago)
    assert response.status_code == 401
    assert "stale" in response.json()["message"]
    assert queued == [] and not PendingChange.objects.exists()


def test_a_duplicate_delivery_is_harmless(client, hubspot, queued, django_capture_on_commit_callbacks):
    sync = _active("contacts", hubspot)
    events = [_event(11), _event(12, event_id=2)]
    with django_capture_on_commit_callbacks(execute=True):
        assert _post(client, events).status_code == 200
        assert _post(client, events).status_code == 200
    assert queued == [sync.pk]
    assert PendingChange.objects.filter(object_sync=sync).count() == 2


def test_an_unknown_portal_is_ignored_with_200(client, hubspot, queued):
    _active("contacts", hubspot)
    response = _post(client, [_event(11, portal=999)], secret="whatever")
    assert response.status_code == 200 and response.json()["status"] == "ignored"
    assert queued == [] and not SyncTrigger.objects.exists()


def test_it_refuses_a_body_that_is_not_a_list_of_events(client, hubspot):
    assert _post(client, {"portalId": PORTAL}).status_code == 400
    timestamp = str(int(time.time() * 1000))
    response = client.post(URL, b"not json", content_type="application/json", HTTP_X_HUBSPOT_REQUEST_TIMESTAMP=timestamp)
    assert response.status_code == 400


def test_the_endpoint_needs_no_login_and_no_csrf_token_while_the_admin_still_does(hubspot, queued):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    _active("contacts", hubspot)
    assert _post(strict, [_event(11)]).status_code == 200
    assert strict.get("/admin/").status_code == 302
    assert strict.post("/admin/login/", {"username": "x", "password": "y"}).status_code == 403
    assert strict.get(URL).status_code == 405


def test_it_ignores_syncs_that_are_off_or_not_initially_synced(client, hubspot, queued, django_capture_on_commit_callbacks):
    make_sync("contacts", connection_a=hubspot, state=ObjectSync.State.OFF, initial_sync_done_at=timezone.now())
    make_sync("contacts", connection_a=hubspot, state=ObjectSync.State.ACTIVE)
    with django_capture_on_commit_callbacks(execute=True):
        assert _post(client, [_event(11)]).status_code == 200
    assert queued == []


def test_an_association_change_queues_both_types_syncs(client, hubspot, queued, django_capture_on_commit_callbacks):
    contacts, companies = _active("contacts", hubspot), _active("companies", hubspot)
    event = _event(11, "contact.associationChange", associationType="CONTACT_TO_COMPANY", fromObjectId=11, toObjectId=5)
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, [event])
    assert sorted(queued) == sorted([contacts.pk, companies.pk])
    assert PendingChange.objects.get(object_sync=companies).record_id == "5"


# --- the debounce
def test_many_webhooks_queue_one_run(client, hubspot, queued, django_capture_on_commit_callbacks):
    sync = _active("contacts", hubspot)
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(20):
            assert _post(client, [_event(100 + n, event_id=n)]).status_code == 200
    assert queued == [sync.pk]
    assert PendingChange.objects.filter(object_sync=sync).count() == 20


class FakeRuns:
    """run_sync standing in for the engine: records what it was given, can report changes mid-run."""

    def __init__(self, during=None, busy=False):
        self.calls, self.during, self.busy = [], during, busy

    def __call__(self, sync_id, *, trigger, connectors):
        self.calls.append({side: list(c.changed_ids) for side, c in connectors.items()
                           if isinstance(c, debounce.ChangedFirst)})
        if self.during:
            self.during()
        if self.busy:
            return None
        return SyncRun.objects.create(object_sync_id=sync_id, trigger=trigger, status=SyncRun.Status.SUCCEEDED)


def test_a_change_during_a_run_queues_exactly_one_more_run_after_it(hubspot, queued, django_capture_on_commit_callbacks):
    sync = _active("contacts", hubspot)
    with django_capture_on_commit_callbacks(execute=True):
        debounce.notify_changes({(sync.pk, "a"): ["1"]})
    assert queued == [sync.pk]

    def webhooks_mid_run():
        for n in range(5):
            debounce.notify_changes({(sync.pk, "a"): [str(10 + n)]})
        assert queued == [sync.pk]  # nothing more while the run runs

    runs = FakeRuns(during=webhooks_mid_run)
    with django_capture_on_commit_callbacks(execute=True):
        assert debounce.run_triggered(sync.pk, run_sync=runs) is not None
    assert queued == [sync.pk, sync.pk]
    assert runs.calls == [{"a": ["1"]}]
    # The run's ids are done; those that came during it wait for the next run, which reads them.
    assert sorted(PendingChange.objects.values_list("record_id", flat=True)) == ["10", "11", "12", "13", "14"]
    after = FakeRuns()
    with django_capture_on_commit_callbacks(execute=True):
        debounce.run_triggered(sync.pk, run_sync=after)
    assert after.calls == [{"a": ["10", "11", "12", "13", "14"]}]
    assert queued == [sync.pk, sync.pk] and not PendingChange.objects.exists()


def test_a_sync_busy_with_another_run_keeps_its_changes_and_is_queued_once_free(hubspot, queued, django_capture_on_commit_callbacks):
    sync = _active("contacts", hubspot)
    with django_capture_on_commit_callbacks(execute=True):
        debounce.notify_changes({(sync.pk, "a"): ["1"]})
        assert debounce.run_triggered(sync.pk, run_sync=FakeRuns(busy=True)) is None
    assert queued == [sync.pk]  # not queued again at once: that would spin while the other runs
    assert PendingChange.objects.count() == 1
    ObjectSync.objects.filter(pk=sync.pk).update(running_since=timezone.now())
    assert debounce.queue_waiting() == []
    ObjectSync.objects.filter(pk=sync.pk).update(running_since=None)
    with django_capture_on_commit_callbacks(execute=True):
        assert debounce.queue_waiting() == [sync.pk]
        assert debounce.queue_waiting() == []
    assert queued == [sync.pk, sync.pk]


def test_a_failed_run_keeps_the_changed_ids_for_the_next(hubspot, queued):
    sync = _active("contacts", hubspot)
    debounce.notify_changes({(sync.pk, "a"): ["1"]})

    def failing(sync_id, *, trigger, connectors):
        return SyncRun.objects.create(object_sync_id=sync_id, trigger=trigger, status=SyncRun.Status.FAILED)

    debounce.run_triggered(sync.pk, run_sync=failing)
    assert list(PendingChange.objects.values_list("record_id", flat=True)) == ["1"]


# --- the poll loop's lease and thread
def test_one_poll_loop_polls_at_a_time_and_takes_over_from_one_that_stopped_renewing(monkeypatch):
    from syncrules.webhooks import polling
    from syncrules.webhooks.models import PollLease

    make_sync("contacts", state=ObjectSync.State.ACTIVE, initial_sync_done_at=timezone.now())  # Salesforce on B
    polls: list[str] = []
    monkeypatch.setattr(polling, "poll_once", lambda: polls.append("poll"))
    monkeypatch.setattr(polling, "queue_waiting", lambda: [])
    second: list[int] = []

    def sleep(_seconds):
        if not second:
            second.append(polling.poll_loop(sleep=sleep))  # started meanwhile: the lease is held and fresh
            PollLease.objects.update(renewed_at=timezone.now() - timedelta(seconds=46))  # its holder died, say
            second.append(polling.poll_loop(sleep=lambda _s: None, max_seconds=0.2))

    assert polling.poll_loop(sleep=sleep) == 1  # taken over: it stops at its next turn, however long it may run
    assert second[0] == 0 and second[1] >= 1
    assert len(polls) == 1 + second[1]
    assert not PollLease.objects.exclude(holder="").exists()  # the last one left the lease free


def test_the_poll_loop_queries_no_app_but_still_queues_waiting_syncs_when_no_sync_has_a_side_to_poll(hubspot, monkeypatch):
    from syncrules.webhooks import polling

    _active("contacts", hubspot, connection_b=make_connection("hubspot", "Other portal"))
    waiting: list[int] = []
    monkeypatch.setattr(polling, "poll_once", lambda: pytest.fail("it polled"))
    monkeypatch.setattr(polling, "queue_waiting", lambda: waiting.append(1) or [])
    assert polling.poll_loop(sleep=lambda _s: None, max_seconds=0.2) >= 1
    assert waiting


def test_the_poll_task_returns_at_once_leaving_one_poller_thread_per_process(monkeypatch):
    import threading

    from syncrules import tasks
    from syncrules.webhooks import polling

    release, ran = threading.Event(), []
    monkeypatch.setattr(polling, "poll_loop", lambda **_kwargs: ran.append(release.wait(10)))
    assert tasks.poll_for_changes() is True
    assert tasks.poll_for_changes() is False  # the thread still polls: no second one
    release.set()
    polling._poller.join(10)
    assert ran == [True]
    assert tasks.poll_for_changes() is True  # it stopped (its process lost the lease, say): the schedule restarts it
    polling._poller.join(10)


def test_a_migration_makes_the_poll_schedule_and_ensure_schedules_keeps_one():
    from io import StringIO

    from django.core.management import call_command
    from django_q.models import Schedule

    from syncrules import tasks

    assert Schedule.objects.filter(func=tasks.POLL_TASK).count() == 1
    Schedule.objects.filter(func=tasks.POLL_TASK).delete()
    call_command("ensure_schedules", stdout=StringIO())
    assert tasks.ensure_change_schedules() is False
    schedule = Schedule.objects.get(func=tasks.POLL_TASK)
    assert schedule.schedule_type == Schedule.MINUTES and schedule.minutes == 1 and schedule.repeats == -1


# --- where a user sees it
def test_the_sync_page_says_how_changes_arrive_on_each_side(admin_client, hubspot, client, queued):
    from django.urls import reverse

    salesforce = make_connection("salesforce", "Acme org")
    sync = _active("contacts", hubspot, connection_b=salesforce)
    page = reverse("admin:syncrules_objectsync_page", args=[sync.pk])
    text = admin_client.get(page).content.decode()
    assert "Changes in HubSpot arrive by webhook: none received yet" in text
    assert "http://testserver/webhooks/hubspot/" in text
    assert "Changes in Acme org are polled every 15 s (no poll yet: is a worker running?)" in text
    _post(client, [_event(11)])
    SyncTrigger.objects.filter(pk=sync.pk).update(last_polled_at=timezone.now() - timedelta(seconds=4))
    text = admin_client.get(page).content.decode()
    assert "Changes in HubSpot arrive by webhook (last received 0 s ago)" in text
    assert "(last poll 4 s ago)" in text


def test_the_sync_page_says_a_connection_without_client_secret_gets_no_webhooks(admin_client):
    connection = make_connection("hubspot", "Plain portal", credentials={"access_token": "pat-x"})
    sync = _active("contacts", connection)
    from django.urls import reverse

    text = admin_client.get(reverse("admin:syncrules_objectsync_page", args=[sync.pk])).content.decode()
    assert "set the app&#x27;s client secret on the connection" in text


def test_an_id_changed_again_during_the_run_that_read_it_is_read_again_by_the_next(hubspot, queued, django_capture_on_commit_callbacks):
    sync = _active("contacts", hubspot)
    debounce.notify_changes({(sync.pk, "a"): ["1", "2"]})
    runs = FakeRuns(during=lambda: debounce.notify_changes({(sync.pk, "a"): ["1"]}))
    with django_capture_on_commit_callbacks(execute=True):
        debounce.run_triggered(sync.pk, run_sync=runs)
    assert list(PendingChange.objects.values_list("record_id", flat=True)) == ["1"]
    assert queued[-1] == sync.pk
    after = FakeRuns()
    debounce.run_triggered(sync.pk, run_sync=after)
    assert after.calls == [{"a": ["1"]}] and not PendingChange.objects.exists()
