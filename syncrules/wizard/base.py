"""What every wizard page shares: the steps, the permission gate, the stepper and rendering."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from syncrules import permissions
from syncrules.models import ObjectSync

STEPS = [("select", "Select object"), ("configure", "Configure"), ("limit", "Limit"), ("review", "Review")]
STEP_KEYS = [key for key, _ in STEPS]
DONE = "done"


def step_index(step: str) -> int:
    """Position of a step; "done" (a finished sync) is past every step, unknown text before all."""
    if step == DONE:
        return len(STEPS)
    return STEP_KEYS.index(step) if step in STEP_KEYS else 0


def step_url(sync: ObjectSync, step: str) -> str:
    return reverse(f"admin:syncrules_objectsync_wizard_{step}", args=[sync.pk])


def sync_url(sync: ObjectSync) -> str:
    return reverse("admin:syncrules_objectsync_page", args=[sync.pk])


def list_url() -> str:
    return reverse("admin:syncrules_objectsync_changelist")


def stepper(sync: ObjectSync | None, current: str) -> list[dict[str, Any]]:
    """The stepper header: each step with its link when it has been reached."""
    reached = step_index(sync.wizard_step) if sync else 0
    items = []
    for number, (key, label) in enumerate(STEPS, start=1):
        url = step_url(sync, key) if sync and number - 1 <= reached else ""
        items.append({"key": key, "label": label, "number": number, "current": key == current,
                      "done": sync is not None and number - 1 < reached and key != current, "url": url})
    return items


def advance(sync: ObjectSync, step: str) -> None:
    """Remember that `step` has been reached (never moves a finished sync back to draft steps)."""
    if sync.state == ObjectSync.State.DRAFT and step_index(step) > step_index(sync.wizard_step):
        sync.wizard_step = step
        ObjectSync.objects.filter(pk=sync.pk).update(wizard_step=step)


def refuse(request: HttpRequest, text: str, to: str | None = None) -> HttpResponse:
    messages.error(request, text)
    return redirect(to or list_url())


def wizard_view(step: str) -> Callable:
    """Wrap a step's view: edit permission, the draft's owner, and steps taken in order.

    The wrapped view gets the ObjectSync (with its connections) instead of the pk.
    """

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, pk: int, *args, **kwargs) -> HttpResponse:
            if not permissions.can_edit_syncs(request.user):
                return refuse(request, "You may look at syncs but not set them up or change them.")
            sync = ObjectSync.objects.select_related("connection_a", "connection_b").filter(pk=pk).first()
            if sync is None:
                return refuse(request, f"There is no sync with id {pk} (it may have been deleted).")
            problem = access_problem(request, sync, step)
            if problem:
                return refuse(request, problem, to=None if "belongs" in problem else resume_url(sync))
            return view(request, sync, *args, **kwargs)

        return wrapper

    return decorate


def access_problem(request: HttpRequest, sync: ObjectSync, step: str) -> str:
    """Why this user may not open `step` of `sync` ('' when they may)."""
    if sync.state == ObjectSync.State.DRAFT:
        owner = sync.created_by_id
        if owner and owner != request.user.pk and not request.user.is_superuser:
            return "This draft belongs to someone else: only they can finish its setup."
        if step_index(step) > step_index(sync.wizard_step):
            return "Finish the earlier steps first."
    return ""


def resume_url(sync: ObjectSync) -> str:
    """Where a draft's setup continues (the furthest step reached), or a finished sync's page."""
    if sync.state != ObjectSync.State.DRAFT:
        return sync_url(sync)
    step = sync.wizard_step if sync.wizard_step in STEP_KEYS else "select"
    return step_url(sync, step)


def render_step(request: HttpRequest, sync: ObjectSync | None, step: str, template: str,
                context: dict[str, Any], status: int = 200) -> TemplateResponse:
    """A wizard page: the admin's context, the stepper, the sync and the step's own context."""
    editing = sync is not None and sync.state != ObjectSync.State.DRAFT
    base = {
        **admin.site.each_context(request),
        "title": ("Edit sync settings" if editing else "Set up a sync") + f": {dict(STEPS)[step]}",
        "sync": sync,
        "step": step,
        "steps": stepper(sync, step),
        "editing": editing,
        "opts": ObjectSync._meta,
        "back_url": _back_url(sync, step),
    }
    base.update(context)
    return TemplateResponse(request, f"admin/syncrules/wizard/{template}", base, status=status)


def _back_url(sync: ObjectSync | None, step: str) -> str:
    index = step_index(step)
    if sync is None or index == 0:
        return ""
    return step_url(sync, STEP_KEYS[index - 1])


def pick(request: HttpRequest, name: str) -> str:
    """One POSTed value as text, whatever was sent (a missing or repeated key never raises)."""
    value = request.POST.get(name, "")
    return value if isinstance(value, str) else ""


def int_or_none(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None
