"""Formats the connectors write: numbers as text in one spelling, HubSpot dates at midnight UTC,
phone numbers as text."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from connectors.base import FieldSpec, FieldType
from connectors.hubspot.convert import to_hubspot
from connectors.salesforce.convert import to_salesforce

TEXT = FieldSpec("t", "Text", FieldType.TEXT)
NUMBER = FieldSpec("n", "Number", FieldType.NUMBER)
DAY = FieldSpec("d", "Day", FieldType.DATE)


@pytest.mark.parametrize(("value", "text"), [
    (Decimal("1E+3"), "1000"), (1000.0, "1000"), (Decimal("12.50"), "12.5"), (1e16, "10000000000000000"),
    (Decimal("-0.000001"), "-0.000001"), (42, "42"),
])
def test_numbers_written_as_text_keep_one_spelling(value, text):
    assert to_hubspot(TEXT, value) == text
    assert to_hubspot(NUMBER, value) == text
    assert to_salesforce("string", value) == text
    assert to_salesforce("phone", value) == text


def test_phone_numbers_stay_text():
    assert to_hubspot(FieldSpec("phone", "Phone", FieldType.TEXT), "+1 (555) 010-9999") == "+1 (555) 010-9999"
    assert to_salesforce("phone", "+47 22 00 00 00") == "+47 22 00 00 00"
    assert to_salesforce("currency", Decimal("10.5")) == 10.5  # numbers stay numbers in number fields


def test_hubspot_date_properties_are_written_as_midnight_utc():
    midnight = str(int(datetime(2026, 3, 1, tzinfo=UTC).timestamp() * 1000))
    assert to_hubspot(DAY, date(2026, 3, 1)) == midnight
    assert to_hubspot(DAY, "2026-03-01") == midnight
    late_in_oslo = datetime(2026, 3, 1, 23, 30, tzinfo=timezone(timedelta(hours=1)))
    assert to_hubspot(DAY, late_in_oslo) == midnight  # 22:30 UTC on the 1st
    with pytest.raises(ValueError):
        to_hubspot(DAY, "soon")
