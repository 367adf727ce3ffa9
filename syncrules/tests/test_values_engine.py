"""The run's side of values that do not fit, against two in-memory apps: warnings on links and
outcomes, counts apart, and links re-evaluated when a mapping's value map or policy changes."""

import pytest

from syncrules.engine import run_sync
from syncrules.models import FieldMapping, LinkStatus, RecordLink, RecordOutcome
from syncrules.tests.factories import make_memory_sync

pytestmark = pytest.mark.django_db
C = "contacts"


def stage_mapping(sync) -> FieldMapping:
    return FieldMapping.objects.get(object_sync=sync, field_a="ha_stage")


def test_a_changed_value_map_carries_the_fields_left_behind_without_the_records_changing(apps):
    ann = apps.a.create(C, email="ann@example.com", last="Lee", stage="ha_partner")
    bob = apps.a.create(C, email="bob@example.com", last="Ray", stage="ha_lead")
    sync = make_memory_sync(apps)
    first = run_sync(sync.pk)
    assert (first.created, first.warned, first.failed) == (2, 1, 0)
    link = RecordLink.objects.get(object_sync=sync, id_a=ann)
    assert link.has_warnings and link.warnings[0]["value"] == "ha_partner"
    assert run_sync(sync.pk).updated == 0  # nothing changed: nothing tried

    mapping = stage_mapping(sync)
    mapping.value_map = {"a_to_b": {"ha_partner": "sf_customer"}}
    mapping.save()
    run = run_sync(sync.pk)
    assert (run.updated, run.warned) == (1, 0)
    assert apps.b.get(C, link.id_b, "stage") == "sf_customer"
    link.refresh_from_db()
    assert link.warnings == [] and not link.has_warnings and link.status == LinkStatus.IN_SYNC
    assert not RecordOutcome.objects.filter(run=run, id_a=bob).exists()  # links without warnings are left alone
    assert run_sync(sync.pk).updated == 0


def test_a_policy_changed_from_fail_record_retries_the_failed_records_at_once(apps):
    ann = apps.a.create(C, email="ann@example.com", last="Lee", stage="ha_partner")
    sync = make_memory_sync(apps)
    FieldMapping.objects.filter(object_sync=sync).update(policy=FieldMapping.Policy.FAIL_RECORD)
    assert run_sync(sync.pk).failed == 1
    assert run_sync(sync.pk).failed == 0  # a permanent failure waits for a change...
    FieldMapping.objects.filter(object_sync=sync, field_a="ha_stage").update(policy=FieldMapping.Policy.SKIP_FIELD)
    run = run_sync(sync.pk)  # ...or for the mapping to change
    assert (run.created, run.warned, run.failed) == (1, 1, 0)
    assert RecordLink.objects.get(object_sync=sync, id_a=ann).status == LinkStatus.IN_SYNC


def test_a_fallback_option_carries_what_has_no_counterpart(apps):
    ann = apps.a.create(C, email="ann@example.com", last="Lee", stage="ha_partner")
    sync = make_memory_sync(apps)
    FieldMapping.objects.filter(object_sync=sync, field_a="ha_stage").update(
        policy=FieldMapping.Policy.FALLBACK_OPTION, fallback_option="sf_lead")
    run = run_sync(sync.pk)
    assert (run.created, run.warned) == (1, 0)
    assert apps.b.get(C, RecordLink.objects.get(id_a=ann).id_b, "stage") == "sf_lead"


def test_the_target_keeps_its_own_value_when_the_other_sides_cannot_be_carried(apps):
    ann_a = apps.a.create(C, email="ann@example.com", last="Lee", stage="ha_lead")
    ann_b = apps.b.create(C, email="ann@example.com", last="Lee", stage="sf_customer")
    sync = make_memory_sync(apps)
    run_sync(sync.pk)
    assert apps.b.get(C, ann_b, "stage") == "sf_lead"  # the match merged A's stage (the conflict winner)
    apps.clock.advance(minutes=10)
    apps.a.edit(C, ann_a, stage="ha_partner", last="Leigh")
    run = run_sync(sync.pk)
    assert (run.updated, run.warned) == (1, 1)
    assert apps.b.get(C, ann_b, "stage") == "sf_lead" and apps.b.get(C, ann_b, "last") == "Leigh"
    outcome = RecordOutcome.objects.get(run=run, action="updated")
    assert outcome.warnings[0]["field"] == "sf_stage" and outcome.warnings[0]["side"] == "b"
    assert "Synced with warnings" in outcome.message


def test_the_preview_evaluation_is_what_the_run_does(apps):
    from syncrules.engine.api import evaluate_record, link_counts, value_pairs

    ann = apps.a.create(C, email="ann@example.com", last="Lee", first="X" * 50, stage="ha_partner")
    apps.a.create(C, email="bob@example.com", last="Ray", stage="ha_lead")
    sync = make_memory_sync(apps)
    connectors = {"a": apps.a.connector(), "b": apps.b.connector()}
    pairs = value_pairs(sync, {s.name: s for s in apps.a.connector().fields(C)},
                        {s.name: s for s in apps.b.connector().fields(C)}, connectors=connectors)
    preview = evaluate_record(pairs, apps.a.all(C)[ann], "a")
    assert preview.outcome == "syncs with warnings" and preview.failure is None
    assert {w["field"] for w in preview.warnings} == {"sf_first", "sf_stage"}

    run = run_sync(sync.pk)
    link = RecordLink.objects.get(object_sync=sync, id_a=ann)
    assert link.warnings == preview.warnings
    assert preview.writes and preview.writes.items() <= apps.b.all(C)[link.id_b].items()
    assert link_counts([sync.pk]) == {sync.pk: {"in_sync": 1, "in_sync_with_warnings": 1, "errors": 0}}
    assert run.warned == 1

    FieldMapping.objects.filter(object_sync=sync).update(policy=FieldMapping.Policy.FAIL_RECORD)
    pairs = value_pairs(sync, {s.name: s for s in apps.a.connector().fields(C)},
                        {s.name: s for s in apps.b.connector().fields(C)})
    assert evaluate_record(pairs, apps.a.all(C)[ann], "a").failure[0] in ("value_too_long", "invalid_property_value")


def test_the_wizard_is_offered_the_policies_each_type_pair_allows(apps):
    from connectors.base import FieldSpec, FieldType, Option
    from syncrules.engine.api import mapping_policies

    pick = FieldSpec("pick", "Pick", FieldType.ENUMERATION, options=(Option("x", "X"),))
    text = FieldSpec("text", "Text", FieldType.TEXT, max_length=10)
    assert [v for v, _ in mapping_policies(pick, pick)] == ["skip_field", "fail_record", "fallback_option"]
    assert [v for v, _ in mapping_policies(text, text, direction="to_b")] == ["skip_field", "fail_record", "truncate"]
    assert dict(mapping_policies(pick, text))["skip_field"].startswith("Skip the field")
