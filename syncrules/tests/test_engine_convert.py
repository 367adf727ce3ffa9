"""Normalisation, conversion and mapping compatibility on plain values."""

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.base import FieldSpec, FieldType, Option
from connectors.errors import ErrorCategory
from syncrules.engine.convert import (
    ConversionError,
    convert,
    explain_incompatibility,
    mapping_directions,
    normalize,
    normalizer,
)

TEXT = FieldSpec("t", "Text", FieldType.TEXT)
SHORT = FieldSpec("s", "Short", FieldType.TEXT, max_length=5)
NUMBER = FieldSpec("n", "Number", FieldType.NUMBER)
BOOL = FieldSpec("b", "Flag", FieldType.BOOL)
DATE = FieldSpec("d", "Date", FieldType.DATE)
DATETIME = FieldSpec("dt", "When", FieldType.DATETIME)
STAGE_A = FieldSpec("stage", "Stage", FieldType.ENUMERATION, options=(Option("lead", "Lead"), Option("customer", "Customer")))
STAGE_B = FieldSpec("Status", "Status", FieldType.ENUMERATION, options=(Option("Open", "Lead"), Option("Won", "Customer")))
MULTI = FieldSpec("tags", "Tags", FieldType.ENUMERATION, multi=True, options=(Option("x", "X"), Option("y", "Y")))
REF = FieldSpec("owner", "Owner", FieldType.REFERENCE)


def test_it_normalizes_numbers_to_one_spelling():
    assert normalize(Decimal("10.50"), NUMBER) == normalize(10.5, NUMBER) == normalize("10.5", NUMBER) == "10.5"
    assert normalize(Decimal("1E+1"), NUMBER) == normalize(10, NUMBER) == "10"


def test_it_normalizes_datetimes_to_utc_seconds():
    paris = timezone(timedelta(hours=1))
    a = datetime(2026, 1, 2, 11, 0, 0, 123000, tzinfo=paris)
    assert normalize(a, DATETIME) == normalize("2026-01-02T10:00:00Z", DATETIME) == "2026-01-02T10:00:00+00:00"


def test_it_normalizes_empty_values_to_none_and_email_case_when_asked():
    assert normalize("  ", TEXT) is None
    assert normalize(" Ann@Example.COM ", TEXT, casefold=True) == "ann@example.com"
    assert normalize("Ann", TEXT) == "Ann"


def test_it_normalizes_multi_select_values_in_any_order():
    assert normalize("y;x", MULTI) == normalize(["x", "y"], MULTI) == "x;y"


def test_it_converts_numbers_to_text_and_back():
    assert convert(Decimal("12.50"), NUMBER, TEXT) == "12.5"
    assert convert("12.5", TEXT, NUMBER) == Decimal("12.5")
    assert convert("12", TEXT, NUMBER) == 12


def test_it_converts_between_dates_and_datetimes():
    assert convert(date(2026, 3, 4), DATE, DATETIME) == datetime(2026, 3, 4, tzinfo=UTC)
    assert convert("2026-03-04T23:30:00-02:00", DATETIME, DATE) == date(2026, 3, 5)
    assert convert(date(2026, 3, 4), DATE, TEXT) == "2026-03-04"


def test_it_converts_booleans_from_words():
    assert convert("Yes", TEXT, BOOL) is True
    assert convert(False, BOOL, TEXT) == "false"


def test_it_maps_enumeration_options_by_value_map_then_by_label():
    assert convert("lead", STAGE_A, STAGE_B, {"lead": "Open"}) == "Open"
    assert convert("customer", STAGE_A, STAGE_B) == "Won"  # same label "Customer"


def test_it_refuses_an_enumeration_value_with_no_option_on_the_other_side():
    with pytest.raises(ConversionError) as caught:
        convert("partner", STAGE_A, STAGE_B)
    assert caught.value.category is ErrorCategory.INVALID_PROPERTY_VALUE
    assert caught.value.field == "Status"


def test_it_reports_an_impossible_conversion_as_a_type_mismatch():
    with pytest.raises(ConversionError) as caught:
        convert("twelve", TEXT, NUMBER)
    assert caught.value.category is ErrorCategory.TYPE_MISMATCH
    with pytest.raises(ConversionError):
        convert("not a date", TEXT, DATE)


def test_it_reports_a_value_too_long_for_the_target():
    with pytest.raises(ConversionError) as caught:
        convert("abcdef", TEXT, SHORT)
    assert caught.value.category is ErrorCategory.VALUE_TOO_LONG


def test_it_passes_empty_values_through_as_none():
    assert convert("", TEXT, NUMBER) is None
    assert convert(None, STAGE_A, STAGE_B) is None


def test_it_allows_same_type_mappings_both_ways():
    assert mapping_directions(TEXT, TEXT) == {"two_way", "to_a", "to_b"}
    assert mapping_directions(DATE, DATETIME) == {"two_way", "to_a", "to_b"}
    assert mapping_directions(STAGE_A, STAGE_B) == {"two_way", "to_a", "to_b"}


def test_it_allows_a_number_to_text_mapping_one_way_only():
    assert mapping_directions(NUMBER, TEXT) == {"to_b"}
    assert mapping_directions(TEXT, NUMBER) == {"to_a"}


def test_it_refuses_incompatible_and_read_only_pairs_with_a_message():
    assert mapping_directions(BOOL, NUMBER) == set()
    assert "cannot be mapped" in explain_incompatibility(BOOL, NUMBER)
    assert mapping_directions(REF, REF) == set()
    read_only = FieldSpec("t2", "Computed", FieldType.TEXT, read_only=True)
    assert mapping_directions(TEXT, read_only) == {"to_a"}
    assert explain_incompatibility(TEXT, TEXT) == ""


@given(st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-10**9, max_value=10**9))
def test_a_converted_number_normalizes_like_the_original(number):
    assert normalize(convert(number, NUMBER, TEXT), NUMBER) == normalize(number, NUMBER)
    assert normalize(convert(str(number), TEXT, NUMBER), NUMBER) == normalize(number, NUMBER)


@given(st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-7)), timezone(timedelta(hours=5, minutes=30))])))
def test_a_datetime_normalizes_the_same_in_any_zone_or_spelling(moment):
    assert normalize(moment, DATETIME) == normalize(moment.astimezone(UTC).isoformat(), DATETIME)


def test_it_explains_which_direction_a_one_way_pair_can_take():
    from syncrules.engine.convert import mapping_problem

    assert mapping_problem(NUMBER, TEXT, "to_b") == ""
    assert "only to side B" in mapping_problem(NUMBER, TEXT, "two_way")
    assert "cannot be mapped" in mapping_problem(BOOL, NUMBER, "to_b")


ANY_VALUE = st.one_of(
    st.none(), st.text(), st.text(alphabet=" \t\nAbc@.1"), st.integers(), st.booleans(),
    st.decimals(allow_nan=False, allow_infinity=False), st.dates(), st.lists(st.sampled_from(["x", "y", " "])),
)


@given(ANY_VALUE, st.sampled_from([TEXT, SHORT, NUMBER, BOOL, DATE, DATETIME, STAGE_A, MULTI]), st.booleans())
def test_a_fields_normalizer_gives_what_normalize_gives(value, spec, casefold):
    assert normalizer(spec, casefold=casefold)(value) == normalize(value, spec, casefold=casefold)


def test_the_text_normalizer_trims_folds_and_empties_as_normalize_does():
    fold = normalizer(TEXT, casefold=True)
    assert (fold("  Ann@Example.COM "), fold("   "), fold(""), fold(None), fold(42)) == ("ann@example.com", None, None, None, "42")
    assert normalizer(TEXT)(" Ann ") == "Ann"
