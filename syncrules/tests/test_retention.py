"""Outcomes past OUTCOME_RETENTION_DAYS are pruned in batches, each link's latest per action kept."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.models import Schedule

from syncrules import retention, tasks
from syncrules.models import RecordLink, RecordOutcome, SyncRun
from syncrules.tests.factories import make_sync

pytestmark = pytest.mark.django_db
Action = RecordOutcome.Action


def outcome(run, link, action, days_ago, **fields):
    return RecordOutcome.objects.create(run=run, object_sync=run.object_sync, link=link, action=action,
                                        created_at=timezone.now() - timedelta(days=days_ago), **fields)


@pytest.fixture
def history(settings):
    settings.OUTCOME_RETENTION_DAYS = 30
    sync = make_sync()
    run = SyncRun.objects.create(object_sync=sync, kind=SyncRun.Kind.INCREMENTAL)
    ann = RecordLink.objects.create(object_sync=sync, id_a="1", id_b="b1")
    rows = {
        "ann created": outcome(run, ann, Action.CREATED, 90),
        "ann updated long ago": outcome(run, ann, Action.UPDATED, 80),
        "ann updated old": outcome(run, ann, Action.UPDATED, 60),  # the latest update: kept
        "ann failed old": outcome(run, ann, Action.FAILED, 50),
        "ann failed recent": outcome(run, ann, Action.FAILED, 3),
        "forgotten link": outcome(run, None, Action.DELETED, 45),
    }
    for day in range(40, 35, -1):
        rows[f"ann skipped {day}"] = outcome(run, ann, Action.SKIPPED, day)
    return sync, ann, rows


def test_it_deletes_old_outcomes_but_each_links_latest_per_action(history):
    sync, ann, rows = history
    deleted = tasks.prune_outcomes()
    kept = set(RecordOutcome.objects.values_list("pk", flat=True))
    assert kept == {rows[k].pk for k in ("ann created", "ann updated old", "ann failed recent", "ann skipped 36")}
    assert deleted == len(rows) - 4
    assert tasks.prune_outcomes() == 0  # twice is harmless


def test_it_remembers_from_when_each_sync_lost_history(history):
    sync, _, _ = history
    untouched = make_sync()
    before = timezone.now() - timedelta(days=30)
    tasks.prune_outcomes()
    sync.refresh_from_db()
    untouched.refresh_from_db()
    assert abs(sync.history_pruned_before - before) < timedelta(minutes=1)
    assert untouched.history_pruned_before is None


def test_it_deletes_in_bounded_batches(history):
    with CaptureQueriesContext(connection) as queries:
        deleted = retention.prune(batch=3)
    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE")]
    assert deleted == 7 and len(deletes) >= 3  # 10 old rows, 3 at a time: 4 pages


def test_the_retention_setting_moves_the_cutoff(history, settings):
    settings.OUTCOME_RETENTION_DAYS = 100
    assert tasks.prune_outcomes() == 0
    settings.OUTCOME_RETENTION_DAYS = 1
    tasks.prune_outcomes()
    assert RecordOutcome.objects.count() == 4


def test_the_prune_schedule_exists_once_and_the_command_recreates_it():
    assert Schedule.objects.filter(func=tasks.PRUNE_TASK).count() == 1  # made by migration 0006
    assert tasks.ensure_schedules() is False
    Schedule.objects.filter(func=tasks.PRUNE_TASK).delete()
    call_command("ensure_schedules", stdout=StringIO())
    call_command("ensure_schedules", stdout=StringIO())
    schedule = Schedule.objects.get(func=tasks.PRUNE_TASK)
    assert schedule.schedule_type == Schedule.DAILY and schedule.repeats == -1
    assert Schedule.objects.filter(func=tasks.DISPATCH_TASK).count() == 1
