"""The property-based runs of test_engine_properties.py, with the apps failing and the worker
killed between and during steps: whole calls refused for a while (transient errors of each
kind), a write applied whose answer is lost, and the worker killed at a write boundary (the
claim left behind, then stale). Whatever happens, once the apps recover and the retries are due,
a few quiet runs leave both apps agreeing, nothing duplicated, the latest edits kept, and a
further run writes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import event, given, settings
from hypothesis import strategies as st

from connectors.errors import ConnectorError, ErrorCategory
from syncrules.engine import run_sync
from syncrules.models import Direction, LinkStatus, ObjectSync, RecordLink, SyncRun
from syncrules.tests.test_crash import BOUNDARIES, Kill, Killed, boundaries  # noqa: F401 (fixture)
from syncrules.tests.test_engine_properties import (
    SIDES,
    World,
    check_latest_edits_won,
    check_two_way,
    create,
    edit,
    edit_both,
    sync_now,
    wait,
)

pytestmark = pytest.mark.django_db
TRANSIENT = st.sampled_from([ErrorCategory.APP_UNAVAILABLE, ErrorCategory.RATE_LIMITED,
                             ErrorCategory.MALFORMED_RESPONSE, ErrorCategory.RECORD_LOCKED])
# The next calls of one app fail as a whole (any call, or only write batches).
refuse = st.tuples(st.just("refuse"), SIDES, st.booleans(), TRANSIENT, st.integers(1, 3))
# The app applies the next write batch, and the worker never hears back.
lost_answer = st.tuples(st.just("lost_answer"), SIDES)
# A run is killed at the n-th crossing of a write boundary (if it gets that far).
kill = st.tuples(st.just("kill"), st.sampled_from(BOUNDARIES), st.integers(1, 4))
operations = st.lists(
    st.one_of(create, create, edit, edit, edit_both, wait, sync_now, refuse, lost_answer, kill, kill),
    min_size=1, max_size=25,
)


def expire_claim(sync) -> None:
    """A killed worker's claim goes stale (the time a lease takes to expire)."""
    ObjectSync.objects.filter(pk=sync.pk).update(running_since=timezone.now() - timedelta(hours=3), lease_expires_at=timezone.now() - timedelta(hours=2))


class FaultyWorld(World):
    def __init__(self, direction, arm, monkeypatch):
        super().__init__(direction)
        self.arm, self.monkeypatch = arm, monkeypatch
        self.kills = 0

    def apply(self, op):
        kind = op[0]
        if kind == "refuse":
            _, side, writes_only, category, count = op
            errors = [ConnectorError(category, f"injected {category.code}") for _ in range(count)]
            app = self.app(side)
            (app.fail_write_calls if writes_only else app.fail_calls).extend(errors)
        elif kind == "lost_answer":
            self.app(op[1]).crash_after_writes = 1
        elif kind == "kill":
            self.arm(Kill(op[1], op[2]))
            try:
                with self.monkeypatch.context() as patched:
                    patched.setattr(ObjectSync, "release", lambda sync: None)
                    run_sync(self.sync.pk)
            except Killed:
                self.kills += 1
            expire_claim(self.sync)  # killed or not, a stale claim must not matter
            self.arm(Kill())
            self.synced = True
        else:
            super().apply(op)

    def recover(self):
        for app in (self.apps.a, self.apps.b):
            app.fail_calls.clear()
            app.fail_write_calls.clear()
            app.crash_after_writes = None

    def run_until_quiet(self, runs=5):
        for _ in range(runs):
            RecordLink.objects.filter(object_sync=self.sync).exclude(next_retry_at=None).update(
                next_retry_at=timezone.now() - timedelta(seconds=1))
            run = run_sync(self.sync.pk)
            assert run is not None, "the sync stayed claimed"
            if run.status == SyncRun.Status.SUCCEEDED and not (run.created or run.updated or run.matched):
                return
        raise AssertionError("no quiet run")


@settings(max_examples=40)
@given(operations)
def test_two_way_runs_under_faults_and_kills_converge_without_duplicates(memory_connections, boundaries, monkeypatch,  # noqa: F811
                                                                         ops):
    with transaction.atomic():
        world = FaultyWorld(Direction.TWO_WAY, boundaries, monkeypatch)
        for op in ops:
            world.apply(op)
        world.recover()
        event(f"killed {min(world.kills, 2)}+ times")
        world.run_until_quiet()
        failing = RecordLink.objects.filter(object_sync=world.sync, status=LinkStatus.FAILING)
        # Only duplicates made by people wait for a person; every transient failure has recovered.
        assert set(failing.values_list("error_category", flat=True)) <= {"duplicate_record"}
        check_two_way(world)
        check_latest_edits_won(world)
        settled = world.apps.written
        run = run_sync(world.sync.pk)
        assert world.apps.written == settled and run.created == run.updated == 0
        assert not SyncRun.objects.filter(object_sync=world.sync, status=SyncRun.Status.RUNNING).exists()
        transaction.set_rollback(True)


@settings(max_examples=20)
@given(operations)
def test_one_way_runs_under_faults_and_kills_never_write_to_the_source(memory_connections, boundaries, monkeypatch,  # noqa: F811
                                                                       ops):
    with transaction.atomic():
        world = FaultyWorld(Direction.TO_B, boundaries, monkeypatch)
        for op in ops:
            world.apply(op)
        world.recover()
        world.run_until_quiet()
        assert world.apps.a.written == 0
        emails_a = {(r.get("ha_email") or "").lower() for r in world.apps.a.all("contacts").values()} - {""}
        emails_b = {(r.get("sf_email") or "").lower() for r in world.apps.b.all("contacts").values()}
        assert emails_a <= emails_b
        transaction.set_rollback(True)
