"""Step 3, Limit: contacts without email, record matching, and filters per direction (F2.6-F2.8)."""

from __future__ import annotations

from datetime import date, datetime

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from connectors.base import COMPANIES, CONTACTS, FieldSpec, FieldType
from syncrules.engine.convert import ConversionError, to_decimal
from syncrules.models import ObjectSync, SyncFilter
from syncrules.wizard.base import advance, int_or_none, pick, render_step, step_url, wizard_view
from syncrules.wizard.mapping_rows import TYPE_LABELS, field_groups
from syncrules.wizard.reading import AppData, read_apps

Op = SyncFilter.Operator
T = FieldType
OPERATORS: dict[FieldType, list[str]] = {
    T.TEXT: [Op.EQUALS, Op.NOT_EQUALS, Op.CONTAINS, Op.NOT_CONTAINS, Op.IN, Op.KNOWN, Op.UNKNOWN],
    T.NUMBER: [Op.EQUALS, Op.NOT_EQUALS, Op.GREATER, Op.LESS, Op.IN, Op.KNOWN, Op.UNKNOWN],
    T.BOOL: [Op.EQUALS, Op.NOT_EQUALS, Op.KNOWN, Op.UNKNOWN],
    T.DATE: [Op.EQUALS, Op.GREATER, Op.LESS, Op.KNOWN, Op.UNKNOWN],
    T.DATETIME: [Op.GREATER, Op.LESS, Op.KNOWN, Op.UNKNOWN],
    T.ENUMERATION: [Op.EQUALS, Op.NOT_EQUALS, Op.IN, Op.KNOWN, Op.UNKNOWN],
}
NO_VALUE = {Op.KNOWN, Op.UNKNOWN}


def _one(spec: FieldSpec, text: str) -> str:
    """One filter value checked against the field's type, in the form the engine compares."""
    if spec.type == T.NUMBER:
        try:
            to_decimal(text)
        except ConversionError:
            raise ValueError(f"{spec.label} is a number: {text!r} is not one.") from None
    elif spec.type == T.BOOL:
        if text.casefold() not in ("true", "false", "yes", "no"):
            raise ValueError(f"{spec.label} is yes or no: enter true or false.")
        return "true" if text.casefold() in ("true", "yes") else "false"
    elif spec.type in (T.DATE, T.DATETIME):
        try:
            (date if spec.type == T.DATE else datetime).fromisoformat(text)
        except ValueError:
            raise ValueError(f"{spec.label} is a date: write it as 2026-01-31.") from None
    elif spec.type == T.ENUMERATION:
        by_key = {o.value.casefold(): o.value for o in spec.options} | {o.label.casefold(): o.value for o in spec.options}
        if text.casefold() not in by_key:
            raise ValueError(f"{text!r} is not an option of {spec.label}.")
        return by_key[text.casefold()]
    return text


def validate_filter(spec: FieldSpec | None, operator: str, value: str) -> tuple[str, str]:
    """(value to store, error): the operator must suit the field's type, the value its type."""
    if spec is None or spec.type not in OPERATORS:
        return "", "Choose a field."
    if operator not in OPERATORS[spec.type]:
        return "", f"Choose a condition that suits {spec.label} ({TYPE_LABELS[spec.type].lower()})."
    if operator in NO_VALUE:
        return "", ""
    parts = [p.strip() for p in value.split(",")] if operator == Op.IN else [value.strip()]
    if not any(parts):
        return "", "Enter a value."
    try:
        return ",".join(_one(spec, p) for p in parts if p), ""
    except ValueError as exc:
        return "", str(exc)


def matching_text(sync: ObjectSync, data: AppData) -> str:
    """How records are matched for this object type with these two apps (F2.7)."""
    if sync.object_type == CONTACTS:
        return "Contacts are matched by email address: a contact with the same email in both apps is linked and updated instead of created again."
    if sync.object_type == COMPANIES:
        both_domain = all(any(d.key == "domain" for d in data.defaults[s]) for s in "ab")
        if both_domain:
            return "Companies are matched by name or by domain: two companies sharing either are linked, even if the other differs."
        return "Companies are matched by name (one of the apps has no domain field)."
    return "Deals are never matched: every deal is created in the other app."


@wizard_view("limit")
def limit_step(request: HttpRequest, sync: ObjectSync) -> HttpResponse:
    data = read_apps(sync)
    errors: dict[str, str] = {}
    if request.method == "POST" and data.ok:
        if "limit_form" in request.POST:
            sync.require_email = pick(request, "require_email") == "on"
            sync.match_records = pick(request, "match_records") == "on" and sync.object_type != "deals"
            sync.save(update_fields=["require_email", "match_records", "updated_at"])
        response = _act(request, sync, data, errors)
        if response is not None:
            return response
    status = 400 if errors else 200
    return render_step(request, sync, "limit", "limit.html", _context(request, sync, data, errors), status=status)


def _act(request, sync, data, errors) -> HttpResponse | None:
    stay = redirect(step_url(sync, "limit"))
    side = pick(request, "_add_filter")
    if side in ("a", "b"):
        spec = data.spec(side, pick(request, f"field_{side}"))
        operator = pick(request, f"operator_{side}")
        value, error = validate_filter(spec, operator, pick(request, f"option_{side}") or pick(request, f"value_{side}"))
        if error:
            errors[side] = error
            return None
        SyncFilter.objects.create(object_sync=sync, side=side, field=spec.name, operator=operator, value=value)
        messages.success(request, "Filter added.")
        return stay
    if "_remove_filter" in request.POST:
        sync.filters.filter(pk=int_or_none(pick(request, "_remove_filter"))).delete()
        messages.success(request, "Filter removed.")
        return stay
    if "_next" in request.POST:
        advance(sync, "review")
        return redirect(step_url(sync, "review"))
    return stay


def _context(request, sync, data, errors) -> dict:
    sides = []
    for side in "ab":
        rows = [{"filter": f, "label": data.label(side, f.field), "value": option_label(data.spec(side, f.field), f.value)}
                for f in sync.filters.all() if f.side == side]
        sides.append({"side": side, "name": data.name(side) if data.ok else sync.connection(side).name,
                      "rows": rows, "error": errors.get(side), "groups": field_groups(data.specs[side]),
                      "flows": sync.flows_to("b" if side == "a" else "a")})
    fields = {s: {spec.name: {"type": spec.type.value, "ops": OPERATORS.get(spec.type, []),
                              "options": [[o.value, o.label] for o in spec.options]}
                  for spec in data.specs[s].values() if spec.type in OPERATORS} for s in "ab"}
    return {"app_error": data.error, "sides": sides, "matching": matching_text(sync, data) if data.ok else "",
            "operators": Op.choices, "fields": fields,
            "posted": request.POST if request.method == "POST" else {}}


def option_label(spec: FieldSpec | None, value: str) -> str:
    """A stored filter value as people read it (option labels instead of option values)."""
    if spec is None or not spec.options:
        return value
    labels = {o.value: o.label for o in spec.options}
    return ", ".join(labels.get(part, part) for part in value.split(","))
