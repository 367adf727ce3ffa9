"""The dry-run preview of an initial run (the wizard's Review step): what it says equals what
the run then does, and it writes nothing anywhere."""

from decimal import Decimal

import pytest

from syncrules.engine import run_sync
from syncrules.engine.api import preview_sync
from syncrules.engine.preview import comparable, run_figures
from syncrules.models import RecordLink, RecordOutcome, SyncFilter, SyncRun
from syncrules.tests.factories import make_memory_sync

pytestmark = pytest.mark.django_db
C = "contacts"


def snapshot(apps):
    return {side: {rid: dict(values) for rid, values in app.all(C).items()} for side, app in (("a", apps.a), ("b", apps.b))}


def test_it_previews_matches_creates_exclusions_and_failures_as_the_run_then_does(apps):
    apps.a.create(C, email="Ann@Example.com", first="Ann", last="Lee", score=Decimal("10.5"))
    apps.a.create(C, email="bob@example.com", first="Bob", last="Ray")
    apps.a.create(C, first="Nomail", last="Person")
    apps.a.create(C, email="long@example.com", first="L" * 30, last="Long")
    apps.b.create(C, email=" ann@example.com", last="Lee")
    apps.b.create(C, email="cy@example.com", first="Cy", last="Doe", vip=True)
    apps.b.create(C, email="dee@example.com", first="Dee", last="Out")
    apps.b.schemas[C] = [s if s.name != "sf_first" else type(s)(**{**s.__dict__, "max_length": 10}) for s in apps.b.schemas[C]]
    sync = make_memory_sync(apps)
    SyncFilter.objects.create(object_sync=sync, side="b", field="sf_last", operator="neq", value="Out")
    before, calls = snapshot(apps), apps.b.written + apps.a.written

    result = preview_sync(sync.pk)

    assert snapshot(apps) == before and apps.a.written + apps.b.written == calls
    assert not RecordLink.objects.exists() and not RecordOutcome.objects.exists() and not SyncRun.objects.exists()
    assert result["matched"] == 1 and result["b"]["create"] == 1 and result["a"]["create"] == 1
    assert result["a"]["excluded"] == {"no_email": 1} and result["b"]["excluded"] == {"filter": 1}
    [too_long] = result["b"]["failures"]
    assert too_long["category"] == "value_too_long" and too_long["count"] == 1
    assert too_long["samples"][0]["name"] == f"{'L' * 30} Long (long@example.com)"
    assert result["match_samples"][0]["key"] == "email ann@example.com"
    assert result["match_samples"][0]["name_a"] == "Ann Lee (Ann@Example.com)"

    run = run_sync(sync.pk)
    assert comparable(result) == run_figures(run)
