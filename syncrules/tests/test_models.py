"""Model constraints and one-row state changes."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from syncrules.models import Direction, LinkStatus, ObjectSync, RecordLink, RecordOutcome, Side, SyncRun
from syncrules.tests.factories import make_connection, make_sync

pytestmark = pytest.mark.django_db


def test_it_refuses_two_links_with_the_same_id_on_side_a():
    sync = make_sync()
    RecordLink.objects.create(object_sync=sync, id_a="101", id_b="003A")
    with pytest.raises(IntegrityError), transaction.atomic():
        RecordLink.objects.create(object_sync=sync, id_a="101", id_b="003B")


def test_it_refuses_two_links_with_the_same_id_on_side_b():
    sync = make_sync()
    RecordLink.objects.create(object_sync=sync, id_a="101", id_b="003A")
    with pytest.raises(IntegrityError), transaction.atomic():
        RecordLink.objects.create(object_sync=sync, id_a="102", id_b="003A")


def test_it_allows_many_one_sided_links_and_the_same_ids_in_another_sync():
    sync = make_sync()
    RecordLink.objects.create(object_sync=sync, id_a="1", status=LinkStatus.EXCLUDED)
    RecordLink.objects.create(object_sync=sync, id_a="2", status=LinkStatus.EXCLUDED)
    other = make_sync(connection_a=sync.connection_a, connection_b=sync.connection_b, object_type="companies")
    RecordLink.objects.create(object_sync=other, id_a="1", id_b="001A")
    assert RecordLink.objects.count() == 3


def test_it_refuses_a_link_with_no_id_at_all():
    sync = make_sync()
    with pytest.raises(IntegrityError), transaction.atomic():
        RecordLink.objects.create(object_sync=sync)


def test_it_refuses_a_sync_between_a_connection_and_itself():
    conn = make_connection()
    with pytest.raises(IntegrityError), transaction.atomic():
        ObjectSync.objects.create(connection_a=conn, connection_b=conn, object_type="contacts")


def test_a_link_is_found_by_either_id_in_one_indexed_lookup():
    sync = make_sync()
    RecordLink.objects.create(object_sync=sync, id_a="7", id_b="003X")
    assert RecordLink.objects.get(object_sync=sync, id_b="003X").id_a == "7"
    assert RecordLink.objects.get(object_sync=sync, id_a="7").id_b == "003X"


def test_only_one_worker_can_claim_a_sync():
    sync = make_sync()
    assert sync.claim()
    assert not ObjectSync.objects.get(pk=sync.pk).claim()
    sync.release()
    assert ObjectSync.objects.get(pk=sync.pk).claim()


def test_a_stale_claim_can_be_taken_over():
    sync = make_sync()
    ObjectSync.objects.filter(pk=sync.pk).update(running_since=timezone.now() - timedelta(hours=3))
    assert ObjectSync.objects.get(pk=sync.pk).claim()


def test_a_worker_whose_claim_was_taken_over_does_not_release_the_new_claim():
    sync = make_sync()
    ObjectSync.objects.filter(pk=sync.pk).update(running_since=timezone.now() - timedelta(hours=3))
    stale = ObjectSync.objects.get(pk=sync.pk)
    fresh = ObjectSync.objects.get(pk=sync.pk)
    assert fresh.claim()
    stale.release()
    assert ObjectSync.objects.get(pk=sync.pk).running_since == fresh.running_since
    fresh.release()
    assert ObjectSync.objects.get(pk=sync.pk).running_since is None


def test_direction_decides_which_side_may_be_written():
    sync = make_sync(direction=Direction.TO_B)
    assert sync.flows_to(Side.B) and not sync.flows_to(Side.A)
    sync.direction = Direction.TWO_WAY
    assert sync.flows_to(Side.A) and sync.flows_to(Side.B)


def test_turning_a_sync_on_schedules_it_and_off_unschedules_it():
    sync = make_sync()
    sync.turn_on()
    assert sync.state == ObjectSync.State.ACTIVE and sync.next_run_at is not None
    sync.turn_off()
    sync.refresh_from_db()
    assert sync.state == ObjectSync.State.OFF and sync.next_run_at is None


def test_a_finished_run_with_failures_is_partial():
    run = SyncRun.objects.create(object_sync=make_sync(), kind=SyncRun.Kind.INITIAL, failed=2)
    run.finish()
    assert run.status == SyncRun.Status.PARTIAL and run.finished_at is not None
    run.finish(error="connection refused")
    assert run.status == SyncRun.Status.FAILED


def test_a_failed_outcome_gets_its_categorys_hint():
    sync = make_sync()
    run = SyncRun.objects.create(object_sync=sync, kind=SyncRun.Kind.INITIAL)
    outcome = RecordOutcome.objects.create(
        run=run, object_sync=sync, action=RecordOutcome.Action.FAILED, category="value_too_long", message="x"
    )
    assert "Shorten" in outcome.hint
