"""Step 2, Configure: direction, conflict winner, field mappings, value maps, associations, deals."""

from __future__ import annotations

from django.contrib import messages
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from connectors.base import DEALS
from syncrules.engine.convert import mapping_problem
from syncrules.engine.mappings import default_direction
from syncrules.models import Direction, FieldMapping, ObjectSync, Side
from syncrules.wizard import deals
from syncrules.wizard.base import advance, int_or_none, pick, render_step, step_url, wizard_view
from syncrules.wizard.mapping_rows import (
    association_rows,
    compatibility,
    direction_choices,
    field_groups,
    mapping_rows,
    source_side,
)
from syncrules.wizard.reading import AppData, read_apps
from syncrules.wizard.select import pair_syncs, value_map_for


@wizard_view("configure")
def configure_step(request: HttpRequest, sync: ObjectSync) -> HttpResponse:
    data = read_apps(sync, pipelines=sync.object_type == DEALS)
    if request.method == "POST" and data.ok:
        errors = save_basics(request, sync, data)
        response = _act(request, sync, data, errors)
        if response is not None:
            return response
        return _page(request, sync, data, errors, status=400)
    return _page(request, sync, data, {})


def _page(request, sync, data: AppData, errors: dict, status: int = 200) -> HttpResponse:
    names = (data.name("a"), data.name("b")) if data.ok else (sync.connection_a.name, sync.connection_b.name)
    view = "associations" if request.GET.get("view") == "associations" else "all"
    context = {
        "data": data, "errors": errors, "app_error": data.error, "view": view, "name_a": names[0], "name_b": names[1],
        "directions": direction_choices(*names), "source": source_side(sync.direction),
        "rows": mapping_rows(data, sync.field_mappings.all()) if data.ok else [],
        "groups_a": field_groups(data.specs["a"]), "groups_b": field_groups(data.specs["b"]),
        "compat": compatibility(data) if data.ok else {},
        "associations": association_rows(sync, data, pair_syncs(sync.connection_a_id, sync.connection_b_id)),
        "posted": request.POST if request.method == "POST" else {},
    }
    if sync.object_type == DEALS and data.ok:
        context["deals"] = deals.deal_context(sync, data)
    return render_step(request, sync, "configure", "configure.html", context, status=status)


def save_basics(request: HttpRequest, sync: ObjectSync, data: AppData) -> dict[str, str]:
    """Direction, winner and the mapping toggles: saved on every POST so no button loses them."""
    errors = {}
    direction = pick(request, "direction") or sync.direction
    if direction not in Direction.values:
        errors["direction"] = "Choose how data syncs."
        direction = sync.direction
    winner = pick(request, "conflict_winner") or sync.conflict_winner
    if winner not in Side.values:
        errors["conflict_winner"] = "Choose which app wins a conflict."
        winner = sync.conflict_winner
    if direction != sync.direction and source_side(direction):
        winner = source_side(direction)  # a one-way sync defaults to the app data flows from (F2.3)
    sync.direction, sync.conflict_winner = direction, winner
    if sync.object_type == DEALS and any(data.deal_switch.values()):
        sync.sync_deals = pick(request, "sync_deals") == "on"
    sync.save(update_fields=["direction", "conflict_winner", "sync_deals", "updated_at"])
    listed = {int_or_none(v) for v in request.POST.getlist("mapping_ids")} - {None}
    if listed:
        on = {int_or_none(v) for v in request.POST.getlist("enabled")}
        sync.field_mappings.filter(pk__in=listed & on).update(enabled=True)
        sync.field_mappings.filter(pk__in=listed - on).update(enabled=False)
    if sync.object_type == DEALS:
        deals.save_stage_pairs(request, sync, data)
    return errors


def _act(request: HttpRequest, sync: ObjectSync, data: AppData, errors: dict) -> HttpResponse | None:
    """The button pressed; None to show the page again with `errors`."""
    stay = redirect(step_url(sync, "configure"))
    if "_add" in request.POST:
        problem = add_mapping(sync, data, pick(request, "add_a"), pick(request, "add_b"))
        if problem:
            errors["add"] = problem
            return None
        messages.success(request, "Mapping added.")
        return stay
    if "_remove" in request.POST:
        removed, _ = sync.field_mappings.filter(pk=int_or_none(pick(request, "_remove")), is_default=False).delete()
        messages.success(request, "Mapping removed.") if removed else messages.error(
            request, "That mapping is not there any more, or it is a default one (turn it off instead).")
        return stay
    if sync.object_type == DEALS:
        handled = deals.act(request, sync, data, errors)
        if handled is not None or errors:
            return handled
    if errors:
        return None
    if "_next" in request.POST:
        advance(sync, "limit")
        return redirect(step_url(sync, "limit"))
    messages.success(request, "Saved.")
    return stay


def add_mapping(sync: ObjectSync, data: AppData, field_a: str, field_b: str) -> str:
    """Add a custom mapping of two fields; a sentence saying why not, or ''."""
    spec_a, spec_b = data.spec("a", field_a), data.spec("b", field_b)
    if spec_a is None or spec_b is None:
        return f"Choose a field of {data.name('a') if spec_a is None else data.name('b')}."
    direction = default_direction(spec_a, spec_b)
    if direction is None:
        return mapping_problem(spec_a, spec_b, Direction.TWO_WAY)
    if direction == Direction.TWO_WAY and sync.direction != Direction.TWO_WAY:
        direction = sync.direction
    elif sync.direction != Direction.TWO_WAY and direction != sync.direction:
        return (f"{spec_a.label} and {spec_b.label} can only sync "
                f"{'to ' + data.name('a') if direction == 'to_a' else 'to ' + data.name('b')}, "
                f"but this sync only writes the other way.")
    position = (sync.field_mappings.order_by("-position").values_list("position", flat=True).first() or 0) + 1
    try:
        with transaction.atomic():
            FieldMapping.objects.create(object_sync=sync, field_a=field_a, field_b=field_b, direction=direction,
                                        position=position, value_map=value_map_for(spec_a, spec_b))
    except IntegrityError:
        return f"{spec_a.label} and {spec_b.label} are mapped already."
    return ""
