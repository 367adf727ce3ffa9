"""The health pages' side effects: retry, resync deleted records, turn a sync on or off, and the
CSV export. POST-only (the export aside), permission-gated, redirect and flash what was done."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from connectors.errors import ErrorCategory
from syncrules import permissions
from syncrules.engine.api import retry_failing
from syncrules.exports import RecordLinkResource
from syncrules.health.views import find_sync, render, require_view
from syncrules.models import LinkStatus, ObjectSync, RecordLink

SIDES = {"a": LinkStatus.DELETED_A, "b": LinkStatus.DELETED_B}


def _errors_url(sync_id: int, category: str = "") -> str:
    url = reverse("health:errors", args=[sync_id])
    return f"{url}?category={category}" if category else url


def _ids(values: list[str]) -> list[int]:
    return [int(v) for v in values if v.isdigit() and len(v) < 12]


@require_POST
def retry(request: HttpRequest, sync_id: int) -> HttpResponse:
    """Retry the selected links, or every failing link of one category ("all")."""
    if not permissions.can_retry_records(request.user):
        raise PermissionDenied("You may not retry records.")
    if (sync := find_sync(request, sync_id)) is None:
        return redirect("health:overview")
    category = request.POST.get("category", "")
    if category and category not in {code for code, _ in ErrorCategory.choices()}:
        messages.error(request, "Unknown error category: nothing was retried.")
        return redirect(_errors_url(sync.pk))
    if request.POST.get("scope") == "all" and category:
        count = retry_failing(sync.pk, category=category)
        asked = None
    else:
        asked = _ids(request.POST.getlist("link"))
        if not asked:
            messages.warning(request, "Select the records to retry first.")
            return redirect(_errors_url(sync.pk, category))
        count = retry_failing(sync.pk, link_ids=asked, category=category)
    _flash_retry(request, count, asked)
    return redirect(request.POST.get("next") if _safe_next(request) else _errors_url(sync.pk, category))


def _flash_retry(request: HttpRequest, count: int, asked: list[int] | None) -> None:
    """Say what was queued, and what was left alone because it no longer fails."""
    if count:
        messages.success(request, f"Queued a run that retries {count} record(s); refresh in a moment to see them.")
    if asked is None:
        if not count:
            messages.warning(request, "No record of this category is failing any more: nothing to retry.")
    elif len(asked) > count:
        messages.warning(request, f"{len(asked) - count} selected record(s) are no longer failing (they synced, "
                                  "or were excluded or deleted since) and were left alone.")


def _safe_next(request: HttpRequest) -> bool:
    target = request.POST.get("next", "")
    return target.startswith("/admin/health/") and "//" not in target and "\\" not in target


def resync(request: HttpRequest, sync_id: int, side: str) -> HttpResponse:
    """GET: how many records would be recreated and where; POST "Resync all": queue it."""
    require_view(request)
    if side not in SIDES:
        messages.error(request, "Unknown side: use A or B.")
        return redirect("health:overview")
    if (sync := find_sync(request, sync_id)) is None:
        return redirect("health:overview")
    count = RecordLink.objects.filter(object_sync=sync, status=SIDES[side]).count()
    if request.method != "POST":
        return render(request, "resync.html", f"Resync deleted records in {side.upper()}", {
            "sync": sync, "side": side, "count": count, "app": sync.connection(side)})
    if not permissions.can_resync_records(request.user):
        raise PermissionDenied("You may not resync records.")
    return _queue_resync(request, sync, side, count)


def _queue_resync(request: HttpRequest, sync: ObjectSync, side: str, count: int) -> HttpResponse:
    from syncrules.tasks import enqueue_resync

    app = sync.connection(side).name
    if sync.is_running:
        messages.warning(request, f"{sync} is running now; resync the deleted records once the run is done.")
    elif not count:
        messages.warning(request, f"No record of {sync} is deleted in {app}: nothing to resync.")
    else:
        enqueue_resync(sync.pk, side)
        messages.success(request, f"Queued the resync of {count} record(s) deleted in {app}.")
    return redirect(_errors_url(sync.pk))


@require_POST
def toggle(request: HttpRequest, sync_id: int) -> HttpResponse:
    """Turn a sync on or off from the overview (only with the toggle permission)."""
    if not permissions.can_toggle_syncs(request.user):
        raise PermissionDenied("You may not turn syncs on or off.")
    if (sync := find_sync(request, sync_id)) is None:
        return redirect("health:overview")
    if sync.state == ObjectSync.State.DRAFT:
        messages.error(request, f"{sync} is a draft: finish its setup before turning it on.")
    elif request.POST.get("state") == "on" and sync.state != ObjectSync.State.ACTIVE:
        sync.turn_on()
        messages.success(request, f"Turned {sync} on; it runs at the next check.")
    elif request.POST.get("state") == "off" and sync.state != ObjectSync.State.OFF:
        sync.turn_off()
        messages.success(request, f"Turned {sync} off.")
    else:
        messages.info(request, f"{sync} is already {sync.get_state_display().lower()}.")
    return redirect("health:overview")


@require_GET
def export(request: HttpRequest, sync_id: int) -> HttpResponse:
    """The sync's failing records (of one category, if given) as CSV, through RecordLinkResource."""
    require_view(request)
    if (sync := find_sync(request, sync_id)) is None:
        return redirect("health:overview")
    links = RecordLink.objects.filter(object_sync=sync, status=LinkStatus.FAILING).select_related(
        "object_sync__connection_a", "object_sync__connection_b")
    category = request.GET.get("category", "")
    if category in {code for code, _ in ErrorCategory.choices()}:
        links = links.filter(error_category=category)
    data = RecordLinkResource().export(links.order_by("pk")).csv
    response = HttpResponse(data, content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="sync-{sync.pk}-errors-{category or "all"}-{stamp}.csv"'
    return response
