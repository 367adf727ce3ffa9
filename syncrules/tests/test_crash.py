"""A worker killed at every write boundary in turn, then run again, converges: nothing is lost,
nothing is duplicated, both apps agree.

The kill is a BaseException raised at the boundary (the engine's `except Exception` cannot catch
it, as it could not catch a SIGKILL), and the claim is not released (a killed worker releases
nothing); the next worker takes the sync over once the claim is stale. Boundaries are found at
the connector and database level, not in the engine's code, so they hold whichever module does
the writing: the app applied a write and the worker died before hearing the answer; the INSERT or
UPDATE of record links, of outcomes, of a cursor (object sync), of the run's counters.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

import pytest
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from syncrules.engine import run_sync
from syncrules.models import LinkStatus, ObjectSync, RecordLink, SyncRun
from syncrules.tests.factories import make_memory_sync
from syncrules.tests.memory_connector import MemoryConnector

pytestmark = pytest.mark.django_db
C = "contacts"
BOUNDARIES = ("app write", "link save", "outcome write", "cursor save", "run progress")
STATEMENT = re.compile(r'^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.I)


class Killed(BaseException):
    """The worker process died here (not an Exception: nothing in the engine may catch it)."""


class Kill:
    """Counts the boundaries a run crosses and kills it at the `at`-th crossing of `boundary`."""

    def __init__(self, boundary: str | None = None, at: int = 0) -> None:
        self.boundary, self.at = boundary, at
        self.seen: Counter = Counter()
        self.fired = False

    def cross(self, boundary: str) -> None:
        self.seen[boundary] += 1
        if boundary == self.boundary and self.seen[boundary] == self.at and not self.fired:
            self.fired = True
            raise Killed(f"killed at {boundary} #{self.at}")


def boundary_of(sql: str) -> str | None:
    match = STATEMENT.match(sql)
    if not match:
        return None
    verb, table = match.group(1).split()[0].upper(), match.group(2).lower()
    if table == "syncrules_recordlink" and verb in ("INSERT", "UPDATE"):
        return "link save"
    if table == "syncrules_recordoutcome" and verb == "INSERT":
        return "outcome write"
    if table == "syncrules_objectsync" and verb == "UPDATE" and "cursor_" in sql:
        return "cursor save"
    if table == "syncrules_syncrun" and verb == "UPDATE":
        return "run progress"
    return None


@pytest.fixture
def boundaries(monkeypatch):
    """Install a Kill's tripwires at the connector's writes and the database's writes."""
    state = {"kill": Kill()}
    write = MemoryConnector.write
    execute, executemany = CursorWrapper.execute, CursorWrapper.executemany

    def killing_write(self, *args, **kwargs):
        results = write(self, *args, **kwargs)
        state["kill"].cross("app write")  # applied by the app; the answer never reaches the engine
        return results

    def killing_execute(self, sql, params=None):
        name = boundary_of(sql) if isinstance(sql, str) else None
        if name:
            state["kill"].cross(name)
        return execute(self, sql, params)

    def killing_executemany(self, sql, param_list):
        name = boundary_of(sql) if isinstance(sql, str) else None
        if name:
            state["kill"].cross(name)
        return executemany(self, sql, param_list)

    monkeypatch.setattr(MemoryConnector, "write", killing_write)
    monkeypatch.setattr(CursorWrapper, "execute", killing_execute)
    monkeypatch.setattr(CursorWrapper, "executemany", killing_executemany)

    def arm(kill: Kill) -> Kill:
        state["kill"] = kill
        return kill

    return arm


def killed_run(sync, kill, monkeypatch):
    """Run `sync` until `kill` fires; the dead worker releases nothing. Then its claim goes
    stale (the time a lease or the stale-claim rule takes) so another worker can take over."""
    with monkeypatch.context() as patched:
        patched.setattr(ObjectSync, "release", lambda self: None)
        with pytest.raises(Killed):
            run_sync(sync.pk)
    assert ObjectSync.objects.get(pk=sync.pk).running_since is not None  # still claimed by the dead
    ObjectSync.objects.filter(pk=sync.pk).update(running_since=timezone.now() - timedelta(hours=3), lease_expires_at=timezone.now() - timedelta(hours=2))


def run_until_quiet(sync, runs: int = 6) -> list[SyncRun]:
    done = []
    for _ in range(runs):
        RecordLink.objects.filter(object_sync=sync).exclude(next_retry_at=None).update(
            next_retry_at=timezone.now() - timedelta(seconds=1))
        run = run_sync(sync.pk)
        assert run is not None, "the sync stayed claimed by the killed worker"
        done.append(run)
        if run.status == SyncRun.Status.SUCCEEDED and not (run.created or run.updated or run.matched or run.failed):
            return done
    raise AssertionError(f"no quiet run after {runs}: {[(r.status, r.created, r.updated, r.failed) for r in done]}")


class Scenario:
    """Two memory apps with overlapping contacts, small pages and batches (many boundaries)."""

    def __init__(self, apps) -> None:
        self.apps = apps
        apps.a.page_size = apps.b.page_size = 3
        apps.a.batch_size = apps.b.batch_size = 2
        for n in range(10):
            apps.a.create(C, email=f"p{n}@example.com", first=f"A{n}", last="Ant")
        for n in range(5, 11):
            apps.b.create(C, email=f"P{n}@Example.com", first=f"B{n}", last="Bee")
        self.sync = make_memory_sync(apps)
        self.expected: dict[str, dict[str, str]] = {}  # email -> field values both apps must hold

    def edit_both_sides(self) -> None:
        """Edits on both sides and new records on both, a minute after the last run."""
        apps = self.apps
        apps.clock.advance(minutes=10)
        by_email = {side: {v[f"{app.prefix}email"].lower(): rid for rid, v in app.all(C).items()}
                    for side, app in (("a", apps.a), ("b", apps.b))}
        for n in range(4):
            apps.a.edit(C, by_email["a"][f"p{n}@example.com"], first=f"Edited{n}")
            self.expected[f"p{n}@example.com"] = {"first": f"Edited{n}"}
        for n in range(6, 9):
            apps.b.edit(C, by_email["b"][f"p{n}@example.com"], last=f"Changed{n}")
            self.expected[f"p{n}@example.com"] = {"last": f"Changed{n}"}
        apps.a.create(C, email="new-a@example.com", first="New", last="Ant")
        apps.b.create(C, email="new-b@example.com", first="New", last="Bee")
        apps.clock.advance(minutes=1)

    def check_converged(self) -> None:
        apps, sync = self.apps, self.sync
        emails = {side: Counter(v[f"{app.prefix}email"].lower() for v in app.all(C).values())
                  for side, app in (("a", apps.a), ("b", apps.b))}
        assert set(emails["a"]) == set(emails["b"]), "a record was lost on one side"
        duplicated = {side: [e for e, n in counts.items() if n > 1] for side, counts in emails.items()}
        assert duplicated == {"a": [], "b": []}
        links = RecordLink.objects.filter(object_sync=sync)
        assert sorted(links.values_list("status", flat=True)) == [LinkStatus.IN_SYNC] * len(emails["a"])
        assert sorted(links.values_list("id_a", flat=True)) == sorted(apps.a.all(C))
        assert sorted(links.values_list("id_b", flat=True)) == sorted(apps.b.all(C))
        for link in links:
            for key in ("email", "first", "last"):
                value_a, value_b = apps.a.get(C, link.id_a, key), apps.b.get(C, link.id_b, key)
                if key == "email":
                    value_a, value_b = value_a.lower(), value_b.lower()
                assert value_a == value_b, (key, value_a, value_b)
            wanted = self.expected.get(apps.a.get(C, link.id_a, "email").lower(), {})
            for key, value in wanted.items():
                assert apps.a.get(C, link.id_a, key) == value, f"the edit of {key} was lost"
        assert not SyncRun.objects.filter(object_sync=sync, status=SyncRun.Status.RUNNING).exists()


def crossings(apps, phase: str, boundaries) -> Counter:
    scenario = Scenario(apps)
    if phase == "incremental":
        run_sync(scenario.sync.pk)
        scenario.edit_both_sides()
    kill = boundaries(Kill())
    run_sync(scenario.sync.pk)
    return kill.seen


def test_the_runs_cross_every_boundary_several_times(apps, boundaries):
    """The kills below land where they say: each boundary is crossed at least three times by
    an initial run and by an incremental run of the scenario."""
    initial = crossings(apps, "initial", boundaries)
    assert all(initial[b] >= 3 for b in BOUNDARIES), initial


@pytest.mark.parametrize("phase", ["initial", "incremental"])
@pytest.mark.parametrize("at", [1, 2, 3])
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_a_worker_killed_at_a_write_boundary_converges_on_the_next_runs(apps, boundaries, monkeypatch,
                                                                        phase, at, boundary):
    scenario = Scenario(apps)
    if phase == "incremental":
        run_sync(scenario.sync.pk)
        scenario.edit_both_sides()
    kill = boundaries(Kill(boundary, at))
    killed_run(scenario.sync, kill, monkeypatch)
    assert kill.fired
    dead = list(SyncRun.objects.filter(object_sync=scenario.sync, status=SyncRun.Status.RUNNING))
    run_until_quiet(scenario.sync)
    scenario.check_converged()
    for run in dead:  # the dead worker's run is closed as interrupted, not left running
        run.refresh_from_db()
        assert run.finished_at is not None and "nterrupted" in f"{run.status} {run.error}"


def test_a_worker_killed_twice_in_a_row_still_converges(apps, boundaries, monkeypatch):
    scenario = Scenario(apps)
    killed_run(scenario.sync, boundaries(Kill("app write", 2)), monkeypatch)
    killed_run(scenario.sync, boundaries(Kill("link save", 1)), monkeypatch)
    scenario.edit_both_sides()
    killed_run(scenario.sync, boundaries(Kill("cursor save", 2)), monkeypatch)
    boundaries(Kill())
    run_until_quiet(scenario.sync)
    scenario.check_converged()
