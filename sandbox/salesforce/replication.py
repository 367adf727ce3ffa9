"""getUpdated and getDeleted: `/sobjects/<T>/updated/` and `/deleted/` with their windows.

Both truncate start and end to the minute and never cover the current minute
(`latestDateCovered`); updated reaches 30 days back and deleted only 15.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.http import JsonResponse
from django.utils import timezone

from sandbox.salesforce import store
from sandbox.salesforce.handlers import _json, _object
from sandbox.salesforce.models import Record
from sandbox.salesforce.writes import RequestError


def _window(ctx, days: int) -> tuple[datetime, datetime]:
    """start/end of a getUpdated/getDeleted call, truncated to the minute as Salesforce does."""
    parsed = []
    for key in ("start", "end"):
        raw = ctx.request.GET.get(key, "")
        try:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            if value.tzinfo is None:
                raise ValueError(raw)
        except ValueError:
            raise RequestError(
                "INVALID_REPLICATION_DATE",
                f"{key}: invalid date-time value {raw!r} (use yyyy-MM-ddTHH:mm:ss+HH:MM, percent-encoded)",
            ) from None
        parsed.append(value.replace(second=0, microsecond=0))
    start, end = parsed
    now = timezone.now()
    if start < now - timedelta(days=days):
        raise RequestError("INVALID_REPLICATION_DATE", f"startDate cannot be more than {days} days ago")
    if end <= start:
        raise RequestError("INVALID_REPLICATION_DATE", "EndDate must chronologically follow the StartDate")
    return start, min(end, now.replace(second=0, microsecond=0))


def updated(ctx, sobject: str) -> JsonResponse:
    obj = _object(ctx, sobject)
    start, latest = _window(ctx, 30)
    ids = Record.objects.filter(
        org=ctx.org,
        sobject=obj.name,
        is_deleted=False,
        system_modstamp__gte=start,
        system_modstamp__lt=latest,
    ).order_by("system_modstamp", "sf_id")
    return _json(
        {"ids": list(ids.values_list("sf_id", flat=True)), "latestDateCovered": store.format_datetime(latest)}
    )


def deleted(ctx, sobject: str) -> JsonResponse:
    obj = _object(ctx, sobject)
    start, latest = _window(ctx, 15)
    rows = Record.objects.filter(
        org=ctx.org, sobject=obj.name, is_deleted=True, deleted_date__gte=start, deleted_date__lt=latest
    ).order_by("deleted_date", "sf_id")
    earliest = (timezone.now() - timedelta(days=15)).replace(second=0, microsecond=0)
    return _json(
        {
            "deletedRecords": [
                {"id": sf_id, "deletedDate": store.format_datetime(when)}
                for sf_id, when in rows.values_list("sf_id", "deleted_date")
            ],
            "earliestDateAvailable": store.format_datetime(earliest),
            "latestDateCovered": store.format_datetime(latest),
        }
    )
