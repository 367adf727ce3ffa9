"""Crash-safe claims: a run's lease on its sync, renewed by a heartbeat, freed when it expires."""

from datetime import timedelta

import pytest
from django.utils import timezone

from connectors.http import HttpClient
from syncrules import tasks
from syncrules.engine import run_sync
from syncrules.lease import Heartbeat, LeaseLost, RunLease, reap_expired_claims
from syncrules.models import ObjectSync, SyncRun
from syncrules.tests.factories import make_memory_sync, make_sync

pytestmark = pytest.mark.django_db


def expire(sync: ObjectSync) -> None:
    ObjectSync.objects.filter(pk=sync.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))


def test_a_claim_is_held_until_its_lease_expires_and_is_free_after(settings):
    settings.SYNC_LEASE_SECONDS = 120
    sync = make_sync()
    assert sync.claim()
    assert 119 < (sync.lease_expires_at - timezone.now()).total_seconds() <= 120
    assert not ObjectSync.objects.get(pk=sync.pk).claim()
    expire(sync)
    held = ObjectSync.objects.get(pk=sync.pk)
    assert held.lease_expired and not held.is_running
    assert ObjectSync.objects.get(pk=sync.pk).claim()


def test_renewing_pushes_the_expiry_forward_so_a_live_run_keeps_its_claim(settings):
    settings.SYNC_LEASE_SECONDS = 120
    sync = make_sync()
    assert sync.claim()
    ObjectSync.objects.filter(pk=sync.pk).update(lease_expires_at=timezone.now() + timedelta(seconds=2))
    assert sync.renew()
    stored = ObjectSync.objects.get(pk=sync.pk)
    assert (stored.lease_expires_at - timezone.now()).total_seconds() > 100
    assert stored.is_running and not stored.claim()


def test_a_stale_worker_can_neither_renew_nor_release_the_claim_another_worker_took():
    sync = make_sync()
    stale = ObjectSync.objects.get(pk=sync.pk)
    assert stale.claim()
    expire(sync)
    fresh = ObjectSync.objects.get(pk=sync.pk)
    assert fresh.claim()
    assert not stale.renew()
    assert not stale.release()
    stored = ObjectSync.objects.get(pk=sync.pk)
    assert stored.lease_token == fresh.lease_token and stored.running_since == fresh.running_since
    assert fresh.release()
    assert ObjectSync.objects.get(pk=sync.pk).running_since is None


def test_releasing_an_unclaimed_sync_changes_nothing():
    sync = make_sync()
    assert not sync.release()
    assert ObjectSync.objects.get(pk=sync.pk).next_run_at is None


def test_the_heartbeat_renews_the_lease_and_notices_a_takeover():
    sync = make_sync()
    assert sync.claim()
    beat = Heartbeat(sync, interval=60)
    ObjectSync.objects.filter(pk=sync.pk).update(lease_expires_at=timezone.now())
    assert beat.beat() and beat.beats == 1 and not beat.lost
    assert ObjectSync.objects.get(pk=sync.pk).lease_expires_at > timezone.now() + timedelta(seconds=60)
    expire(sync)
    assert ObjectSync.objects.get(pk=sync.pk).claim()  # another worker
    assert not beat.beat() and beat.lost


def test_a_run_that_lost_its_lease_stops_at_its_next_request():
    sync = make_sync()
    assert sync.claim()
    sent = []
    client = HttpClient("http://127.0.0.1:9", sleep=lambda s: None)
    client._send = lambda method, path, kwargs: sent.append(path)
    with RunLease(sync, interval=60) as lease:
        expire(sync)
        assert ObjectSync.objects.get(pk=sync.pk).claim()
        lease.heartbeat.beat()
        with pytest.raises(LeaseLost, match="taken over by another worker"):
            client.request("GET", "/anything")
    assert sent == []


def test_a_run_waiting_for_api_budget_shows_it_and_clears_it(apps):
    from connectors.http import RateLimiter

    sync = make_memory_sync(apps)
    assert sync.claim()
    run = SyncRun.objects.create(object_sync=sync, kind=SyncRun.Kind.INCREMENTAL, lease_token=sync.lease_token)
    seen, now = [], [0.0]

    def sleep(seconds):
        seen.append(SyncRun.objects.get(pk=run.pk).waiting_for)
        now[0] += seconds

    limiter = RateLimiter(1, 5.0, clock=lambda: now[0], sleep=sleep)
    limiter.acquire()
    with RunLease(sync, interval=60) as lease:
        lease.attach(run)
        limiter.acquire()
    assert seen == ["Waiting for API budget (rate limit: 1 requests per 5 s)"]
    assert SyncRun.objects.get(pk=run.pk).waiting_for == ""


def test_a_killed_workers_run_is_closed_as_interrupted_and_the_next_dispatch_runs_the_sync(
    apps, django_capture_on_commit_callbacks,
):
    apps.a.create("contacts", email="ann@example.com", first="Ann", last="Lee")
    sync = make_memory_sync(apps, state=ObjectSync.State.ACTIVE, next_run_at=timezone.now() - timedelta(seconds=1))
    dead = ObjectSync.objects.get(pk=sync.pk)
    assert dead.claim()  # the worker that is then SIGKILLed: it never renews nor releases
    killed = SyncRun.objects.create(object_sync=sync, kind=SyncRun.Kind.INITIAL, lease_token=dead.lease_token,
                                    processed=40, created=12, updated=3, failed=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.dispatch_due_syncs() == []  # the lease is still live: nothing runs twice
    assert SyncRun.objects.filter(object_sync=sync).count() == 1
    expire(sync)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.dispatch_due_syncs() == [sync.pk]
    killed.refresh_from_db()
    assert killed.status == SyncRun.Status.INTERRUPTED and killed.finished_at
    assert (killed.processed, killed.created, killed.updated, killed.failed) == (40, 12, 3, 1)
    assert "after 40 records (created 12, updated 3, matched 0, failed 1)" in killed.error
    latest = SyncRun.objects.filter(object_sync=sync).latest("pk")
    assert latest.pk != killed.pk and latest.status == SyncRun.Status.SUCCEEDED
    assert len(apps.b.all("contacts")) == 1
    assert ObjectSync.objects.get(pk=sync.pk).running_since is None


def test_reaping_leaves_a_live_claim_and_its_run_alone():
    sync = make_sync()
    assert sync.claim()
    run = SyncRun.objects.create(object_sync=sync, kind=SyncRun.Kind.INCREMENTAL, lease_token=sync.lease_token)
    assert reap_expired_claims() == []
    assert SyncRun.objects.get(pk=run.pk).status == SyncRun.Status.RUNNING
    assert ObjectSync.objects.get(pk=sync.pk).is_running


def test_a_run_closes_the_runs_of_earlier_leases_but_not_its_own(apps):
    sync = make_memory_sync(apps)
    old = SyncRun.objects.create(object_sync=sync, kind=SyncRun.Kind.INITIAL, lease_token="0" * 32)
    run = run_sync(sync.pk)
    assert SyncRun.objects.get(pk=old.pk).status == SyncRun.Status.INTERRUPTED
    assert run.status == SyncRun.Status.SUCCEEDED and run.lease_token



def test_the_health_overview_tells_a_stopped_worker_from_a_running_one(admin_client):
    from django.urls import reverse

    running, stopped = make_sync(), make_sync()
    assert running.claim() and stopped.claim()
    ObjectSync.objects.filter(pk__in=[running.pk, stopped.pk]).update(state=ObjectSync.State.ACTIVE)
    expire(stopped)
    SyncRun.objects.create(object_sync=running, kind=SyncRun.Kind.INCREMENTAL, lease_token=running.lease_token,
                           waiting_for="Waiting for API budget (rate limit: 190 requests per 10.55 s)")
    page = admin_client.get(reverse("health:overview")).content.decode()
    assert page.count("Worker stopped") == 1 and "runs again at its next due time" in page
    assert f'id="waiting-{running.pk}">Waiting for API budget (rate limit: 190 requests per 10.55 s)' in page
