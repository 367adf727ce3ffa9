"""The dry-run preview of an initial run (the wizard's Review step): what it says equals what
the run then does, and it writes nothing anywhere."""

from dataclasses import replace
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


def test_it_previews_matches_creates_exclusions_and_warnings_as_the_run_then_does(apps):
    apps.a.create(C, email="Ann@Example.com", first="Ann", last="Lee", score=Decimal("10.5"))
    apps.a.create(C, email="bob@example.com", first="Bob", last="Ray")
    apps.a.create(C, first="Nomail", last="Person")
    apps.a.create(C, email="long@example.com", first="L" * 30, last="Long")
    apps.b.create(C, email=" ann@example.com", last="Lee")
    apps.b.create(C, email="cy@example.com", first="Cy", last="Doe", vip=True)
    apps.b.create(C, email="dee@example.com", first="Dee", last="Out")
    apps.b.schemas[C] = [replace(s, max_length=10) if s.name == "sf_first" else s for s in apps.b.schemas[C]]
    sync = make_memory_sync(apps)
    SyncFilter.objects.create(object_sync=sync, side="b", field="sf_last", operator="neq", value="Out")
    before, calls = snapshot(apps), apps.b.written + apps.a.written

    result = preview_sync(sync.pk)

    assert snapshot(apps) == before and apps.a.written + apps.b.written == calls
    assert not RecordLink.objects.exists() and not RecordOutcome.objects.exists() and not SyncRun.objects.exists()
    # The too-long first name is skipped with a warning (the mapping's default policy): the
    # record is still created in B, without it.
    assert result["matched"] == 1 and result["b"]["create"] == 2 and result["a"]["create"] == 1
    assert result["a"]["excluded"] == {"no_email": 1} and result["b"]["excluded"] == {"filter": 1}
    assert result["b"]["failures"] == []
    [too_long] = result["b"]["warnings"]
    assert (too_long["field"], too_long["category"], too_long["count"]) == ("sf_first", "value_too_long", 1)
    assert too_long["samples"][0]["name"] == f"{'L' * 30} Long (long@example.com)"
    assert result["match_samples"][0]["key"] == "email ann@example.com"
    assert result["match_samples"][0]["name_a"] == "Ann Lee (Ann@Example.com)"

    run = run_sync(sync.pk)
    assert comparable(result) == run_figures(run)


def test_a_company_preview_matches_by_name_or_domain_and_names_the_pairs(apps):
    apps.a.create("companies", name="Acme", domain="acme.example", city="Lyon")
    apps.a.create("companies", name="Globex", domain="globex.example")
    apps.b.create("companies", name="ACME", domain="www.acme.example")
    apps.b.create("companies", name="Initech", domain="initech.example", city="A city whose name is far too long to fit in forty characters")
    sync = make_memory_sync(apps, "companies")
    sync.field_mappings.update(policy="fail_record")  # a value too long fails its record
    result = preview_sync(sync.pk)
    [pair] = result["match_samples"]
    assert (pair["name_a"], pair["name_b"]) == ("Acme (acme.example)", "ACME (www.acme.example)")
    assert "domain acme.example" in pair["key"] and "name acme" in pair["key"]
    assert result["b"]["create"] == 1
    assert [f["category"] for f in result["a"]["failures"]] == ["value_too_long"]
    assert comparable(result) == run_figures(run_sync(sync.pk))


def test_a_one_way_preview_copies_nothing_back_and_says_why(apps):
    apps.a.create(C, email="ann@example.com", first="Ann", last="Lee")
    apps.b.create(C, email="bob@example.com", first="Bob", last="Ray")
    sync = make_memory_sync(apps, direction="to_b")
    result = preview_sync(sync.pk)
    assert result["b"]["create"] == 1 and result["a"]["create"] == 0
    assert result["b"]["excluded"] == {"one_way": 1}
    assert comparable(result) == run_figures(run_sync(sync.pk))


def test_a_preview_never_writes_associations_or_pipelines(apps):
    from syncrules.engine.dryrun import DryConnector

    dry = DryConnector(apps.a.connector(), "a")
    for method in (dry.write_associations, dry.remove_associations, dry.delete, dry.create_pipeline):
        with pytest.raises(RuntimeError, match="never writes"):
            method("contacts", "companies", [("1", "2")])
    assert apps.a.calls == 0
