"""JSON fields that accept only their schema: an object with known keys and value types.

Django's JSONField takes any JSON, and Python's json module any JSON-ish text: `NaN`,
`Infinity`, `1e999` (a float infinity), a 10,000-digit number or arrays nested past the
recursion limit. Those either crash the form (a 500) or are stored and break every later use
(`[1, 2]` as a connection's options fails its test and every run). Forms parse strictly here and
models validate the parsed value against a schema, so a person gets a form error instead.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.deconstruct import deconstructible

MAX_TEXT = 100_000  # characters of JSON a form accepts


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def loads_strict(text: str) -> Any:
    """Parse JSON text, refusing NaN, infinities, numbers out of range and runaway nesting."""
    if len(text) > MAX_TEXT:
        raise ValueError(f"longer than {MAX_TEXT} characters")
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise ValueError("nested too deeply") from None


class StrictJSONFormField(forms.JSONField):
    """A form's JSON object field: strict parsing, and an empty box means an empty object."""

    def to_python(self, value: Any) -> Any:
        if self.disabled:
            return value
        if value in self.empty_values:
            return {}
        if isinstance(value, str):
            try:
                value = loads_strict(value)
            except ValueError as exc:  # JSONDecodeError is a ValueError
                raise ValidationError(f"Enter valid JSON: {exc}.", code="invalid") from None
        if not isinstance(value, dict):
            raise ValidationError("Enter a JSON object ({...}), not %(kind)s.", params={"kind": _kind(value)},
                                  code="not_object")
        return value

    def bound_data(self, data: Any, initial: Any) -> Any:
        if self.disabled:
            return initial
        if data is None:
            return None
        try:
            return loads_strict(data)
        except ValueError:
            return forms.fields.InvalidJSONInput(data)

    def prepare_value(self, value: Any) -> str:
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, ensure_ascii=False, cls=self.encoder)


class StrictJSONField(models.JSONField):
    """A JSONField whose form field parses strictly (see StrictJSONFormField)."""

    def formfield(self, **kwargs: Any) -> forms.Field:
        return super().formfield(**{"form_class": StrictJSONFormField, **kwargs})


# --- schemas --------------------------------------------------------------------------------
# A schema maps each known key to a check of its value; unknown keys are refused, so a typo
# ("asociation_sweep_seconds") is an error rather than a setting silently ignored.
Check = Callable[[Any], str | None]  # returns what is wrong, or None


def number(minimum: float = 0, *, whole: bool = False) -> Check:
    def check(value: Any) -> str | None:
        kinds = (int,) if whole else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value):
            return "a whole number" if whole else "a number"
        if value < minimum:
            return f"at least {minimum}"
        return None

    return check


def boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "true or false"


def one_of(*choices: str) -> Check:
    return lambda value: None if value in choices else "one of " + ", ".join(repr(c) for c in choices)


def string_map(value: Any) -> str | None:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return 'an object of text to text, e.g. {"Gold": "gold"}'
    return None


def text(value: Any) -> str | None:
    return None if isinstance(value, str) and len(value) <= 2000 else "text (at most 2,000 characters)"


def preview_signature(value: Any) -> str | None:
    """The wizard's note of which preview was made under which settings: [preview id, fingerprint]."""
    ok = (isinstance(value, list) and len(value) == 2 and isinstance(value[0], int)
          and not isinstance(value[0], bool) and isinstance(value[1], str))
    return None if ok else "[a preview id, a settings fingerprint]"


@deconstructible
class ObjectSchema:
    """A validator: the value is an object whose keys are all known and whose values pass."""

    def __init__(self, name: str) -> None:
        self.name = name  # a key of SCHEMAS, so migrations refer to the schema by name

    def __call__(self, value: Any) -> None:
        schema = SCHEMAS[self.name]
        if not isinstance(value, Mapping):
            raise ValidationError("Enter a JSON object ({...}), not %(kind)s.", params={"kind": _kind(value)},
                                  code="not_object")
        errors = []
        for key, item in value.items():
            check = schema.get(key)
            if check is None:
                known = ", ".join(sorted(schema)) or "none"
                errors.append(f"Unknown key {key!r} (known keys: {known}).")
            elif (problem := check(item)) is not None:
                errors.append(f"{key!r} must be {problem}.")
        if errors:
            raise ValidationError(errors, code="schema")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectSchema) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {list: "a list", str: "text", bool: "true/false"}.get(type(value), "a number")


SCHEMAS: dict[str, dict[str, Check]] = {
    # Connection.options: every connector's settings (connectors/hubspot, connectors/salesforce).
    "connection_options": {
        # Both: read the next page while the engine works on the current one (connectors.readahead).
        "read_ahead": boolean,
        # Both: calls of one lookup, read or write sent at once (connectors.fanout).
        "parallel_calls": number(1, whole=True),
        # HubSpot
        "client_rate_limit": boolean,
        "rate_limit_per_10s": number(1, whole=True),
        "search_per_second": number(1, whole=True),
        "max_attempts": number(1, whole=True),
        "read_timeout": number(0.1),
        "search_lag_seconds": number(0),
        "search_page_size": number(1, whole=True),
        "read_associations": boolean,
        "app_url": text,  # where record links open when the base URL is neither HubSpot's nor a sandbox's
        # Salesforce
        "timeout": number(0.1),
        "api_budget_share": number(0.01),
        "backoff_base": number(0),
        "query_batch_size": number(200, whole=True),
        "contacts_object": one_of("Contact", "Lead"),
        "settle_seconds": number(0),
    },
    # ObjectSync.options: read by the engine (associations.py, deletions.py).
    "sync_options": {
        "association_sweep_seconds": number(0, whole=True),
        "propagate_deletions": boolean,
        # Kept by the wizard (syncrules/wizard/review.py): the settings the initial read and the
        # latest preview were made under, to say when either is out of date.
        "settings_signature": text,
        "preview_signature": preview_signature,
    },
    # FieldMapping.value_map: enumeration options, each direction a map of text to text.
    "value_map": {"a_to_b": string_map, "b_to_a": string_map},
}
