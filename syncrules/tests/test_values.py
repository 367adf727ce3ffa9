"""The evaluation of a value for a target field under each policy, per type pair (plain data)."""

from datetime import date
from decimal import Decimal

import pytest

from connectors.base import FieldSpec, FieldType, Option
from connectors.errors import ErrorCategory
from syncrules.engine.convert import (
    ADD_OPTION,
    FAIL_RECORD,
    FALLBACK_OPTION,
    SKIP_FIELD,
    TRUNCATE,
    evaluate,
    policies_for,
    truncate,
)
from syncrules.engine.merge import FieldPair, plan_create, plan_link

T = FieldType
TEXT = FieldSpec("t", "Text", T.TEXT)
SHORT = FieldSpec("s", "Short", T.TEXT, max_length=5)
NUMBER = FieldSpec("n", "Number", T.NUMBER)
BOOL = FieldSpec("b", "Flag", T.BOOL)
DATE = FieldSpec("d", "Date", T.DATE)
PHONE_A = FieldSpec("phone", "Phone Number", T.TEXT)
PHONE_B = FieldSpec("Phone", "Account Phone", T.TEXT, max_length=40)
INDUSTRY_A = FieldSpec("industry", "Industry", T.ENUMERATION, options=(
    Option("COMPUTER_SOFTWARE", "Computer Software"), Option("RETAIL", "Retail"), Option("ACCOUNTING", "Accounting")))
INDUSTRY_B = FieldSpec("Industry", "Industry", T.ENUMERATION, options=(
    Option("Technology", "Technology"), Option("Retail", "Retail"), Option("Other", "Other")))
TAGS = FieldSpec("tags", "Tags", T.ENUMERATION, multi=True, options=(Option("x", "X"), Option("y", "Y")))


def test_a_value_that_fits_is_a_value_under_every_policy():
    for policy in (SKIP_FIELD, FAIL_RECORD, FALLBACK_OPTION, ADD_OPTION, TRUNCATE):
        assert evaluate("RETAIL", INDUSTRY_A, INDUSTRY_B, policy=policy).value == "Retail"  # same label
        assert evaluate(" 12.50 ", TEXT, NUMBER, policy=policy).value == Decimal("12.50")


def test_a_missing_option_is_a_warning_by_default_and_a_failure_when_the_mapping_says_so():
    skipped = evaluate("COMPUTER_SOFTWARE", INDUSTRY_A, INDUSTRY_B)
    assert skipped.outcome == "warning" and skipped.value is None
    assert skipped.warning.category is ErrorCategory.INVALID_PROPERTY_VALUE
    assert "'COMPUTER_SOFTWARE' has no matching option in Industry" in skipped.warning.message
    failed = evaluate("COMPUTER_SOFTWARE", INDUSTRY_A, INDUSTRY_B, policy=FAIL_RECORD)
    assert failed.outcome == "failure" and failed.failure.field == "Industry"


def test_a_value_map_decides_before_any_policy():
    mapped = evaluate("COMPUTER_SOFTWARE", INDUSTRY_A, INDUSTRY_B, {"COMPUTER_SOFTWARE": "Technology"}, policy=FAIL_RECORD)
    assert mapped.value == "Technology"


def test_the_fallback_option_stands_in_for_a_missing_option_only_when_the_target_has_it():
    assert evaluate("ACCOUNTING", INDUSTRY_A, INDUSTRY_B, policy=FALLBACK_OPTION, fallback="Other").value == "Other"
    missing = evaluate("ACCOUNTING", INDUSTRY_A, INDUSTRY_B, policy=FALLBACK_OPTION, fallback="Misc")
    assert missing.outcome == "warning" and "'Misc' is not an option" in missing.warning.message


def test_a_multi_select_keeps_its_matched_options_beside_the_fallback():
    tags_b = FieldSpec("Tags", "Tags", T.ENUMERATION, multi=True, options=(Option("x", "X"), Option("other", "Other")))
    assert evaluate("x;z", TAGS, tags_b, policy=FALLBACK_OPTION, fallback="other").value == "x;other"


def test_adding_the_missing_option_is_a_value_with_the_option_to_add_where_the_app_can():
    added = evaluate("ACCOUNTING", INDUSTRY_A, INDUSTRY_B, policy=ADD_OPTION, can_add_options=True)
    assert added.value == "ACCOUNTING" and added.new_options == (Option("ACCOUNTING", "Accounting"),)
    cannot = evaluate("ACCOUNTING", INDUSTRY_A, INDUSTRY_B, policy=ADD_OPTION, can_add_options=False)
    assert cannot.outcome == "warning" and not cannot.new_options


def test_truncate_cuts_text_to_the_target_length_and_other_problems_stay_warnings():
    assert evaluate("abcdefgh", TEXT, SHORT, policy=TRUNCATE).value == "abcde"
    assert evaluate("abcdefgh", TEXT, SHORT).outcome == "warning"
    assert evaluate("abcdefgh", TEXT, SHORT, policy=FAIL_RECORD).failure.category is ErrorCategory.VALUE_TOO_LONG
    assert evaluate("not a number", TEXT, NUMBER, policy=TRUNCATE).warning.category is ErrorCategory.TYPE_MISMATCH


def test_truncation_never_splits_a_character_from_its_combining_marks():
    assert truncate("abcde\u0301f", 5) == "abcd"  # "e" + combining acute stays whole, so both go
    assert truncate("ab😀cd", 3) == "ab😀"
    assert truncate("short", 10) == "short"
    assert len(truncate("é" * 50, 7)) == 7


@pytest.mark.parametrize(("value", "source", "target", "expected"), [
    ("+1 (555) 010-9999", PHONE_A, PHONE_B, "+1 (555) 010-9999"),
    (5550100, NUMBER, PHONE_B, "5550100"),
    (Decimal("1E+3"), NUMBER, TEXT, "1000"),
    (1000.0, NUMBER, TEXT, "1000"),
    (Decimal("0.000001"), NUMBER, TEXT, "0.000001"),
    (date(2026, 3, 1), DATE, TEXT, "2026-03-01"),
    (True, BOOL, TEXT, "true"),
    ("yes", TEXT, BOOL, True),
])
def test_type_pairs_convert_to_stable_text_and_back(value, source, target, expected):
    assert evaluate(value, source, target, policy=FAIL_RECORD).value == expected


@pytest.mark.parametrize(("value", "source", "target"), [
    ("soon", TEXT, DATE), ("maybe", TEXT, BOOL), ("12 apples", TEXT, NUMBER), (float("nan"), NUMBER, TEXT),
    (10**400, NUMBER, DATE), ("x;y", TAGS, INDUSTRY_B),
])
def test_a_wrong_format_for_the_target_type_is_a_warning_by_default(value, source, target):
    result = evaluate(value, source, target)
    assert result.outcome == "warning" and result.warning.field == target.name
    assert result.warning.category in (ErrorCategory.TYPE_MISMATCH, ErrorCategory.INVALID_PROPERTY_VALUE)


def test_the_policies_offered_depend_on_the_target_type_and_the_app():
    assert policies_for(INDUSTRY_A, INDUSTRY_B) == [SKIP_FIELD, FAIL_RECORD, FALLBACK_OPTION]
    assert policies_for(INDUSTRY_B, INDUSTRY_A, can_add_options=True) == [SKIP_FIELD, FAIL_RECORD, FALLBACK_OPTION, ADD_OPTION]
    assert policies_for(TEXT, SHORT) == [SKIP_FIELD, FAIL_RECORD, TRUNCATE]
    assert policies_for(TEXT, NUMBER) == [SKIP_FIELD, FAIL_RECORD]


def industry_pair(**kwargs) -> FieldPair:
    return FieldPair("industry|Industry", INDUSTRY_A, INDUSTRY_B, **kwargs)


def test_a_skipped_field_leaves_the_target_as_it_is_and_remembers_both_sides():
    pair, name = industry_pair(policy=SKIP_FIELD), FieldPair("n|N", TEXT, TEXT)
    plan = plan_link([pair, name], {"industry|Industry": ["RETAIL", "Retail"], "n|N": ["x", "x"]},
                     {"industry": "COMPUTER_SOFTWARE", "t": "y"}, {"Industry": "Retail", "t": "x"})
    assert plan.writes["b"] == {"t": "y"} and not plan.errors
    assert plan.last["industry|Industry"] == ["COMPUTER_SOFTWARE", "Retail"]
    (warning,) = plan.warnings["b"]
    assert warning["field"] == "Industry" and warning["value"] == "COMPUTER_SOFTWARE" and warning["side"] == "b"


def test_a_field_not_carried_is_tried_again_when_asked_and_carried_once_it_fits():
    last = {"industry|Industry": ["COMPUTER_SOFTWARE", "Retail"]}
    values_a, values_b = {"industry": "COMPUTER_SOFTWARE"}, {"Industry": "Retail"}
    assert plan_link([industry_pair(policy=SKIP_FIELD)], last, values_a, values_b).writes["b"] == {}
    mapped = industry_pair(policy=SKIP_FIELD, value_map={"a_to_b": {"COMPUTER_SOFTWARE": "Technology"}})
    plan = plan_link([mapped], last, values_a, values_b, retry={"industry|Industry": "b"})
    assert plan.writes["b"] == {"Industry": "Technology"} and "industry|Industry" in plan.settled


def test_a_create_leaves_a_skipped_field_empty_unless_the_app_requires_it():
    plan = plan_create([industry_pair(policy=SKIP_FIELD)], {"industry": "ACCOUNTING"}, "a")
    assert plan.writes["b"] == {} and not plan.errors and plan.warnings["b"]
    required = FieldSpec("Industry", "Industry", T.ENUMERATION, required=True, options=INDUSTRY_B.options)
    strict = plan_create([FieldPair("k", INDUSTRY_A, required, policy=SKIP_FIELD)], {"industry": "ACCOUNTING"}, "a")
    assert strict.errors["b"].category is ErrorCategory.INVALID_PROPERTY_VALUE


def test_options_to_add_travel_with_the_plan():
    pair = industry_pair(policy=ADD_OPTION, add_options_on=frozenset({"b"}))
    plan = plan_create([pair], {"industry": "ACCOUNTING"}, "a")
    assert plan.writes["b"] == {"Industry": "ACCOUNTING"}
    assert plan.new_options["b"] == {"Industry": [Option("ACCOUNTING", "Accounting")]}
