"""RecordLink's state methods, LinkStatus.deleted_on and the Side vocabulary: the one owner of a
link's status (issue 12). Pure model methods: no database needed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.errors import ErrorCategory
from syncrules.models import AssociationProblem, LinkStatus, RecordLink, Side

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def test_a_side_knows_the_other_side_its_label_and_its_letter():
    assert Side.A.other is Side.B and Side.B.other is Side.A
    assert Side("a").other == "b" and Side.A.label == "Side A" and Side.B.letter == "B"
    assert f"id_{Side.B}" == "id_b"


def test_deleted_on_names_the_status_of_each_side():
    assert LinkStatus.deleted_on(Side.A) is LinkStatus.DELETED_A
    assert LinkStatus.deleted_on("b") is LinkStatus.DELETED_B
    assert LinkStatus.DELETED_B.is_deleted and not LinkStatus.FAILING.is_deleted


def test_id_on_and_set_id_read_and_write_the_side_asked():
    link = RecordLink(id_a="1")
    link.set_id(Side.B, "x")
    assert (link.id_on(Side.A), link.id_on("b"), link.linked) == ("1", "x", True)
    link.set_id(Side.A, None)
    assert link.id_on(Side.A) is None and not link.linked


def test_a_transient_failure_backs_off_and_a_permanent_one_waits_for_a_person():
    link = RecordLink(id_a="1")
    link.fail(ErrorCategory.RATE_LIMITED, "slow down", NOW)
    link.fail(ErrorCategory.RATE_LIMITED, "slow down", NOW, retry_after=3600)
    assert (link.status, link.fail_count) == (LinkStatus.FAILING, 2)
    assert link.next_retry_at == NOW + timedelta(hours=1)  # Retry-After beats the 4-minute backoff
    link.fail(ErrorCategory.DUPLICATE_RECORD, "twice", NOW)
    assert link.next_retry_at is None and link.error_category == ErrorCategory.DUPLICATE_RECORD.code


def test_succeed_clears_the_failure():
    link = RecordLink(id_a="1", id_b="2")
    link.fail(ErrorCategory.RATE_LIMITED, "slow down", NOW)
    link.succeed(NOW)
    assert (link.status, link.error_category, link.last_error, link.fail_count, link.next_retry_at) == (
        LinkStatus.IN_SYNC, "", "", 0, None)
    assert link.last_synced_at == NOW


def test_mark_deleted_stops_retries_with_the_category_given():
    link = RecordLink(id_a="1", id_b="2", fail_count=3, next_retry_at=NOW)
    link.mark_deleted(Side.B, "gone")
    assert (link.status, link.error_category, link.fail_count, link.next_retry_at) == (
        LinkStatus.DELETED_B, ErrorCategory.RECORD_DELETED.code, 0, None)
    link.mark_deleted(Side.A, "merged", ErrorCategory.DUPLICATE_RECORD)
    assert link.status == LinkStatus.DELETED_A and link.error_category == ErrorCategory.DUPLICATE_RECORD.code


def test_waiting_for_an_association_shows_until_cleared_and_keeps_other_types_apart():
    link = RecordLink(id_a="1", id_b="2", associations={"companies": []})
    waiting = AssociationProblem(ErrorCategory.WAITING_FOR_DEPENDENCY.code, "Waiting for Acme", 0, 1, 7)
    link.wait_for("companies", waiting, NOW)
    assert (link.status, link.error_category, link.fail_count, link.next_retry_at) == (
        LinkStatus.FAILING, waiting.category, 1, NOW)  # the first retry at the next run
    refused = AssociationProblem(ErrorCategory.ASSOCIATION_FAILED.code, "limit", 0, 2, 8)
    link.wait_for("contacts", refused, NOW)
    assert link.association_problems() == {"companies": waiting, "contacts": refused}
    assert link.associations["_pending"]["contacts"] == {  # named keys, not positions
        "category": "association_failed", "message": "limit", "retry_after": 0, "attempts": 2, "run": 8}
    link.wait_for("companies", None, NOW)
    assert link.error_category == ErrorCategory.ASSOCIATION_FAILED.code and link.last_error == "limit"
    assert link.next_retry_at == NOW + timedelta(minutes=2)  # the second attempt backs off
    link.wait_for("contacts", None, NOW)
    assert (link.status, link.error_category, link.next_retry_at) == (LinkStatus.IN_SYNC, "", None)


def test_the_records_own_failure_shows_before_an_association_problem():
    link = RecordLink(id_a="1", id_b="2")
    link.fail(ErrorCategory.INVALID_PROPERTY_VALUE, "bad value", NOW)
    link.wait_for("companies", AssociationProblem(ErrorCategory.WAITING_FOR_DEPENDENCY.code, "Waiting", 0, 1), NOW)
    assert link.error_category == ErrorCategory.INVALID_PROPERTY_VALUE.code
    link.succeed(NOW)  # the fields synced: the wait shows now, and the record still waits
    assert (link.status, link.error_category) == (LinkStatus.FAILING, ErrorCategory.WAITING_FOR_DEPENDENCY.code)


def test_problems_stored_by_older_versions_as_positions_are_still_read():
    link = RecordLink(associations={"_pending": {"companies": ["waiting_for_dependency", "Waiting", 0, 3, 5],
                                                 "deals": "garbage"}})
    assert link.association_problems() == {
        "companies": AssociationProblem("waiting_for_dependency", "Waiting", 0, 3, 5)}
