"""Step 1, Select object: two healthy connections and an object type both apps and the engine sync."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

from connectors.base import COMPANIES, CONTACTS, DEALS, OBJECT_TYPE_LABELS
from connectors.models import Connection
from syncrules import permissions
from syncrules.engine.mappings import default_mapping_rows, default_value_map, suggest_options
from syncrules.engine.runner import SUPPORTED_TYPES
from syncrules.models import FieldMapping, ObjectSync, PipelineMapping, SyncFilter
from syncrules.wizard.base import advance, int_or_none, pick, refuse, render_step, step_url, wizard_view
from syncrules.wizard.reading import AppData, read_apps

RECHECK_AFTER = timedelta(minutes=10)  # a connection checked this recently is not asked again


def check_connections() -> list[Connection]:
    """Every connection, each checked against its app unless it was found healthy recently.

    Runs before the page renders and outside any transaction (each check is an HTTP call).
    """
    connections = list(Connection.objects.order_by("name", "pk"))
    fresh = timezone.now() - RECHECK_AFTER
    for connection in connections:
        stale = connection.last_checked_at is None or connection.last_checked_at < fresh
        if connection.status != Connection.Status.CONNECTED or stale:
            try:
                connection.test()
            except Exception as exc:  # noqa: BLE001 - a broken connection is shown, never a 500
                connection.status, connection.last_error = Connection.Status.FAILING, str(exc)
    return connections


def syncable_types(connection: Connection) -> set[str]:
    """Object types this connection's app has that the engine syncs (no HTTP: a static list)."""
    try:
        return {t.key for t in connection.connector_class()("", {}).object_types()} & SUPPORTED_TYPES
    except Exception:  # noqa: BLE001 - an unknown connector kind offers nothing
        return set()


def _choices(connections: list[Connection]) -> dict:
    healthy = [c for c in connections if c.status == Connection.Status.CONNECTED]
    failing = [c for c in connections if c.status != Connection.Status.CONNECTED]
    types = {c.pk: syncable_types(c) for c in healthy}
    offered = sorted(set().union(*types.values()) if types else set(), key=lambda t: (t != CONTACTS, t))
    return {"healthy": healthy, "failing": failing, "types": types,
            "object_types": [(t, OBJECT_TYPE_LABELS[t]) for t in offered]}


def pair_syncs(a_id: int | None, b_id: int | None) -> dict[str, ObjectSync]:
    """Syncs (not drafts) between two connections, by object type."""
    found = {}
    for sync in ObjectSync.objects.exclude(state=ObjectSync.State.DRAFT).order_by("pk"):
        if {sync.connection_a_id, sync.connection_b_id} == {a_id, b_id}:
            found.setdefault(sync.object_type, sync)
    return found


def _validate(request: HttpRequest, choices: dict) -> tuple[dict, dict[str, str]]:
    healthy = {c.pk: c for c in choices["healthy"]}
    a, b = int_or_none(pick(request, "connection_a")), int_or_none(pick(request, "connection_b"))
    kind = pick(request, "object_type")
    errors = {}
    if a not in healthy:
        errors["connection_a"] = "Choose a connected app."
    if b not in healthy:
        errors["connection_b"] = "Choose a connected app."
    if not errors and a == b:
        errors["connection_b"] = "Choose two different connections: a sync runs between two apps."
    if kind not in OBJECT_TYPE_LABELS:
        errors["object_type"] = "Choose what to sync."
    elif not errors and not (kind in choices["types"][a] and kind in choices["types"][b]):
        errors["object_type"] = f"{OBJECT_TYPE_LABELS[kind]} cannot be synced between these two apps."
    return {"a": healthy.get(a), "b": healthy.get(b), "kind": kind}, errors


def _page(request, sync, choices, values, errors, status=200, prerequisites=(None, ""), app_error=""):
    a_id = values["a"].pk if values.get("a") else None
    b_id = values["b"].pk if values.get("b") else None
    existing = pair_syncs(a_id, b_id) if a_id and b_id else {}
    return render_step(request, sync, "select", "select.html", {
        **choices, "values": values, "errors": errors, "app_error": app_error,
        "prerequisites": prerequisites[0], "prerequisites_error": prerequisites[1],
        "existing": existing, "needs_first": [OBJECT_TYPE_LABELS[t].lower() for t in (COMPANIES, CONTACTS)
                                              if t not in existing],
        "connections_url": reverse("admin:connectors_connection_changelist"),
        "locked": sync is not None and sync.state != ObjectSync.State.DRAFT,
    }, status=status)


def select_new(request: HttpRequest) -> HttpResponse:
    """Start a sync: the form, and on POST a new draft row holding the choice and default mappings."""
    if not permissions.can_edit_syncs(request.user):
        return refuse(request, "You may look at syncs but not set them up or change them.")
    choices = _choices(check_connections())
    if request.method != "POST":
        healthy = {c.pk: c for c in choices["healthy"]}
        values = {"a": healthy.get(int_or_none(request.GET.get("a"))),
                  "b": healthy.get(int_or_none(request.GET.get("b"))), "kind": request.GET.get("type", "")}
        return _page(request, None, choices, values, {})
    values, errors = _validate(request, choices)
    if errors:
        return _page(request, None, choices, values, errors, status=400)
    sync = ObjectSync(connection_a=values["a"], connection_b=values["b"], object_type=values["kind"],
                      created_by=request.user, state=ObjectSync.State.DRAFT)
    data = read_apps(sync)
    if not data.ok:
        return _page(request, None, choices, values, {}, status=400, app_error=data.error)
    with transaction.atomic():
        sync.save()
        create_defaults(sync, data)
    return _after_select(sync)


def _after_select(sync: ObjectSync) -> HttpResponse:
    # A deal draft stays on this step once more: its prerequisites are shown before going on.
    if sync.object_type == DEALS and sync.wizard_step == "select":
        return redirect(step_url(sync, "select"))
    advance(sync, "configure")
    return redirect(step_url(sync, "configure"))


def create_defaults(sync: ObjectSync, data: AppData) -> list[FieldMapping]:
    """The default mappings the two apps propose; enumeration pairs get the connectors' standard
    option maps (engine.mappings.default_value_map), with similar-text suggestions for the rest."""
    kind = sync.object_type
    rows = default_mapping_rows(kind, (data.defaults["a"], data.defaults["b"]), data.specs["a"], data.specs["b"])
    # Building a connector makes no HTTP call; the standard option maps are files beside it.
    connector_a, connector_b = sync.connection_a.connector(), sync.connection_b.connector()
    mappings = []
    for key, field_a, field_b, direction, position in rows:
        spec_a, spec_b = data.specs["a"][field_a], data.specs["b"][field_b]
        value_map = value_map_for(spec_a, spec_b)
        standard = default_value_map(connector_a, connector_b, kind, key, spec_a, spec_b)
        for way in standard:
            value_map[way] = {**value_map.get(way, {}), **standard[way]}
        mappings.append(FieldMapping(object_sync=sync, field_a=field_a, field_b=field_b, direction=direction,
                                     is_default=True, position=position, value_map=value_map))
    return FieldMapping.objects.bulk_create(mappings)


def value_map_for(spec_a, spec_b) -> dict:
    if spec_a.options and spec_b.options:
        return {"a_to_b": suggest_options(spec_a, spec_b), "b_to_a": suggest_options(spec_b, spec_a)}
    return {}


@wizard_view("select")
def select_step(request: HttpRequest, sync: ObjectSync) -> HttpResponse:
    """A draft's first step again (Back): change the choice, or see a deal sync's prerequisites."""
    choices = _choices(check_connections())
    values = {"a": sync.connection_a, "b": sync.connection_b, "kind": sync.object_type}
    if request.method != "POST" or sync.state != ObjectSync.State.DRAFT:
        return _page(request, sync, choices, values, {}, prerequisites=_prerequisites(sync))
    values, errors = _validate(request, choices)
    if errors:
        return _page(request, sync, choices, values, errors, status=400)
    changed = (values["a"].pk, values["b"].pk, values["kind"]) != (
        sync.connection_a_id, sync.connection_b_id, sync.object_type)
    if changed:
        error = _reselect(sync, values)
        if error:
            return _page(request, sync, choices, values, {}, status=400, app_error=error)
        return _after_select(sync)
    advance(sync, "configure")
    return redirect(step_url(sync, "configure"))


def _reselect(sync: ObjectSync, values: dict) -> str:
    """Point the draft at other apps or another type: its mappings start again from the defaults."""
    sync.connection_a, sync.connection_b, sync.object_type = values["a"], values["b"], values["kind"]
    data = read_apps(sync)
    if not data.ok:
        return data.error
    with transaction.atomic():
        sync.wizard_step = "select"
        sync.save()
        for model in (FieldMapping, SyncFilter, PipelineMapping):
            model.objects.filter(object_sync=sync).delete()
        create_defaults(sync, data)
    return ""


def _prerequisites(sync: ObjectSync) -> tuple[list | None, str]:
    """A deal sync's prerequisites checked against the apps (F6.9), or a sentence why they could not be."""
    if sync.object_type != DEALS:
        return None, ""
    from syncrules.deals import check_prerequisites

    try:
        return check_prerequisites(sync), ""
    except Exception as exc:  # noqa: BLE001 - an app that is down is a message on the step
        return None, f"The apps could not be checked: {exc}"
