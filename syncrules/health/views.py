"""The health pages (GET only): overview, a sync's errors and charts, the records, a story.

Each view is wrapped in admin.site.admin_view (syncsite/urls.py), asks syncrules.permissions,
and renders a template extending admin/base_site.html. Side effects live in `actions`.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.timezone import localtime

from connectors.errors import ErrorCategory
from syncrules import permissions
from syncrules.engine import api
from syncrules.health import activity, charts, queries
from syncrules.health.fixes import steps_for
from syncrules.health.records import RecordFilterForm, filtered_links, page_of
from syncrules.health.story import story as tell
from syncrules.models import ObjectSync, RecordLink, RecordOutcome

ERRORS_LISTED = 100
logger = logging.getLogger(__name__)


def require_view(request: HttpRequest) -> None:
    if not permissions.can_view_records(request.user):
        raise PermissionDenied("You may not view sync health.")


def render(request: HttpRequest, template: str, title: str, context: dict) -> TemplateResponse:
    user = request.user
    return TemplateResponse(request, f"admin/syncrules/health/{template}", {
        **admin.site.each_context(request), "title": title,
        "can_retry": permissions.can_retry_records(user), "can_resync": permissions.can_resync_records(user),
        "can_toggle": permissions.can_toggle_syncs(user), "can_edit": permissions.can_edit_syncs(user),
        **context,
    })


def find_sync(request: HttpRequest, sync_id: int) -> ObjectSync | None:
    """The sync, or None after flashing why (the caller redirects to the overview)."""
    sync = ObjectSync.objects.select_related("connection_a", "connection_b").filter(pk=sync_id).first()
    if sync is None:
        messages.error(request, f"There is no object sync with id {sync_id}; it may have been deleted.")
    return sync


def overview(request: HttpRequest) -> HttpResponse:
    require_view(request)
    syncs, connection = ObjectSync.objects.all(), request.GET.get("connection", "")
    if connection.isdigit() and len(connection) < 12:
        syncs = syncs.filter(Q(connection_a=connection) | Q(connection_b=connection))
    elif connection:
        messages.warning(request, "Unknown connection in the address; showing every sync.")
        connection = ""
    pairs = queries.overview(syncs)
    return render(request, "overview.html", "Sync health", {
        "pairs": pairs, "buckets": queries.BUCKETS, "connection": connection})


def refused_by(link: RecordLink | None) -> str:
    """The side whose app refused the link's record last: its latest failure's side."""
    if link is None:
        return "b"
    side = (RecordOutcome.objects.filter(link=link, action=RecordOutcome.Action.FAILED)
            .order_by("-created_at", "-pk").values_list("side", flat=True).first())
    return side if side in ("a", "b") else ("b" if link.id_a else "a")


def sync_errors(request: HttpRequest, sync_id: int) -> HttpResponse:
    require_view(request)
    if (sync := find_sync(request, sync_id)) is None:
        return redirect("health:overview")
    codes = {code for code, _ in ErrorCategory.choices()}
    chosen = request.GET.get("category", "")
    if chosen and chosen not in codes:
        messages.warning(request, "Unknown error category in the address; showing every category.")
        chosen = ""
    waiting = chosen == queries.WAITING
    groups = queries.error_groups(sync, waiting=waiting)
    for group in groups:
        group.steps = steps_for(sync, group.category, refused_by(group.sample))
    links = RecordLink.objects.filter(queries.BUCKET_FILTERS["waiting" if waiting else "errors"], object_sync=sync)
    if chosen:
        links = links.filter(error_category=chosen)
    counts = queries.link_counts([sync.pk])[sync.pk]
    return render(request, "errors.html", f"Errors of {sync}", {
        "sync": sync, "groups": groups, "chosen": chosen, "counts": counts,
        "links": with_urls(links.order_by("-updated_at", "-pk")[:ERRORS_LISTED], sync), "listed": ERRORS_LISTED,
        "chosen_label": ErrorCategory.from_code(chosen).label if chosen else "",
    })


def sync_charts(request: HttpRequest, sync_id: int) -> HttpResponse:
    require_view(request)
    if (sync := find_sync(request, sync_id)) is None:
        return redirect("health:overview")
    runs = activity.recent_runs(sync)
    # Runs of one day are told apart by their time, longer spans by their date.
    same_day = bool(runs) and runs[-1].started_at - runs[0].started_at < timedelta(days=1)
    label = "%H:%M" if same_day else "%d %b"
    run_bars = [(localtime(run.started_at).strftime(label), max(run.processed - run.failed, 0), run.failed,
                 f"{run.started_at:%Y-%m-%d %H:%M} {run.get_kind_display()}: {run.processed} processed, "
                 f"{run.failed} failed") for run in runs]
    latency = activity.change_latency(sync)
    return render(request, "charts.html", f"Activity of {sync}", {
        "sync": sync, "runs": runs, "latency": latency,
        "runs_chart": charts.stacked_bars("Records processed and failed per run", run_bars),
        "errors_chart": charts.bars("Failed records per day", activity.errors_per_day(sync), failed=True),
        "latency_chart": charts.bars("Change latency", latency.buckets),
        "legend": charts.legend([(charts.OK_STYLE, "processed without error"), (charts.FAIL_STYLE, "failed")]),
    })


def records(request: HttpRequest) -> HttpResponse:
    require_view(request)
    form = RecordFilterForm(request.GET or None)
    form.is_valid()  # invalid filters are shown as errors and ignored; the valid ones apply
    rows, page, has_next = page_of(filtered_links(form), form.value("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "records.html", "Records", {
        "form": form, "rows": with_urls(rows), "page": page, "has_next": has_next,
        "query": query.urlencode(), "filtered": bool(request.GET),
    })


def story(request: HttpRequest, link_id: int) -> HttpResponse:
    require_view(request)
    link = (RecordLink.objects.select_related("object_sync__connection_a", "object_sync__connection_b")
            .filter(pk=link_id).first())
    if link is None:
        messages.error(request, f"There is no record link with id {link_id}; it may have been deleted.")
        return redirect("health:records")
    chapters, more = tell(link)
    category = ErrorCategory.from_code(link.error_category) if link.error_category else None
    return render(request, "story.html", f"Story of {link_name(link)}", {
        "link": link, "sync": link.object_sync, "chapters": chapters, "more": more, "urls": record_urls(link),
        "category": category, "pruned_before": link.object_sync.history_pruned_before,
    })


def link_name(link: RecordLink) -> str:
    return link.name_a or link.name_b or str(link)


def with_urls(links, sync: ObjectSync | None = None) -> list[tuple[RecordLink, tuple[str, str]]]:
    """Each link with its records' URLs, each connection's connector built once for the page;
    `sync`, when all the links are its own, saves reading it again for each link."""
    cache: dict = {}
    rows = []
    for link in links:
        if sync is not None:
            link.object_sync = sync
        rows.append((link, record_urls(link, cache)))
    return rows


def record_urls(link: RecordLink, cache: dict | None = None) -> tuple[str, str]:
    """Where to open the record in each app ('' when the app has no such page); `cache` shares
    each connection's connector across a page of links."""
    try:
        return api.record_urls(link, cache)
    except Exception:  # noqa: BLE001 - a connection that cannot build a link (bad credentials) shows none
        logger.warning("no record links for link %s", link.pk, exc_info=True)
        return "", ""
