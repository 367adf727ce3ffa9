"""Template helpers of the health pages: short durations, relative times, the index summary."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.utils import timezone

from syncrules import permissions

register = template.Library()


@register.filter
def health_duration(value: timedelta | None) -> str:
    """A duration as a person says it: "45 s", "3 min 20 s", "2 h 5 min"."""
    if not isinstance(value, timedelta):
        return ""
    seconds = max(int(value.total_seconds()), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s" if minutes < 3 and secs else f"{minutes} min"
    return f"{secs} s"


@register.filter
def health_when(value: datetime | None) -> str:
    """A moment relative to now: "in 3 min", "5 min ago", "now"."""
    if not isinstance(value, datetime):
        return ""
    delta = value - timezone.now()
    if abs(delta) < timedelta(seconds=30):
        return "now"
    if delta > timedelta(0):
        return f"in {health_duration(delta)}"
    return f"{health_duration(-delta)} ago"


@register.inclusion_tag("admin/syncrules/health/_summary.html", takes_context=True)
def health_summary(context) -> dict:
    """The admin index's compact health summary, for users who may view records."""
    request = context.get("request")
    if request is None or not permissions.can_view_records(request.user):
        return {"show": False}
    from syncrules.health.queries import BUCKETS, overview, totals

    pairs = overview()
    syncs = [health for pair in pairs for health in pair.syncs]
    return {
        "show": True, "totals": totals(pairs), "buckets": BUCKETS, "syncs": len(syncs),
        "failing": [h for h in syncs if h.badge == "failing"],
        "running": sum(1 for h in syncs if h.badge == "running"),
    }


@register.filter
def can_view_health(user) -> bool:
    """Whether `user` may open the health pages (for links from other apps' pages)."""
    return permissions.can_view_records(user)
