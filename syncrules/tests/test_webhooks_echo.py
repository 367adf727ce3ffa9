"""Our own writes coming back (HubSpot webhooks, Salesforce polls) queue no run: a report that
holds what the link last synced is dropped; a user's edit of the same record right after ours
still queues a run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from syncrules.models import FieldMapping, RecordLink
from syncrules.tests.factories import make_connection
from syncrules.tests.test_webhooks import PORTAL, SECRET, _active, _event, _post
from syncrules.webhooks import echo
from syncrules.webhooks.models import SyncTrigger

pytestmark = pytest.mark.django_db

NAME, SCORE = "lastname|LastName", "score|Score__c"


@pytest.fixture
def hubspot(db):
    return make_connection("hubspot", "HubSpot", credentials={"hub_id": PORTAL, "client_secret": SECRET,
                                                              "access_token": "pat-x"})


@pytest.fixture
def sync(hubspot):
    """A contact sync whose HubSpot 11 / Salesforce 003A was just synced with lastname Ours, score 12.5."""
    sync = _active("contacts", hubspot)
    FieldMapping.objects.create(object_sync=sync, field_a="lastname", field_b="LastName")
    FieldMapping.objects.create(object_sync=sync, field_a="score", field_b="Score__c")
    RecordLink.objects.create(object_sync=sync, id_a="11", id_b="003A", last_synced_at=timezone.now(),
                              last_values={NAME: ["Ours", "Ours"], SCORE: ["12.5", "12.5"]})
    return sync


def _change(object_id, name, value, **extra):
    return _event(object_id, "contact.propertyChange", propertyName=name, propertyValue=value, **extra)


def _deliver(client, capture, *events):
    with capture(execute=True):
        assert _post(client, list(events)).status_code == 200


def test_a_webhook_reporting_the_values_last_synced_queues_no_run_but_is_counted(client, sync, queued, django_capture_on_commit_callbacks):
    _deliver(client, django_capture_on_commit_callbacks, _change(11, "lastname", "Ours"), _change(11, "score", "12.50", event_id=2))
    assert queued == []
    trigger = SyncTrigger.objects.get(pk=sync.pk)
    assert trigger.webhook_events == 2 and trigger.last_webhook_at is not None


def test_a_user_edit_right_after_our_write_queues_a_run_and_so_does_setting_it_back(client, sync, queued, django_capture_on_commit_callbacks):
    _deliver(client, django_capture_on_commit_callbacks, _change(11, "lastname", "Ours"), _change(11, "lastname", "Theirs", event_id=2))
    assert queued == [sync.pk]
    # The run syncs "Theirs"; the user then sets our old value back: a change again.
    RecordLink.objects.filter(object_sync=sync).update(last_values={NAME: ["Theirs", "Theirs"], SCORE: ["12.5", "12.5"]})
    SyncTrigger.objects.filter(pk=sync.pk).update(queued_at=None)
    _deliver(client, django_capture_on_commit_callbacks, _change(11, "lastname", "Theirs", event_id=3))
    assert queued == [sync.pk]  # what the run synced already: nothing to do
    _deliver(client, django_capture_on_commit_callbacks, _change(11, "lastname", "Ours", event_id=4))
    assert queued == [sync.pk, sync.pk]


@pytest.mark.parametrize("other", [
    _change(11, "email", "x@example.com", event_id=2),  # a property no mapping holds
    _event(11, "contact.associationChange", event_id=2, associationType="CONTACT_TO_COMPANY", fromObjectId=11,
           toObjectId=5),
    _change(12, "lastname", "Ours", event_id=2),  # a record with no link
], ids=["unmapped-property", "association", "unlinked-record"])
def test_anything_else_beside_our_write_is_a_change(client, sync, queued, other, django_capture_on_commit_callbacks):
    _deliver(client, django_capture_on_commit_callbacks, _change(11, "lastname", "Ours"), other)
    assert queued == [sync.pk]


def test_the_creation_of_a_record_a_run_created_queues_no_run_and_another_creation_does(client, sync, queued, django_capture_on_commit_callbacks):
    made_at = int((timezone.now() - timedelta(seconds=1)).timestamp() * 1000)
    _deliver(client, django_capture_on_commit_callbacks, _event(11, "contact.creation", occurredAt=made_at),
             _change(11, "lastname", "Ours", event_id=2, occurredAt=made_at))
    assert queued == []
    _deliver(client, django_capture_on_commit_callbacks, _event(12, "contact.creation", event_id=3))  # a user's new contact
    assert queued == [sync.pk]


def test_a_creation_after_the_links_last_sync_is_a_change(client, sync, queued, django_capture_on_commit_callbacks):
    later = int((timezone.now() + timedelta(seconds=30)).timestamp() * 1000)
    _deliver(client, django_capture_on_commit_callbacks, _event(11, "contact.creation", occurredAt=later))
    assert queued == [sync.pk]


def test_a_creation_stamped_out_of_range_is_a_change_not_an_error(client, sync, queued, django_capture_on_commit_callbacks):
    _deliver(client, django_capture_on_commit_callbacks, _event(11, "contact.creation", occurredAt=10**20))
    assert queued == [sync.pk]
    assert echo.same("2026-01-01T00:00:00Z", "9" * 20) is False


def test_one_syncs_write_is_a_change_for_another_sync_of_the_same_portal(client, sync, hubspot, queued, django_capture_on_commit_callbacks):
    other = _active("contacts", hubspot, connection_b=make_connection("salesforce", "Second org"))
    FieldMapping.objects.create(object_sync=other, field_a="lastname", field_b="LastName")
    _deliver(client, django_capture_on_commit_callbacks, _change(11, "lastname", "Ours"))
    assert queued == [other.pk]


def test_values_compare_in_the_apps_own_spellings():
    assert echo.same("1000", "1000.0") and echo.same("3", 3.0) and echo.same("12.5", "12.50")
    assert echo.same(True, "true") and echo.same(False, False) and not echo.same(True, "false")
    assert echo.same(None, "") and echo.same(None, None) and echo.same(None, "  ")
    assert not echo.same(None, "x") and not echo.same("x", None)
    assert echo.same("Ours", " Ours ") and not echo.same("Ours", "ours")
    moment = datetime(2026, 12, 3, 17, 0, 5, tzinfo=UTC)
    assert echo.same(moment.isoformat(), "2026-12-03T17:00:05.000+0000")
    assert echo.same(moment.isoformat(), str(int(moment.timestamp() * 1000)))  # HubSpot's milliseconds
    assert not echo.same(moment.isoformat(), "2026-12-03T17:00:06.000+0000")
    assert echo.same("2026-12-03", "2026-12-03")


def test_a_polled_row_is_no_change_only_with_the_synced_values_and_stamped_before_the_last_sync(sync):
    synced = timezone.now()
    RecordLink.objects.create(object_sync=sync, id_a="21", id_b="003B", last_synced_at=synced,
                              last_values={NAME: ["Ours", "Ours"], SCORE: ["1", "1"]})
    RecordLink.objects.filter(id_b="003A").update(last_synced_at=synced)
    stamp = lambda moment: moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")  # noqa: E731
    rows = [
        {"Id": "003A", "SystemModstamp": stamp(synced), "LastName": "Ours", "Score__c": 12.5},
        {"Id": "003B", "SystemModstamp": stamp(synced), "LastName": "Theirs", "Score__c": 1},
        {"Id": "003C", "SystemModstamp": stamp(synced), "LastName": "Ours", "Score__c": 1},  # no link
    ]
    fields = echo.poll_fields(sync.pk, "b")
    assert fields == ["LastName", "Score__c"]
    assert [r["Id"] for r in echo.changed_rows(sync.pk, "b", rows, fields)] == ["003B", "003C"]
    # Stamped well after the last sync (an AccountId no mapping holds, say): a change.
    rows[0]["SystemModstamp"] = stamp(synced + timedelta(seconds=10))
    assert [r["Id"] for r in echo.changed_rows(sync.pk, "b", rows[:1], fields)] == ["003A"]


def test_the_poll_compares_nothing_when_the_sync_maps_too_many_fields(sync):
    for n in range(echo.MAX_POLL_FIELDS):
        FieldMapping.objects.create(object_sync=sync, field_a=f"f{n}", field_b=f"Field{n}__c")
    assert echo.poll_fields(sync.pk, "b") == []
    row = {"Id": "003A", "SystemModstamp": timezone.now().isoformat(), "LastName": "Ours"}
    assert echo.changed_rows(sync.pk, "b", [row], []) == [row]


def test_a_polled_deletion_is_a_change_only_while_its_link_still_stands(sync):
    from syncrules.models import LinkStatus

    RecordLink.objects.create(object_sync=sync, id_a="21", id_b="003B", status=LinkStatus.DELETED_B)
    RecordLink.objects.create(object_sync=sync, id_a=None, id_b="003C")  # one-sided: never synced
    rows = [{"Id": i, "SystemModstamp": timezone.now().isoformat(), "IsDeleted": True}
            for i in ("003A", "003B", "003C", "003D")]
    assert [r["Id"] for r in echo.deleted_rows(sync.pk, "b", rows)] == ["003A"]
    assert echo.deleted_rows(sync.pk, "b", []) == []
    assert echo.deleted_rows(sync.pk, "a", [{"Id": "11", "IsDeleted": True}]) == [{"Id": "11", "IsDeleted": True}]


def _association(event_id, company, *, removed=False, reverse=False):
    halves = ("COMPANY_TO_CONTACT", company, 11) if reverse else ("CONTACT_TO_COMPANY", 11, company)
    kind = "company" if reverse else "contact"
    return _event(halves[1], f"{kind}.associationChange", event_id=event_id, associationType=halves[0],
                  fromObjectId=halves[1], toObjectId=halves[2], associationRemoved=removed)


def test_an_association_change_the_link_already_holds_queues_no_run_and_any_other_does(client, sync, queued, django_capture_on_commit_callbacks):
    companies = _active("companies", sync.connection_a)
    RecordLink.objects.create(object_sync=companies, id_a="5", id_b="001A")
    RecordLink.objects.filter(object_sync=sync, id_a="11").update(associations={"companies": ["5|001A"]})
    # Our run's write of contact 11 -> company 5, in both directions, and the removal of company 6.
    _deliver(client, django_capture_on_commit_callbacks, _association(1, 5), _association(2, 5, reverse=True),
             _association(3, 6, removed=True))
    # Company 6 has no link in the company sync: a record it has not synced, so a change there.
    assert queued == [companies.pk]
    SyncTrigger.objects.update(queued_at=None)
    queued.clear()
    _deliver(client, django_capture_on_commit_callbacks, _association(4, 5, removed=True))  # a user removed it
    assert queued == [sync.pk]  # the company sync syncs no contacts of its companies
    SyncTrigger.objects.update(queued_at=None)
    queued.clear()
    _deliver(client, django_capture_on_commit_callbacks, _association(5, 7))  # a user added company 7 (unlinked)
    assert queued == [sync.pk, companies.pk]


def test_an_association_of_a_type_the_sync_does_not_sync_is_no_change_for_it(sync):
    deal = {"subscriptionType": "contact.associationChange", "associationType": "CONTACT_TO_DEAL",
            "fromObjectId": 11, "toObjectId": 9, "associationRemoved": False}
    assert echo.changed_by_events(sync.pk, "a", {"11": [deal]}, "contacts") == set()
    odd = {**deal, "associationType": "CONTACT_TO_TICKET"}  # a type we cannot place: a change
    assert echo.changed_by_events(sync.pk, "a", {"11": [odd]}, "contacts") == {"11"}
    assert echo.changed_by_events(sync.pk, "a", {"11": [deal]}) == {"11"}  # no object type given: a change
