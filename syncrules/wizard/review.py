"""Step 4, Review: every rule in plain words, the dry-run preview, and Save and sync (F2.9)."""

from __future__ import annotations

from django.apps import apps as django_apps
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from syncrules import permissions
from syncrules.models import ObjectSync, SyncRun
from syncrules.wizard.base import DONE, pick, render_step, step_url, sync_url, wizard_view
from syncrules.wizard.preview_panel import preview_view
from syncrules.wizard.reading import read_apps
from syncrules.wizard.select import pair_syncs
from syncrules.wizard.summary import settings_signature, summarize


def preview_model():
    """The dry-run preview's model (built beside the wizard); None while it is not installed."""
    try:
        return django_apps.get_model("syncrules", "SyncPreview")
    except LookupError:
        return None


def latest_preview(sync: ObjectSync):
    model = preview_model()
    return model.objects.filter(object_sync=sync).order_by("-created_at", "-pk").first() if model else None


@wizard_view("review")
def review_step(request: HttpRequest, sync: ObjectSync) -> HttpResponse:
    if request.method == "POST":
        if "_preview" in request.POST:
            return _start_preview(request, sync)
        if "_save" in request.POST:
            return save_and_sync(request, sync, reread=pick(request, "_save") == "reread")
    data = read_apps(sync)
    preview = latest_preview(sync)
    signature = settings_signature(sync)
    saved = (sync.options or {}).get("settings_signature")
    return render_step(request, sync, "review", "review.html", {
        "app_error": data.error, "sections": summarize(sync, data, pair_syncs(sync.connection_a_id, sync.connection_b_id)),
        "preview_available": preview_model() is not None, "preview": preview,
        "result": preview_view(preview, sync),
        "preview_stale": bool(preview) and (sync.options or {}).get("preview_signature") != [preview.pk, signature],
        "preview_running": bool(preview) and preview.status in ("queued", "running"),
        "can_toggle": permissions.can_toggle_syncs(request.user),
        "needs_reread": sync.state != ObjectSync.State.DRAFT and sync.initial_sync_done_at is not None
        and saved is not None and saved != signature,
        "no_mappings": not sync.field_mappings.filter(enabled=True).exists(),
    })


def _start_preview(request: HttpRequest, sync: ObjectSync) -> HttpResponse:
    if preview_model() is None:
        messages.error(request, "The preview is not available in this installation.")
        return redirect(step_url(sync, "review"))
    from syncrules.tasks import enqueue_preview

    with transaction.atomic():
        preview = enqueue_preview(sync.pk)
        _remember(sync, "preview_signature", [preview.pk, settings_signature(sync)])
    messages.info(request, "Preview started: it reads both apps and writes nothing.")
    return redirect(step_url(sync, "review") + "#preview")


def _remember(sync: ObjectSync, key: str, value) -> None:
    options = dict(sync.options or {})
    options[key] = value
    sync.options = options
    ObjectSync.objects.filter(pk=sync.pk).update(options=options)


def save_and_sync(request: HttpRequest, sync: ObjectSync, reread: bool = False) -> HttpResponse:
    """Finish the setup: turn the sync on and queue its initial run, or, for someone who may not
    turn syncs on, save it off for a Sync admin. On an existing sync, save (and maybe re-read)."""
    from syncrules.tasks import enqueue_run

    if not sync.field_mappings.filter(enabled=True).exists():
        messages.error(request, "Turn on at least one field mapping first: a sync with no mapping writes nothing.")
        return redirect(step_url(sync, "review"))
    first = sync.state == ObjectSync.State.DRAFT
    with transaction.atomic():
        _remember(sync, "settings_signature", settings_signature(sync))
        sync.wizard_step = DONE
        sync.save(update_fields=["wizard_step", "updated_at"])
        if first and permissions.can_toggle_syncs(request.user):
            sync.turn_on()
            enqueue_run(sync.pk, initial=True, trigger=SyncRun.Trigger.WIZARD)
            messages.success(request, f"{sync} is on; its initial sync has started.")
        elif first:
            sync.turn_off()
            messages.warning(request, f"{sync} is saved but off: a Sync admin must turn it on before it runs.")
        elif reread and permissions.can_run_syncs(request.user):
            enqueue_run(sync.pk, initial=True, trigger=SyncRun.Trigger.WIZARD)
            messages.success(request, "Settings saved; both apps are being read again so every record gets them.")
        else:
            messages.success(request, "Settings saved.")
    return redirect(sync_url(sync))
