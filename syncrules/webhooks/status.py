"""How a sync's changes reach it, in sentences for the sync page."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from syncrules.models import ObjectSync, Side
from syncrules.webhooks.models import SyncTrigger
from syncrules.webhooks.polling import POLLED_KINDS, poll_seconds


def change_feed(sync: ObjectSync, webhook_url: str) -> list[str]:
    """One sentence per side: webhook (and when the last arrived), polling (and the last poll),
    or the schedule alone."""
    trigger = SyncTrigger.objects.filter(pk=sync.pk).first()
    lines = []
    for side in (Side.A, Side.B):
        connection = sync.connection(side)
        name = connection.name
        if connection.kind == "hubspot":
            lines.append(_webhook_line(name, connection, trigger, webhook_url))
        elif connection.kind in POLLED_KINDS:
            last = _ago(trigger.last_polled_at) if trigger and trigger.last_polled_at else ""
            state = f"last poll {last} ago" if last else "no poll yet: is a worker running?"
            lines.append(f"Changes in {name} are polled every {poll_seconds():.0f} s ({state}).")
        else:
            lines.append(f"Changes in {name} are read by the scheduled runs (every {sync.interval_seconds} s).")
    return lines


def _webhook_line(name: str, connection, trigger: SyncTrigger | None, webhook_url: str) -> str:
    credentials = {} if connection.credentials_unreadable else connection.credentials
    if not credentials.get("client_secret") or not credentials.get("hub_id"):
        return (f"Changes in {name} are read by the scheduled runs: set the app's client secret on the connection "
                f"(and check it once) to receive them by webhook at {webhook_url}.")
    if trigger and trigger.last_webhook_at:
        return f"Changes in {name} arrive by webhook (last received {_ago(trigger.last_webhook_at)} ago)."
    return f"Changes in {name} arrive by webhook: none received yet (the app's target URL must be {webhook_url})."


def _ago(moment: datetime) -> str:
    seconds = max(0, int((timezone.now() - moment).total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"
