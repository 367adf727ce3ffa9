"""Values between Salesforce's JSON and the plain Python values of the connector contract."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from connectors.base import FieldSpec, FieldType, Option, number_text
from connectors.salesforce import defaults


def from_salesforce(ftype: str, value: Any) -> Any:
    """A Salesforce JSON value as the plain Python value the contract speaks."""
    if value is None:
        return None
    if ftype == "datetime":
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)
    if ftype == "date":
        return date.fromisoformat(str(value)[:10])
    if ftype == "currency":
        return Decimal(str(value))
    if ftype in ("double", "percent"):
        return float(value)
    if ftype == "int":
        return int(value)
    return value


def to_salesforce(ftype: str, value: Any) -> Any:
    """A plain Python value in the JSON form Salesforce accepts for a field of `ftype`."""
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    if isinstance(value, date):
        return value.isoformat()
    if ftype in TEXT_TYPES and isinstance(value, Decimal | float | int) and not isinstance(value, bool):
        return number_text(value)  # phone numbers and other text stay text, in one spelling
    if isinstance(value, Decimal):
        return int(value) if ftype == "int" else float(value)
    if ftype in TEXT_TYPES and not isinstance(value, str):
        return str(value)
    return value


TEXT_TYPES = ("string", "textarea", "email", "phone", "url", "picklist")


def field_spec(f: dict) -> FieldSpec:
    """A describe() field as the contract's FieldSpec (required = createable, not nillable, no default)."""
    ftype = defaults.FIELD_TYPES.get(f["type"], FieldType.TEXT)
    options = tuple(
        Option(p["value"], p.get("label") or p["value"])
        for p in f.get("picklistValues") or []
        if p.get("active", True)
    )
    refs = f.get("referenceTo") or []
    return FieldSpec(
        name=f["name"],
        label=f.get("label") or f["name"],
        type=ftype,
        required=bool(f.get("createable") and not f.get("nillable") and not f.get("defaultedOnCreate")),
        read_only=not (f.get("createable") or f.get("updateable")),
        unique=bool(f.get("unique") or f.get("externalId") or f["name"] == "Id"),
        options=options,
        max_length=(f.get("length") or None) if ftype is FieldType.TEXT else None,
        multi=f["type"] == "multipicklist",
        reference_to=defaults.TO_CANONICAL.get(refs[0], "") if refs else "",
    )
