"""The activity charts: inline SVG drawn on the server from the runs and the outcomes."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from syncrules.health import activity, charts
from syncrules.models import RecordOutcome, SyncRun
from syncrules.tests.health_helpers import health_world, link, user_in

pytestmark = pytest.mark.django_db


def test_a_chart_is_svg_with_one_bar_per_run_and_escaped_text():
    svg = charts.stacked_bars("Runs <b>", [("1 Dec", 10, 2, "<script>x</script>"), ("2 Dec", 5, 0, "ok")])
    assert svg.startswith("<svg") and svg.count("<g>") == 2
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "Runs &lt;b&gt;" in svg


def test_the_latency_counts_each_write_after_the_change_it_carried():
    world = health_world()
    sync, run, now = world["contacts"], world["run"], timezone.now()
    for n, (delay, side) in enumerate([(timedelta(seconds=20), "b"), (timedelta(minutes=3), "b"),
                                       (timedelta(hours=2), "a"), (-timedelta(minutes=1), "b")]):
        changed = now - delay
        target = link(sync, 700 + n, "in_sync", modified_a=changed if side == "b" else None,
                      modified_b=changed if side == "a" else None)
        RecordOutcome.objects.create(run=run, object_sync=sync, link=target, side=side, action="updated",
                                     created_at=now)
    # A write that says when the edit it carried was made is measured from that edit.
    carried = link(sync, 710, "in_sync", modified_a=now)
    RecordOutcome.objects.create(run=run, object_sync=sync, link=carried, side="b", action="created", created_at=now,
                                 details={"source_modified_at": (now - timedelta(minutes=10)).isoformat()})
    latency = activity.change_latency(sync)
    # The write before its record's latest change (changed again since) is left out.
    assert latency.sample == 4
    assert dict(latency.buckets) == {"< 1 min": 1, "1-5 min": 1, "5-15 min": 1, "15-60 min": 0, "1-6 h": 1, "> 6 h": 0}
    assert latency.median == timedelta(minutes=10)


def test_the_activity_page_draws_the_last_runs_and_the_errors_per_day(client):
    world = health_world()
    sync = world["contacts"]
    for n in range(35):
        SyncRun.objects.create(object_sync=sync, kind="incremental", status="succeeded", processed=10 + n,
                               failed=n % 3, started_at=timezone.now() - timedelta(hours=n))
    client.force_login(user_in("Support"))
    html = client.get(reverse("health:charts", args=[sync.pk])).content.decode()
    assert html.count('class="health-chart"') == 2 and "last 30 runs" in html
    assert "No write measured yet" in html  # no created or updated outcome: no latency chart
    assert errors_per_day_total(sync) == sum(r.failed for r in SyncRun.objects.filter(object_sync=sync))


def errors_per_day_total(sync) -> int:
    return sum(n for _, n in activity.errors_per_day(sync))
