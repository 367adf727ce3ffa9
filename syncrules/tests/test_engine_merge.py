"""Deltas, conflicts and merges for one record, on plain data."""

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from connectors.base import FieldSpec, FieldType, Option
from connectors.errors import ErrorCategory
from syncrules.engine.merge import A, B, FieldPair, plan_create, plan_link

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
FIRST = FieldPair("first", FieldSpec("firstname", "First", FieldType.TEXT), FieldSpec("FirstName", "First", FieldType.TEXT))
CITY = FieldPair("city", FieldSpec("city", "City", FieldType.TEXT), FieldSpec("MailingCity", "City", FieldType.TEXT))
AMOUNT = FieldPair("amount", FieldSpec("amount", "Amount", FieldType.NUMBER), FieldSpec("Amount", "Amount", FieldType.NUMBER))
PAIRS = [FIRST, CITY]


def test_a_one_sided_edit_is_copied_across():
    last = {"first": ["Ann", "Ann"], "city": ["Paris", "Paris"]}
    plan = plan_link(PAIRS, last, {"firstname": "Anna", "city": "Paris"}, {"FirstName": "Ann", "MailingCity": "Paris"})
    assert plan.writes == {A: {}, B: {"FirstName": "Anna"}}
    assert plan.last["first"] == ["Anna", "Anna"]


def test_our_own_write_read_back_is_no_change():
    last = {"amount": ["10.5", "10.5"]}
    plan = plan_link([AMOUNT], last, {"amount": "10.50"}, {"Amount": 10.5})
    assert plan.writes == {A: {}, B: {}}


def test_edits_of_different_fields_on_both_sides_both_flow():
    last = {"first": ["Ann", "Ann"], "city": ["Paris", "Paris"]}
    plan = plan_link(PAIRS, last, {"firstname": "Anna", "city": "Paris"}, {"FirstName": "Ann", "MailingCity": "Lyon"})
    assert plan.writes == {A: {"city": "Lyon"}, B: {"FirstName": "Anna"}}


def test_a_conflict_within_five_minutes_goes_to_the_conflict_winner():
    last = {"first": ["Ann", "Ann"]}
    values = ({"firstname": "Anna"}, {"FirstName": "Annie"})
    plan = plan_link([FIRST], last, *values, modified_a=T0, modified_b=T0 + timedelta(minutes=4), conflict_winner=A)
    assert plan.writes[B] == {"FirstName": "Anna"}
    plan = plan_link([FIRST], last, *values, modified_a=T0, modified_b=T0 + timedelta(minutes=4), conflict_winner=B)
    assert plan.writes[A] == {"firstname": "Annie"}


def test_outside_five_minutes_the_latest_edit_wins():
    last = {"first": ["Ann", "Ann"]}
    plan = plan_link(
        [FIRST], last, {"firstname": "Anna"}, {"FirstName": "Annie"},
        modified_a=T0, modified_b=T0 + timedelta(minutes=6), conflict_winner=A,
    )
    assert plan.writes == {A: {"firstname": "Annie"}, B: {}}


def test_an_empty_winning_value_never_overwrites_a_filled_one():
    last = {"first": ["Ann", "Ann"]}
    plan = plan_link([FIRST], last, {"firstname": ""}, {"FirstName": "Annie"}, modified_a=T0, modified_b=T0, conflict_winner=A)
    assert plan.writes == {A: {"firstname": "Annie"}, B: {}}


def test_a_one_sided_clear_is_copied_across():
    plan = plan_link([FIRST], {"first": ["Ann", "Ann"]}, {"firstname": None}, {"FirstName": "Ann"})
    assert plan.writes[B] == {"FirstName": None}


def test_a_fresh_match_fills_blanks_both_ways_and_keeps_equal_values():
    plan = plan_link(PAIRS, {}, {"firstname": "Ann", "city": ""}, {"FirstName": "ann ", "MailingCity": "Lyon"})
    # "Ann" vs "ann": different text, both filled, no timestamps: the conflict winner (A) wins.
    assert plan.writes == {A: {"city": "Lyon"}, B: {"FirstName": "Ann"}}


def test_the_direction_stops_writes_to_the_other_side_but_records_the_value():
    one_way = FieldPair("first", FIRST.spec_a, FIRST.spec_b, to_a=False, to_b=True)
    plan = plan_link([one_way], {"first": ["Ann", "Ann"]}, {"firstname": "Ann"}, {"FirstName": "Annie"})
    assert plan.writes == {A: {}, B: {}}
    assert plan.last["first"] == ["Ann", "Annie"]


def test_an_impossible_conversion_blocks_that_side_and_keeps_the_old_last_value():
    to_number = FieldPair("score", FieldSpec("score", "Score", FieldType.TEXT), FieldSpec("Score", "Score", FieldType.NUMBER))
    last = {"score": ["1", "1"], "first": ["Ann", "Ann"]}
    plan = plan_link([to_number, FIRST], last, {"score": "lots", "firstname": "Anna"}, {"Score": 1, "FirstName": "Ann"})
    assert plan.errors[B].category is ErrorCategory.TYPE_MISMATCH
    assert plan.writes[B] == {}
    assert plan.last == last  # nothing written, so the delta stays for the retry


def test_a_create_converts_every_flowing_field_and_skips_empty_ones():
    plan = plan_create(PAIRS, {"firstname": "Ann", "city": None}, A)
    assert plan.writes[B] == {"FirstName": "Ann"}
    assert plan.last == {"first": ["Ann", "Ann"], "city": [None, None]}


def test_a_create_without_a_required_value_fails_before_any_call():
    required = FieldPair("last", FieldSpec("lastname", "Last", FieldType.TEXT), FieldSpec("LastName", "Last", FieldType.TEXT, required=True))
    plan = plan_create([required], {"lastname": ""}, A)
    assert plan.errors[B].category is ErrorCategory.MISSING_REQUIRED_FIELD
    assert plan.writes[B] == {}


names = st.one_of(st.none(), st.sampled_from(["Ann", "Bob", "Cy", ""]))
moments = st.integers(min_value=0, max_value=20).map(lambda m: T0 + timedelta(minutes=m))


@given(last_a=names, last_b=names, a=names, b=names, ma=moments, mb=moments, winner=st.sampled_from([A, B]))
def test_applying_a_plan_makes_both_sides_agree_and_a_second_plan_writes_nothing(last_a, last_b, a, b, ma, mb, winner):
    last = {"first": [FIRST.current(A, {"firstname": last_a}), FIRST.current(B, {"FirstName": last_b})]}
    values_a, values_b = {"firstname": a}, {"FirstName": b}
    plan = plan_link([FIRST], last, values_a, values_b, modified_a=ma, modified_b=mb, conflict_winner=winner)
    values_a.update(plan.writes[A])
    values_b.update(plan.writes[B])
    now_a, now_b = FIRST.current(A, {"firstname": a}), FIRST.current(B, {"FirstName": b})
    edited_a, edited_b = now_a != last["first"][0], now_b != last["first"][1]
    if edited_a or edited_b:
        assert FIRST.current(A, values_a) == FIRST.current(B, values_b)
    again = plan_link([FIRST], plan.last, values_a, values_b, modified_a=ma, modified_b=mb, conflict_winner=winner)
    assert again.writes == {A: {}, B: {}}
    if edited_a and edited_b and (now_a is None) != (now_b is None):
        assert FIRST.current(A, values_a) is not None  # an empty value never wins a conflict


def test_a_pair_changed_with_replace_converts_with_its_new_value_map():
    from dataclasses import replace

    stage_a = FieldSpec("stage", "Stage", FieldType.ENUMERATION, options=(Option("lead", "Lead"),))
    stage_b = FieldSpec("Status", "Status", FieldType.ENUMERATION, options=(Option("Open", "Open"), Option("New", "New")))
    pair = FieldPair("stage|Status", stage_a, stage_b, value_map={"a_to_b": {"lead": "Open"}})
    changed = replace(pair, value_map={"a_to_b": {"lead": "New"}})
    assert pair.evaluate_to(B, "lead").value == "Open"
    assert changed.evaluate_to(B, "lead").value == "New"
    assert changed.current(A, {"stage": " lead "}) == "lead" and changed == replace(pair, value_map=changed.value_map)
