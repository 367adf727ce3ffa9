"""Our own writes coming back (HubSpot webhooks, Salesforce polls) queue no run; a user's edit
of the same record right after ours still does."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from syncrules.models import ObjectSync
from syncrules.tests.factories import make_connection
from syncrules.tests.memory_connector import MemoryApp
from syncrules.tests.test_webhooks import PORTAL, SECRET, _active, _event, _post
from syncrules.webhooks import echo
from syncrules.webhooks.models import EchoWrite, SyncTrigger

pytestmark = pytest.mark.django_db


@pytest.fixture
def hubspot(db):
    return make_connection("hubspot", "HubSpot", credentials={"hub_id": PORTAL, "client_secret": SECRET,
                                                              "access_token": "pat-x"})


def _change(object_id, name, value, **extra):
    return _event(object_id, "contact.propertyChange", propertyName=name, propertyValue=value, **extra)


def test_a_webhook_reporting_our_own_write_queues_no_run_but_is_counted(client, hubspot, queued, django_capture_on_commit_callbacks):
    sync = _active("contacts", hubspot)
    echo._keep(sync.pk, "a", {"11": {"lastname": "Ours", "score": Decimal("12.50")}}, created=False)
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, [_change(11, "lastname", "Ours"), _change(11, "score", "12.5", event_id=2)])
    assert response.status_code == 200 and response.json()["queued"] == 0
    assert queued == []
    trigger = SyncTrigger.objects.get(pk=sync.pk)
    assert trigger.webhook_events == 2 and trigger.last_webhook_at is not None


def test_a_user_edit_right_after_our_write_queues_a_run_and_forgets_our_write(client, hubspot, queued, django_capture_on_commit_callbacks):
    sync = _active("contacts", hubspot)
    echo._keep(sync.pk, "a", {"11": {"lastname": "Ours"}}, created=False)
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, [_change(11, "lastname", "Ours"), _change(11, "lastname", "Theirs", event_id=2)])
    assert queued == [sync.pk]
    # The user sets our value back later: that is a change too, not our write again.
    assert not EchoWrite.objects.filter(object_sync=sync).exists()
    SyncTrigger.objects.filter(pk=sync.pk).update(queued_at=None)
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, [_change(11, "lastname", "Ours", event_id=3)])
    assert queued == [sync.pk, sync.pk]


@pytest.mark.parametrize("other", [
    _change(11, "email", "x@example.com", event_id=2),  # a property we did not write
    _event(11, "contact.associationChange", event_id=2, associationType="CONTACT_TO_COMPANY", fromObjectId=11,
           toObjectId=5),
], ids=["another-property", "an-association"])
def test_anything_else_about_a_record_we_wrote_is_a_change(client, hubspot, queued, other, django_capture_on_commit_callbacks):
    sync = _active("contacts", hubspot)
    echo._keep(sync.pk, "a", {"11": {"lastname": "Ours"}}, created=False)
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, [_change(11, "lastname", "Ours"), other])
    assert queued == [sync.pk]


def test_the_creation_of_a_record_we_created_queues_no_run_and_a_later_edit_does(client, hubspot, queued, django_capture_on_commit_callbacks):
    sync = _active("contacts", hubspot)
    echo._keep(sync.pk, "a", {"21": {"lastname": "New"}}, created=True)
    before = int(time.time() * 1000)
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, [_event(21, "contact.creation"), _change(21, "lastname", "New", event_id=2),
                       _change(21, "lifecyclestage", "lead", event_id=3, occurredAt=before)])  # the app's default
    assert queued == []
    later = int((timezone.now() + timedelta(seconds=30)).timestamp() * 1000)
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, [_change(21, "lifecyclestage", "customer", event_id=4, occurredAt=later)])
    assert queued == [sync.pk]


def test_a_write_is_forgotten_after_echo_seconds(client, hubspot, queued, settings, django_capture_on_commit_callbacks):
    settings.ECHO_SECONDS = 60
    sync = _active("contacts", hubspot)
    echo._keep(sync.pk, "a", {"11": {"lastname": "Ours"}}, created=False)
    EchoWrite.objects.update(written_at=timezone.now() - timedelta(seconds=61))
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, [_change(11, "lastname", "Ours")])
    assert queued == [sync.pk]
    echo._keep(sync.pk, "a", {"12": {"lastname": "Other"}}, created=False)  # recording prunes the expired
    assert set(EchoWrite.objects.values_list("record_id", flat=True)) == {"12"}


def test_one_syncs_write_is_a_change_for_another_sync_of_the_same_portal(client, hubspot, queued, django_capture_on_commit_callbacks):
    writer = _active("contacts", hubspot)
    other = _active("contacts", hubspot, connection_b=make_connection("salesforce", "Second org"))
    echo._keep(writer.pk, "a", {"11": {"lastname": "Ours"}}, created=False)
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, [_change(11, "lastname", "Ours")])
    assert queued == [other.pk]


def test_watched_writes_keep_updates_before_the_call_and_created_ids_after_it(hubspot):
    sync = _active("contacts", hubspot)
    app = MemoryApp("m_")
    kept_during_call = []
    connector = app.connector()
    original = connector.write

    def spying(kind, creates=(), updates=None):
        kept_during_call.append(sorted(EchoWrite.objects.values_list("record_id", flat=True)))
        return original(kind, creates, updates)

    connector.write = spying
    echo.watch_writes(connector, sync.pk, "a", "contacts")
    echo.watch_writes(connector, sync.pk, "a", "contacts")  # watched once, whoever asks again
    made = connector.write("contacts", [{"m_email": "n@example.com", "m_last": "N"}], {})
    new_id = made[0].id
    assert made[0].ok and new_id
    connector.write("contacts", [], {new_id: {"m_last": "M"}})
    connector.write("companies", [{"m_name": "Not this sync's"}], {})
    # The create was kept once its id was known, the update before the app could report it.
    assert kept_during_call == [[], [new_id], [new_id]]
    row = EchoWrite.objects.get()
    assert (row.record_id, row.created, row.values) == (new_id, True, {"m_email": "n@example.com", "m_last": "M"})
    assert not connector.write("contacts", [], {new_id: {"m_nope": "x"}})[0].ok
    assert not EchoWrite.objects.exists()  # a refused write comes back as nothing: forgotten


def test_values_compare_in_the_apps_own_spellings():
    assert echo.same(echo.as_text(Decimal("1000.0")), "1000") and echo.same(echo.as_text(3), 3.0)
    assert echo.same(echo.as_text(True), True) and echo.same(echo.as_text(False), "false")
    assert not echo.same(echo.as_text(True), "false")
    assert echo.same(echo.as_text(None), "") and echo.same(echo.as_text(""), None)
    assert not echo.same(echo.as_text(None), "x") and not echo.same(echo.as_text("x"), None)
    moment = datetime(2026, 12, 3, 17, 0, 5, tzinfo=UTC)
    assert echo.same(echo.as_text(moment), "2026-12-03T17:00:05.000+0000")
    assert echo.same(echo.as_text(moment), str(int(moment.timestamp() * 1000)))  # HubSpot's milliseconds
    assert not echo.same(echo.as_text(moment), "2026-12-03T17:00:06.000+0000")
    assert echo.same(echo.as_text(date(2026, 12, 3)), "2026-12-03")
    assert not echo.same(echo.as_text("Ours"), "ours")


def test_a_polled_row_is_our_write_only_with_our_values_and_stamped_before_the_write_returned(hubspot):
    sync = _active("contacts", hubspot)
    echo._keep(sync.pk, "b", {"003A": {"LastName": "Ours"}, "003B": {"LastName": "Ours"}, "003C": {"LastName": "Ours"}},
               created=False)
    written = EchoWrite.objects.first().written_at
    stamp = lambda moment: moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")  # noqa: E731
    rows = [
        {"Id": "003A", "SystemModstamp": stamp(written), "LastName": "Ours"},
        {"Id": "003B", "SystemModstamp": stamp(written), "LastName": "Theirs"},
        {"Id": "003C", "SystemModstamp": stamp(written + timedelta(seconds=10)), "LastName": "Ours"},
        {"Id": "003D", "SystemModstamp": stamp(written), "LastName": "Ours"},
    ]
    assert echo.poll_fields(sync.pk, "b") == ["LastName"]
    assert [r["Id"] for r in echo.changed_rows(sync.pk, "b", rows)] == ["003B", "003C", "003D"]
    assert set(EchoWrite.objects.values_list("record_id", flat=True)) == {"003A"}


def test_the_poll_compares_no_fields_when_our_writes_touch_too_many(hubspot):
    sync = _active("contacts", hubspot)
    echo._keep(sync.pk, "b", {"003A": {f"Field{n}__c": "x" for n in range(echo.MAX_POLL_FIELDS + 1)}}, created=False)
    assert echo.poll_fields(sync.pk, "b") == []


def test_a_scheduled_run_remembers_its_writes_too(apps):
    from syncrules import tasks
    from syncrules.tests.factories import make_memory_sync

    apps.a.create("contacts", email="ann@example.com", first="Ann", last="Lee")
    sync = make_memory_sync(apps, state=ObjectSync.State.ACTIVE)
    assert tasks.run_object_sync(sync.pk) is not None
    (created,) = apps.b.all("contacts")
    row = EchoWrite.objects.get(object_sync=sync)
    assert (row.side, row.record_id, row.created) == ("b", created, True)
