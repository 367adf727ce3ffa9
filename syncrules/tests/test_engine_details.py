"""The why of each decision, as the pure merge, match and filter functions return it."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from connectors.base import FieldSpec, FieldType
from syncrules.engine import details
from syncrules.engine.filters import Condition, exclusion
from syncrules.engine.match import TAKEN, Candidate, pair_all
from syncrules.engine.merge import A, B, FieldPair, decide, plan_create, plan_link

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
FIRST = FieldPair("first", FieldSpec("firstname", "First name", FieldType.TEXT),
                  FieldSpec("FirstName", "First Name", FieldType.TEXT))
SCORE = FieldPair("score", FieldSpec("score", "Score", FieldType.NUMBER), FieldSpec("Score__c", "Score", FieldType.NUMBER))
LAST = {"first": ["Ann", "Ann"]}


def reasons(plan):
    return [(c["to"], c["reason"]) for c in plan.changes]


def test_a_one_sided_change_says_so_with_its_old_and_new_value():
    plan = plan_link([FIRST], LAST, {"firstname": "Anna"}, {"FirstName": "Ann"})
    assert plan.changes == [{"field_a": "firstname", "field_b": "FirstName", "label": "First Name", "old": "Ann",
                             "new": "Anna", "to": B, "reason": details.ONE_SIDED}]


def test_a_conflict_within_five_minutes_names_the_conflict_winner():
    plan = plan_link([FIRST], LAST, {"firstname": "Anna"}, {"FirstName": "Annie"},
                     modified_a=T0, modified_b=T0 + timedelta(minutes=4), conflict_winner=B)
    assert reasons(plan) == [(A, details.CONFLICT_WINNER)]
    assert (plan.changes[0]["old"], plan.changes[0]["new"]) == ("Anna", "Annie")


def test_a_conflict_further_apart_names_the_most_recent_edit():
    plan = plan_link([FIRST], LAST, {"firstname": "Anna"}, {"FirstName": "Annie"},
                     modified_a=T0 + timedelta(minutes=6), modified_b=T0, conflict_winner=B)
    assert reasons(plan) == [(B, details.MOST_RECENT)]


def test_an_empty_winning_value_says_the_filled_one_was_kept():
    plan = plan_link([FIRST], LAST, {"firstname": ""}, {"FirstName": "Annie"},
                     modified_a=T0, modified_b=T0, conflict_winner=A)
    assert reasons(plan) == [(A, details.EMPTY_KEPT)] and plan.changes[0]["new"] == "Annie"


def test_a_create_lists_every_field_it_wrote_as_created():
    plan = plan_create([FIRST, SCORE], {"firstname": "Ann", "score": Decimal("10.50")}, A)
    assert reasons(plan) == [(B, details.CREATED), (B, details.CREATED)]
    assert [(c["old"], c["new"]) for c in plan.changes] == [(None, "Ann"), (None, "10.5")]


def test_a_side_that_cannot_be_written_reports_no_change():
    bad = {"firstname": "Ann", "score": "not a number"}
    assert plan_create([FIRST, SCORE], bad, A).changes == []
    plan = plan_link([FIRST, SCORE], {**LAST, "score": ["1", "1"]}, {"firstname": "Anna", "score": "x"},
                     {"FirstName": "Ann", "Score__c": 1})
    assert plan.errors and plan.changes == []


def test_decide_says_why_a_side_wins():
    assert decide(None, T0, B) == (B, details.CONFLICT_WINNER)
    assert decide(T0, T0 + timedelta(minutes=5), A) == (A, details.CONFLICT_WINNER)
    assert decide(T0, T0 + timedelta(minutes=5, seconds=1), A) == (B, details.MOST_RECENT)


texts = st.one_of(st.none(), st.text(alphabet="abcXY ", max_size=6))


@given(texts, texts, texts, texts, st.integers(-600, 600), st.sampled_from([A, B]))
def test_every_write_has_exactly_one_change_with_a_reason(last_a, last_b, now_a, now_b, seconds, winner):
    last = {} if last_a is None else {"first": [last_a.strip() or None, (last_b or "").strip() or None]}
    plan = plan_link([FIRST], last, {"firstname": now_a}, {"FirstName": now_b},
                     modified_a=T0, modified_b=T0 + timedelta(seconds=seconds), conflict_winner=winner)
    written = [(side, name) for side in (A, B) for name in plan.writes[side]]
    assert [(c["to"], c["field_a"] if c["to"] == A else c["field_b"]) for c in plan.changes] == written
    for entry in plan.changes:
        assert entry["reason"] in {details.ONE_SIDED, details.CONFLICT_WINNER, details.MOST_RECENT, details.EMPTY_KEPT}
        assert entry["new"] is not None or entry["reason"] != details.EMPTY_KEPT


def test_a_match_says_which_key_and_value_it_shared():
    found = pair_all([("1", {"name": "acme", "domain": "acme.com"}), ("2", {"name": "zed"}), ("3", {"name": "acme"})],
                     [Candidate("b1", {"name": "other", "domain": "acme.com"})])
    assert (found["1"].found, found["1"].key, found["1"].value) == ("b1", "domain", "acme.com")
    assert found["2"].found is None and found["2"].key == ""
    assert found["3"].found is None
    assert pair_all([("1", {"email": "a@b.co"})], [Candidate("b1", {"email": "a@b.co"})], taken={"b1"})["1"].found == TAKEN


def test_an_exclusion_says_whether_it_was_the_email_or_which_filter():
    assert exclusion({"e": ""}, [], email_field="e").reason == details.NO_EMAIL
    invalid = exclusion({"e": "nope"}, [], email_field="e")
    assert invalid.reason == details.NO_EMAIL and "nope" in invalid.detail and "Invalid email" in invalid.message
    country = Condition("country", "eq", "FR", "Country is equal to FR")
    found = exclusion({"e": "a@b.co", "country": "DE"}, [country], email_field="e")
    assert (found.reason, found.detail) == (details.FILTER, "Country is equal to FR")
    assert found.message == "Outside the sync's filter: Country is equal to FR."
    assert exclusion({"e": "a@b.co", "country": "fr"}, [country], email_field="e") is None


def test_detail_values_are_json_safe_and_short():
    assert details.safe(date(2026, 1, 2)) == "2026-01-02" and details.safe(Decimal("1.5")) == "1.5"
    assert details.safe(True) is True and details.safe(None) is None
    assert len(details.safe("x" * 1000)) == details.VALUE_LENGTH
    assoc = details.associations("companies", [str(i) for i in range(80)], [])["associations"]
    assert len(assoc["added"]) == details.ID_LIMIT and assoc["removed"] == []
