"""A sync's own page (its settings in plain words and its progress), and turning it off, on, and
deleting it, each confirmed on its own page (F2.10)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from syncrules import permissions
from syncrules.models import ObjectSync, SyncRun
from syncrules.wizard.base import list_url, refuse, resume_url, sync_url
from syncrules.wizard.reading import AppData, read_apps
from syncrules.wizard.select import pair_syncs
from syncrules.wizard.summary import summarize

LABELS_KEPT = 300  # seconds a sync's page reuses the apps' field labels


def _load(pk: int) -> ObjectSync | None:
    return ObjectSync.objects.select_related("connection_a", "connection_b").filter(pk=pk).first()


def _render(request, sync, template, context) -> TemplateResponse:
    return TemplateResponse(request, f"admin/syncrules/wizard/{template}", {
        **admin.site.each_context(request), "sync": sync, "opts": ObjectSync._meta, "title": str(sync), **context,
    })


def sync_page(request: HttpRequest, pk: int) -> HttpResponse:
    """What a sync does and how its runs go; the buttons each role may use."""
    if not permissions.can_view_syncs(request.user):
        return refuse(request, "You may not see syncs.", to="admin:index")
    sync = _load(pk)
    if sync is None:
        return refuse(request, f"There is no sync with id {pk} (it may have been deleted).")
    # The page refreshes itself while a run goes on: the apps' labels are read once in a while.
    data = read_apps(sync, cache_seconds=LABELS_KEPT) if sync.field_mappings.exists() else AppData(sync)
    run = sync.runs.order_by("-started_at").first()
    running = sync.is_running or (run is not None and run.status == SyncRun.Status.RUNNING and not sync.lease_expired)
    user = request.user
    return _render(request, sync, "sync_page.html", {
        "sections": summarize(sync, data, pair_syncs(sync.connection_a_id, sync.connection_b_id)),
        "app_error": data.error, "run": run, "running": running, "recent": sync.runs.order_by("-started_at")[:5],
        "is_draft": sync.state == ObjectSync.State.DRAFT, "resume_url": resume_url(sync),
        "can_edit": permissions.can_edit_syncs(user), "can_toggle": permissions.can_toggle_syncs(user),
        "can_delete": permissions.can_delete_syncs(user), "can_run": permissions.can_run_syncs(user),
        "is_superuser": user.is_superuser,
    })


def toggle(request: HttpRequest, pk: int, on: bool) -> HttpResponse:
    """Confirm, then turn a sync on (it resumes from its cursors) or off (its runs stop)."""
    if not permissions.can_toggle_syncs(request.user):
        return refuse(request, "Only a Sync admin may turn syncs on or off.")
    sync = _load(pk)
    if sync is None:
        return refuse(request, f"There is no sync with id {pk} (it may have been deleted).")
    if sync.state == ObjectSync.State.DRAFT:
        return refuse(request, "Finish this sync's setup first: a draft never runs.", to=resume_url(sync))
    if request.method == "POST":
        if on:
            sync.turn_on()
            messages.success(request, f"{sync} is on: it runs within a minute, from where it stopped.")
        else:
            sync.turn_off()
            messages.success(request, f"{sync} is off: it does not run until it is turned on again.")
        return redirect(sync_url(sync))
    return _render(request, sync, "confirm_toggle.html", {"on": on, "page_title": "Turn on" if on else "Turn off"})


def delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Confirm, then delete a sync (or a draft) from Syncsite; nothing in either app is deleted."""
    sync = _load(pk)
    if sync is None:
        return refuse(request, f"There is no sync with id {pk} (it may have been deleted).")
    if not permissions.can_delete_syncs(request.user):
        return refuse(request, "You may not delete syncs.")
    owner = sync.created_by_id
    if sync.state == ObjectSync.State.DRAFT and owner and owner != request.user.pk and not request.user.is_superuser:
        return refuse(request, "This draft belongs to someone else: only they can delete it.")
    if request.method == "POST":
        name = str(sync)
        sync.delete()
        messages.success(request, f"{name} was deleted. Nothing was deleted in either app.")
        return redirect(list_url())
    return _render(request, sync, "confirm_delete.html", {"links": sync.links.count(), "runs": sync.runs.count(),
                                                            "page_title": "Delete"})


def run_now(request: HttpRequest, pk: int) -> HttpResponse:
    if request.method != "POST" or not permissions.can_run_syncs(request.user):
        return refuse(request, "Runs are started with the Run now button by people who may run syncs.")
    sync = _load(pk)
    if sync is None or sync.state == ObjectSync.State.DRAFT:
        return refuse(request, "Only a sync that is set up can run.")
    from syncrules.tasks import enqueue_run

    enqueue_run(sync.pk, trigger=SyncRun.Trigger.MANUAL)
    messages.success(request, "Run queued.")
    return redirect(sync_url(sync))
