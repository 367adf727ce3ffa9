"""The engine against two in-memory apps: initial and incremental runs, conflicts, failures."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from connectors.base import COMPANIES
from connectors.errors import ConnectorError, ErrorCategory
from syncrules.engine import run_sync
from syncrules.models import (
    Direction,
    FieldMapping,
    LinkStatus,
    RecordLink,
    RecordOutcome,
    Side,
    SyncFilter,
    SyncRun,
)
from syncrules.tests.factories import make_memory_sync
from syncrules.tests.memory_connector import SimulatedCrash

pytestmark = pytest.mark.django_db
C = "contacts"


def by_email(app):
    return {r[f"{app.prefix}email"].strip().lower(): rid for rid, r in app.all(C).items() if r.get(f"{app.prefix}email")}


def outcomes(sync, action=None):
    rows = RecordOutcome.objects.filter(object_sync=sync)
    return rows.filter(action=action) if action else rows


def test_an_initial_sync_matches_by_email_and_creates_the_rest_both_ways(apps):
    ann_a = apps.a.create(C, email="Ann@Example.com", first="Ann", last="Lee", score=Decimal("10.5"))
    apps.a.create(C, email="bob@example.com", first="Bob", last="Ray")
    ann_b = apps.b.create(C, email=" ann@example.com", last="Lee", birthday=date(1990, 5, 1))
    apps.b.create(C, email="cy@example.com", first="Cy", last="Doe", vip=True)
    sync = make_memory_sync(apps)

    run = run_sync(sync.pk)

    assert run.status == SyncRun.Status.SUCCEEDED and run.kind == SyncRun.Kind.INITIAL
    assert (run.created, run.matched, run.failed) == (2, 1, 0)
    assert set(by_email(apps.a)) == set(by_email(apps.b)) == {"ann@example.com", "bob@example.com", "cy@example.com"}
    assert RecordLink.objects.get(object_sync=sync, id_a=ann_a).id_b == ann_b
    # The match merged fields both ways: blanks filled from the other side.
    assert apps.b.get(C, ann_b, "first") == "Ann"
    assert apps.a.get(C, ann_a, "birthday") == date(1990, 5, 1)
    assert RecordLink.objects.filter(object_sync=sync, status=LinkStatus.IN_SYNC).count() == 3
    assert all(link.outcomes.exists() for link in RecordLink.objects.filter(object_sync=sync))
    assert run.processed >= 4 and run.http_calls > 0


def test_a_second_run_with_no_changes_writes_nothing(apps):
    apps.a.create(C, email="ann@example.com", first="Ann", last="Lee", score=Decimal("10.5"), stage="ha_lead")
    apps.b.create(C, email="bob@example.com", first="Bob", last="Ray", birthday=date(2000, 1, 2), vip=False)
    sync = make_memory_sync(apps)
    run_sync(sync.pk)
    written = apps.written
    runs = [run_sync(sync.pk) for _ in range(2)]
    assert apps.written == written
    assert [r.kind for r in runs] == [SyncRun.Kind.INCREMENTAL] * 2
    assert all(r.created == r.updated == 0 for r in runs)


def test_it_excludes_contacts_without_a_valid_email_with_the_reason(apps):
    no_email = apps.a.create(C, first="Nobody", last="X")
    bad = apps.b.create(C, email="not-an-email", last="Y")
    sync = make_memory_sync(apps)
    run = run_sync(sync.pk)
    assert run.excluded == 2 and apps.b.written == apps.a.written == 0
    link = RecordLink.objects.get(object_sync=sync, id_a=no_email)
    assert link.status == LinkStatus.EXCLUDED and "No email" in link.last_error
    assert "Invalid email" in outcomes(sync, "excluded").get(id_b=bad).message


def test_it_syncs_contacts_without_email_when_the_limit_is_unchecked(apps):
    apps.a.create(C, first="Nobody", last="X")
    sync = make_memory_sync(apps, require_email=False)
    assert run_sync(sync.pk).created == 1


def test_a_one_sided_edit_is_copied_and_not_echoed_back(apps):
    ann = apps.a.create(C, email="ann@example.com", first="Ann", last="Lee")
    sync = make_memory_sync(apps)
    run_sync(sync.pk)
    ann_b = RecordLink.objects.get(id_a=ann).id_b
    apps.a.edit(C, ann, first="Anna", score=Decimal("3"))
    run = run_sync(sync.pk)
    assert apps.b.get(C, ann_b, "first") == "Anna" and apps.b.get(C, ann_b, "score") == Decimal("3.00")
    assert run.updated == 1
    before = apps.written
    run_sync(sync.pk)
    assert apps.written == before


def test_a_conflict_within_five_minutes_goes_to_the_conflict_winner(apps):
    ann = apps.a.create(C, email="ann@example.com", first="Ann", last="Lee")
    sync = make_memory_sync(apps, conflict_winner=Side.B)
    run_sync(sync.pk)
    ann_b = RecordLink.objects.get(id_a=ann).id_b
    apps.a.edit(C, ann, first="Anna")
    apps.clock.advance(minutes=2)
    apps.b.edit(C, ann_b, first="Annie")
    run_sync(sync.pk)
    assert apps.a.get(C, ann, "first") == apps.b.get(C, ann_b, "first") == "Annie"


def test_outside_five_minutes_the_latest_edit_wins_over_the_conflict_winner(apps):
    ann = apps.a.create(C, email="ann@example.com", first="Ann", last="Lee")
    sync = make_memory_sync(apps, conflict_winner=Side.B)
    run_sync(sync.pk)
    ann_b = RecordLink.objects.get(id_a=ann).id_b
    apps.b.edit(C, ann_b, first="Annie")
    apps.clock.advance(minutes=10)
    apps.a.edit(C, ann, first="Anna")
    run_sync(sync.pk)
    assert apps.a.get(C, ann, "first") == apps.b.get(C, ann_b, "first") == "Anna"


def test_a_one_way_sync_writes_only_to_its_target(apps):
    ann = apps.a.create(C, email="ann@example.com", first="Ann", last="Lee")
    only_b = apps.b.create(C, email="bob@example.com", first="Bob", last="Ray")
    sync = make_memory_sync(apps, direction=Direction.TO_B)
    assert sync.conflict_winner == Side.A
    run = run_sync(sync.pk)
    assert apps.a.written == 0 and run.created == 1
    excluded = RecordLink.objects.get(id_b=only_b)
    assert excluded.status == LinkStatus.EXCLUDED and "only writes to side B" in excluded.last_error
    ann_b = RecordLink.objects.get(id_a=ann).id_b
    apps.b.edit(C, ann_b, first="Changed in B")
    run_sync(sync.pk)
    assert apps.a.get(C, ann, "first") == "Ann" and apps.a.written == 0


def test_a_one_way_sync_to_a_defaults_its_conflict_winner_to_side_b(apps):
    assert make_memory_sync(apps, direction=Direction.TO_A).conflict_winner == Side.B


def test_filters_only_gate_the_first_inclusion(apps):
    keep = apps.a.create(C, email="ann@example.com", first="Ann", last="Lee", stage="ha_customer")
    skip = apps.a.create(C, email="bob@example.com", first="Bob", last="Ray", stage="ha_lead")
    sync = make_memory_sync(apps)
    SyncFilter.objects.create(object_sync=sync, side=Side.A, field="ha_stage", operator="eq", value="ha_customer")
    run_sync(sync.pk)
    assert RecordLink.objects.get(id_a=skip).status == LinkStatus.EXCLUDED
    keep_b = RecordLink.objects.get(id_a=keep).id_b
    apps.a.edit(C, keep, stage="ha_lead", first="Annie")  # now outside the filter
    run_sync(sync.pk)
    assert apps.b.get(C, keep_b, "first") == "Annie" and apps.b.get(C, keep_b, "stage") == "sf_lead"
    apps.a.edit(C, skip, stage="ha_customer")  # an excluded record that now passes enters the sync
    run_sync(sync.pk)
    assert RecordLink.objects.get(id_a=skip).status == LinkStatus.IN_SYNC


def test_companies_match_by_name_or_by_domain(apps):
    acme = apps.a.create(COMPANIES, name="Acme Corp", domain="acme.com")
    globex = apps.a.create(COMPANIES, name="Globex", domain="globex.com")
    acme_b = apps.b.create(COMPANIES, name="ACME corp", domain="acme.co.uk")
    globex_b = apps.b.create(COMPANIES, name="Globex Corporation", domain="www.globex.com")
    sync = make_memory_sync(apps, object_type=COMPANIES)
    run = run_sync(sync.pk)
    assert run.matched == 2 and run.created == 0
    assert RecordLink.objects.get(id_a=acme).id_b == acme_b
    assert RecordLink.objects.get(id_a=globex).id_b == globex_b


def bad_records(apps, email_category: ErrorCategory) -> tuple[str, str, str, str]:
    """A good contact, one too long, one with an option B lacks, and one whose email B refuses."""
    good = apps.a.create(C, email="ok@example.com", first="Ok", last="Fine")
    too_long = apps.a.create(C, email="long@example.com", first="X" * 50, last="Long")
    no_option = apps.a.create(C, email="opt@example.com", last="Opt", stage="ha_partner")
    rejected = apps.a.create(C, email="ann@blocked.example", last="Blocked")
    apps.b.fail_when = lambda rid, values: (
        ConnectorError(email_category, "Email address is invalid", vendor_code="INVALID_EMAIL")
        if str(values.get("sf_email", "")).endswith("blocked.example") else None
    )
    return good, too_long, no_option, rejected


def test_bad_records_fail_with_their_category_when_their_mappings_say_fail_record(apps):
    good, too_long, no_option, rejected = bad_records(apps, ErrorCategory.INVALID_PROPERTY_VALUE)
    sync = make_memory_sync(apps)
    FieldMapping.objects.filter(object_sync=sync).update(policy=FieldMapping.Policy.FAIL_RECORD)
    run = run_sync(sync.pk)
    assert run.status == SyncRun.Status.PARTIAL and run.created == 1 and run.failed == 3
    failed = {o.id_a: o for o in outcomes(sync, "failed")}
    assert failed[too_long].category == ErrorCategory.VALUE_TOO_LONG.code
    assert failed[no_option].category == ErrorCategory.INVALID_PROPERTY_VALUE.code
    assert failed[rejected].category == ErrorCategory.INVALID_PROPERTY_VALUE.code
    assert failed[rejected].hint == ErrorCategory.INVALID_PROPERTY_VALUE.hint
    assert failed[rejected].message == "Email address is invalid [INVALID_EMAIL]"
    assert failed[too_long].message.startswith("sf_first: ")  # the field, when the app's words lack it
    assert "ok@example.com" in by_email(apps.b)
    link = RecordLink.objects.get(id_a=too_long)
    assert link.status == LinkStatus.FAILING and link.id_b is None and link.next_retry_at is None
    assert RecordLink.objects.get(id_a=good).status == LinkStatus.IN_SYNC


def test_values_that_do_not_fit_skip_their_field_with_a_warning_and_the_rest_of_the_record_syncs(apps):
    good, too_long, no_option, rejected = bad_records(apps, ErrorCategory.INVALID_EMAIL)
    sync = make_memory_sync(apps)
    run = run_sync(sync.pk)
    assert (run.created, run.failed, run.warned) == (3, 1, 2)
    assert outcomes(sync, "failed").get(id_a=rejected).category == ErrorCategory.INVALID_EMAIL.code  # the record
    long_link, option_link = RecordLink.objects.get(id_a=too_long), RecordLink.objects.get(id_a=no_option)
    assert long_link.status == option_link.status == LinkStatus.IN_SYNC and long_link.has_warnings
    (warning,) = long_link.warnings
    assert (warning["field"], warning["side"], warning["category"]) == ("sf_first", "b", "value_too_long")
    assert warning["value"] == "X" * 50 and "allows" in warning["reason"]
    assert option_link.warnings[0]["category"] == "invalid_property_value" and option_link.warnings[0]["value"] == "ha_partner"
    created = outcomes(sync, "created").get(id_a=too_long)
    assert created.warnings == long_link.warnings and "Synced with warnings" in created.message
    assert apps.b.get(C, long_link.id_b, "first") is None and apps.b.get(C, long_link.id_b, "last") == "Long"
    assert not RecordLink.objects.get(id_a=good).has_warnings
    again = run_sync(sync.pk)
    assert (again.created, again.updated, again.failed) == (0, 0, 0)  # quiet; the warnings stay
    assert RecordLink.objects.get(id_a=too_long).has_warnings
    apps.a.edit(C, too_long, first="Short")
    carried = run_sync(sync.pk)
    assert (carried.updated, carried.warned) == (1, 0)
    assert apps.b.get(C, long_link.id_b, "first") == "Short"
    assert RecordLink.objects.get(id_a=too_long).warnings == [] and not RecordLink.objects.get(id_a=too_long).has_warnings


def test_a_permanent_failure_is_retried_after_the_record_changes(apps):
    too_long = apps.a.create(C, email="long@example.com", first="X" * 50, last="Long")
    sync = make_memory_sync(apps)
    FieldMapping.objects.filter(object_sync=sync).update(policy=FieldMapping.Policy.FAIL_RECORD)
    run_sync(sync.pk)
    assert run_sync(sync.pk).failed == 0  # not retried on its own
    apps.a.edit(C, too_long, first="Short")
    run = run_sync(sync.pk)
    assert run.created == 1 and RecordLink.objects.get(id_a=too_long).status == LinkStatus.IN_SYNC


def test_a_manual_retry_reprocesses_a_failed_record(apps):
    ann = apps.a.create(C, email="ann@example.com", first="Ann", last="Lee")
    apps.b.fail_when = lambda rid, values: ConnectorError(ErrorCategory.AUTOMATION_REJECTED, "Validation rule")
    sync = make_memory_sync(apps)
    run_sync(sync.pk)
    assert RecordLink.objects.get(id_a=ann).status == LinkStatus.FAILING
    apps.b.fail_when = None
    RecordLink.objects.filter(id_a=ann).update(next_retry_at=timezone.now(), fail_count=0)  # the admin action
    run = run_sync(sync.pk)
    assert run.created == 1 and RecordLink.objects.get(id_a=ann).status == LinkStatus.IN_SYNC


def test_a_transient_failure_backs_off_and_is_retried_automatically(apps):
    ann = apps.a.create(C, email="ann@example.com", first="Ann", last="Lee")
    sync = make_memory_sync(apps)
    run_sync(sync.pk)
    ann_b = RecordLink.objects.get(id_a=ann).id_b
    apps.a.edit(C, ann, first="Anna")
    apps.b.fail_when = lambda rid, values: ConnectorError(ErrorCategory.RECORD_LOCKED, "UNABLE_TO_LOCK_ROW")
    run_sync(sync.pk)
    link = RecordLink.objects.get(id_a=ann)
    assert link.status == LinkStatus.FAILING and link.fail_count == 1 and link.next_retry_at > timezone.now()
    apps.b.fail_when = None
    assert run_sync(sync.pk).updated == 0  # not due yet, and the record did not change
    RecordLink.objects.filter(pk=link.pk).update(next_retry_at=timezone.now() - timedelta(seconds=1))
    run_sync(sync.pk)
    assert apps.b.get(C, ann_b, "first") == "Anna"
    assert RecordLink.objects.get(pk=link.pk).status == LinkStatus.IN_SYNC


def test_a_record_deleted_between_read_and_write_marks_the_link_deleted(apps):
    ann = apps.a.create(C, email="ann@example.com", first="Ann", last="Lee")
    bob = apps.a.create(C, email="bob@example.com", first="Bob", last="Ray")
    sync = make_memory_sync(apps)
    run_sync(sync.pk)
    ann_b, bob_b = (RecordLink.objects.get(id_a=i).id_b for i in (ann, bob))
    apps.a.edit(C, ann, first="Anna")
    apps.a.edit(C, bob, first="Bobby")
    apps.b.delete_before_write.add(ann_b)
    run = run_sync(sync.pk)
    link = RecordLink.objects.get(id_a=ann)
    assert link.status == LinkStatus.DELETED_B
    assert outcomes(sync, "failed").get(id_a=ann).category == ErrorCategory.RECORD_DELETED.code
    assert apps.b.get(C, bob_b, "first") == "Bobby" and run.updated == 1


def test_a_linked_record_missing_on_the_other_side_is_marked_deleted(apps):
    ann = apps.a.create(C, email="ann@example.com", first="Ann", last="Lee")
    sync = make_memory_sync(apps)
    run_sync(sync.pk)
    apps.b.remove(C, RecordLink.objects.get(id_a=ann).id_b)
    apps.a.edit(C, ann, first="Anna")
    run_sync(sync.pk)
    assert RecordLink.objects.get(id_a=ann).status == LinkStatus.DELETED_B


def test_a_crash_after_a_create_loses_nothing_and_duplicates_nothing(apps):
    for n in range(12):
        apps.a.create(C, email=f"p{n}@example.com", first=f"P{n}", last="Crash")
    sync = make_memory_sync(apps)
    apps.b.crash_after_writes = 2  # dies after the second create batch, before saving its links
    run = run_sync(sync.pk)
    assert run.status == SyncRun.Status.FAILED and SimulatedCrash.__name__ in run.error
    run = run_sync(sync.pk)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert len(apps.b.all(C)) == 12 and len(by_email(apps.b)) == 12
    assert RecordLink.objects.filter(object_sync=sync, status=LinkStatus.IN_SYNC).count() == 12


def test_a_failed_read_fails_the_run_and_keeps_the_cursor(apps):
    apps.a.create(C, email="ann@example.com", first="Ann", last="Lee")
    sync = make_memory_sync(apps)
    run_sync(sync.pk)
    cursor = type(sync).objects.get(pk=sync.pk).cursor_a
    apps.a.edit(C, next(iter(apps.a.all(C))), first="Anna")
    apps.a.fail_calls.append(ConnectorError(ErrorCategory.AUTHENTICATION_EXPIRED, "401 expired"))
    run = run_sync(sync.pk)
    assert run.status == SyncRun.Status.FAILED and "expired" in run.error
    assert type(sync).objects.get(pk=sync.pk).cursor_a == cursor


def test_a_failed_write_call_fails_its_records_and_the_run_goes_on(apps):
    for n in range(3):
        apps.a.create(C, email=f"p{n}@example.com", first=f"P{n}", last="X")
    sync = make_memory_sync(apps)
    apps.b.batch_size = 2
    apps.b.fail_write_calls.append(ConnectorError(ErrorCategory.APP_UNAVAILABLE, "503 Service Unavailable"))
    run = run_sync(sync.pk)
    assert run.status == SyncRun.Status.PARTIAL and run.failed == 2 and run.created == 1
    assert RecordLink.objects.filter(error_category="app_unavailable").exclude(next_retry_at=None).count() == 2


def test_two_records_with_the_same_email_create_only_one(apps):
    first = apps.a.create(C, email="ann@example.com", first="Ann", last="One")
    second = apps.a.create(C, email="ANN@example.com", first="Ann", last="Two")
    sync = make_memory_sync(apps)
    run = run_sync(sync.pk)
    assert len(apps.b.all(C)) == 1 and run.created == 1
    assert RecordLink.objects.get(id_a=first).status == LinkStatus.IN_SYNC
    dup = RecordLink.objects.get(id_a=second)
    assert dup.status == LinkStatus.FAILING and dup.error_category == ErrorCategory.DUPLICATE_RECORD.code


def test_an_impossible_conversion_fails_the_record_as_a_type_mismatch_when_its_mapping_says_so(apps):
    ann = apps.a.create(C, email="ann@example.com", first="Ann", last="Lee", score=Decimal(1))
    sync = make_memory_sync(apps)
    FieldMapping.objects.create(object_sync=sync, field_a="ha_last", field_b="sf_score", direction=Direction.TO_B,
                                policy=FieldMapping.Policy.FAIL_RECORD)
    run = run_sync(sync.pk)
    outcome = outcomes(sync, "failed").get(id_a=ann)
    assert outcome.category == ErrorCategory.TYPE_MISMATCH.code and run.failed == 1


def test_an_impossible_conversion_skips_the_field_by_default_and_never_erases_the_target(apps):
    ann = apps.a.create(C, email="ann@example.com", first="Ann", last="Lee", score=Decimal(1))
    sync = make_memory_sync(apps)
    run_sync(sync.pk)
    link = RecordLink.objects.get(object_sync=sync, id_a=ann)
    apps.b.edit(C, link.id_b, score=Decimal(7))
    run_sync(sync.pk)
    FieldMapping.objects.create(object_sync=sync, field_a="ha_last", field_b="sf_score", direction=Direction.TO_B)
    apps.a.edit(C, ann, last="Not a number")
    run = run_sync(sync.pk)
    assert (run.failed, run.warned) == (0, 1)
    assert apps.b.get(C, link.id_b, "score") == Decimal(7) and apps.b.get(C, link.id_b, "last") == "Not a number"
    (warning,) = RecordLink.objects.get(pk=link.pk).warnings
    assert (warning["field"], warning["category"]) == ("sf_score", "type_mismatch")


def test_a_sync_already_running_is_not_run_twice(apps):
    sync = make_memory_sync(apps)
    assert sync.claim()
    assert run_sync(sync.pk) is None
    assert not SyncRun.objects.filter(object_sync=sync).exists()


def test_a_forced_initial_run_rereads_everything_without_duplicating(apps):
    apps.a.create(C, email="ann@example.com", first="Ann", last="Lee")
    sync = make_memory_sync(apps)
    run_sync(sync.pk)
    written = apps.written
    run = run_sync(sync.pk, initial=True)
    assert run.kind == SyncRun.Kind.INITIAL and run.created == 0 and apps.written == written


def test_changing_the_email_of_a_linked_contact_updates_it_instead_of_creating_one(apps):
    ann = apps.a.create(C, email="ann@example.com", first="Ann", last="Lee")
    sync = make_memory_sync(apps)
    run_sync(sync.pk)
    apps.a.edit(C, ann, email="ann.lee@example.com")
    run = run_sync(sync.pk)
    assert (run.created, run.updated) == (0, 1)
    assert set(by_email(apps.b)) == {"ann.lee@example.com"}


def test_a_run_left_running_by_a_dead_worker_is_closed_by_the_next_one(apps):
    sync = make_memory_sync(apps)
    dead = SyncRun.objects.create(object_sync=sync, kind=SyncRun.Kind.INITIAL)
    run_sync(sync.pk)
    dead.refresh_from_db()
    assert dead.status == SyncRun.Status.INTERRUPTED and "Interrupted" in dead.error


def test_an_extension_sees_every_page_before_its_cursor_moves_and_the_end_of_the_sides(apps, monkeypatch):
    from syncrules.engine.extensions import EXTENSIONS, Extension

    seen = []

    class Recorder(Extension):
        def after_page(self, engine, side, records):
            cursor = getattr(type(engine.sync).objects.get(pk=engine.sync.pk), f"cursor_{side}")
            seen.append((side, len(records), cursor))

        def after_sides(self, engine):
            seen.append("sides done")

    monkeypatch.setitem(EXTENSIONS, C, [Recorder])
    apps.a.create(C, email="ann@example.com", first="Ann", last="Lee")
    run_sync(make_memory_sync(apps).pk)
    assert seen == [("a", 1, None), ("b", 1, None), "sides done"]


def test_with_matching_off_an_existing_email_fails_as_a_duplicate_in_the_other_app(apps):
    apps.a.create(C, email="ann@example.com", first="Ann", last="Lee")
    apps.b.create(C, email="ann@example.com", first="Ann", last="Lee")
    sync = make_memory_sync(apps, match_records=False)
    run = run_sync(sync.pk)
    assert run.matched == 0 and run.failed == 2
    assert set(outcomes(sync, "failed").values_list("category", flat=True)) == {ErrorCategory.DUPLICATE_RECORD.code}
    assert len(apps.a.all(C)) == len(apps.b.all(C)) == 1


def test_a_record_excluded_on_one_side_is_matched_not_duplicated_when_the_other_side_has_it(apps):
    ann_b = apps.b.create(C, email="ann@example.com", first="Ann", last="Lee", stage="sf_lead")
    sync = make_memory_sync(apps)
    SyncFilter.objects.create(object_sync=sync, side=Side.B, field="sf_stage", operator="eq", value="sf_customer")
    run_sync(sync.pk)
    assert RecordLink.objects.get(id_b=ann_b).status == LinkStatus.EXCLUDED
    ann_a = apps.a.create(C, email="ANN@example.com", first="Ann", last="Lee")
    run = run_sync(sync.pk)
    assert run.matched == 1 and run.created == 0
    link = RecordLink.objects.get(object_sync=sync, id_b=ann_b)
    assert (link.id_a, link.status) == (ann_a, LinkStatus.IN_SYNC)
    assert RecordLink.objects.filter(object_sync=sync).count() == 1


def test_a_failed_create_that_later_matches_keeps_one_link(apps):
    ann_a = apps.a.create(C, email="ann@example.com", first="Ann", last="Lee")
    apps.b.fail_write_calls.append(ConnectorError(ErrorCategory.RATE_LIMITED, "429"))
    sync = make_memory_sync(apps)
    run_sync(sync.pk)
    assert RecordLink.objects.get(id_a=ann_a).status == LinkStatus.FAILING
    ann_b = apps.b.create(C, email="ann@example.com", first="Ann", last="Lee")  # someone made it by hand
    apps.a.edit(C, ann_a, first="Anna")
    run = run_sync(sync.pk)
    assert run.matched == 1 and len(apps.b.all(C)) == 1
    link = RecordLink.objects.get(object_sync=sync, id_a=ann_a)
    assert link.id_b == ann_b and link.status == LinkStatus.IN_SYNC and link.fail_count == 0


def test_a_deal_sync_without_stage_mappings_fails_plainly_and_says_to_map_a_stage(apps):
    sync = make_memory_sync(apps, object_type="deals", mappings=False)
    run = run_sync(sync.pk)
    assert run.status == SyncRun.Status.FAILED and "Map at least one deal stage" in run.error


def test_a_run_closes_the_connectors_it_opened_but_not_the_ones_it_was_given(apps, monkeypatch):
    from syncrules.tests.memory_connector import MemoryConnector

    closed = []
    monkeypatch.setattr(MemoryConnector, "close", lambda self: closed.append(self.app.prefix), raising=False)
    sync = make_memory_sync(apps)
    run_sync(sync.pk)
    assert sorted(closed) == sorted([apps.a.prefix, apps.b.prefix])
    closed.clear()
    run_sync(sync.pk, connectors={"a": apps.a.connector()})
    assert closed == [apps.b.prefix]
