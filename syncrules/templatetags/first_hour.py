"""{% getting_started %}: the admin index's three first steps, for users who may set up syncs.

Shown until a sync has run (then the health summary says more), and again from the user menu's
"Getting started" link (`?getting_started=1`)."""

from __future__ import annotations

from django import template
from django.urls import reverse

from syncrules import permissions

register = template.Library()

SHOW_PARAM = "getting_started"


def steps() -> list[dict]:
    from connectors.models import Connection
    from syncrules.models import ObjectSync, SyncRun

    connected = list(Connection.objects.filter(status=Connection.Status.CONNECTED).order_by("pk")
                     .values_list("name", flat=True))
    syncs = ObjectSync.objects.exclude(state=ObjectSync.State.DRAFT).count()
    drafts = ObjectSync.objects.filter(state=ObjectSync.State.DRAFT).count()
    runs = SyncRun.objects.exclude(status=SyncRun.Status.RUNNING).count()
    wizard = reverse("admin:syncrules_objectsync_wizard")
    pair = list(Connection.objects.filter(status=Connection.Status.CONNECTED).order_by("pk")[:3])
    if len(pair) == 2 and not syncs:
        # The first sync of the only two apps: the wizard opens with them and contacts chosen.
        wizard += f"?a={pair[0].pk}&b={pair[1].pk}&type=contacts"
    return [
        {"title": "Connect two apps", "done": len(connected) >= 2,
         "state": (f"Connected: {', '.join(connected)}" if connected else "No app connected yet"),
         "url": reverse("admin:connectors_connection_changelist"),
         "action": "Connections" if len(connected) >= 2 else "Connect an app"},
        {"title": "Choose what to sync", "done": syncs > 0,
         "state": (f"{syncs} sync{'s' if syncs != 1 else ''} set up" if syncs
                   else f"{drafts} draft{'s' if drafts != 1 else ''} not saved yet" if drafts
                   else "Pick two apps and an object type; the defaults map the usual fields"),
         "url": wizard, "action": "Open the wizard"},
        {"title": "Watch its health", "done": runs > 0,
         "state": (f"{runs} run{'s' if runs != 1 else ''} finished" if runs
                   else "After the first run: records in sync, errors by category and how to fix them"),
         "url": reverse("health:overview"), "action": "Sync health"},
    ]


def wanted(request) -> bool:
    return request is not None and permissions.can_edit_syncs(request.user)


@register.inclusion_tag("admin/syncrules/index_getting_started.html", takes_context=True)
def getting_started(context) -> dict:
    request = context.get("request")
    if not wanted(request):
        return {"show": False}
    items = steps()
    asked = request.GET.get(SHOW_PARAM) == "1"
    if items[2]["done"] and not asked:
        return {"show": False}
    current = next((i for i, step in enumerate(items) if not step["done"]), None)
    for i, step in enumerate(items):
        step["number"] = i + 1
        step["current"] = i == current
    return {"show": True, "steps": items, "asked": asked}


@register.simple_tag(takes_context=True)
def getting_started_link(context) -> str:
    """The user menu's link back to Getting started ("" for users who may not set syncs up)."""
    request = context.get("request")
    if not wanted(request):
        return ""
    return reverse("admin:index") + f"?{SHOW_PARAM}=1#getting-started"
