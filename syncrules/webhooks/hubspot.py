"""HubSpot's webhook endpoint: verify signature v3, record the changed ids, queue debounced runs.

HubSpot calls it, so it sits outside the admin login and is the one CSRF-exempt view. It does no
run inline: a delivery costs a few queries, whatever the number of events.
"""

from __future__ import annotations

import json
import logging
import time

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from connectors.hubspot.webhooks import MAX_AGE_MS, verify_v3
from connectors.models import Connection
from syncrules.models import Side
from syncrules.webhooks import echo
from syncrules.webhooks.debounce import note_webhooks, notify_changes, triggerable

logger = logging.getLogger(__name__)

# Subscription prefixes (contact.propertyChange, deal.creation, ...) and association type
# halves (CONTACT_TO_COMPANY) -> the connector's object types.
OBJECT_TYPES = {"contact": "contacts", "company": "companies", "deal": "deals"}
TYPE_IDS = {"0-1": "contacts", "0-2": "companies", "0-3": "deals"}
MAX_BODY = 1_000_000  # HubSpot sends at most 100 events per request


def _refuse(status: int, message: str) -> JsonResponse:
    return JsonResponse({"status": "error", "message": message}, status=status)


@csrf_exempt
@require_POST
def hubspot_webhook(request: HttpRequest) -> HttpResponse:
    timestamp = request.headers.get("X-HubSpot-Request-Timestamp", "")
    if not (timestamp.isascii() and timestamp.isdigit() and abs(time.time() * 1000 - int(timestamp)) <= MAX_AGE_MS):
        return _refuse(401, "Missing or stale X-HubSpot-Request-Timestamp (older than 5 minutes).")
    body = request.body
    if len(body) > MAX_BODY:
        return _refuse(413, "Too many events in one request.")
    try:
        events = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _refuse(400, "The body is not JSON.")
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        return _refuse(400, "The body must be a JSON array of event objects.")
    connections = _connections_by_portal({str(e.get("portalId")) for e in events})
    if not connections:
        return JsonResponse({"status": "ignored", "message": "No connection for this portal."})
    uri = request.build_absolute_uri()
    trusted = {portal: conns for portal, conns in connections.items()
               if any(verify_v3(c.credentials.get("client_secret", ""), "POST", uri, body, request.headers) for c in conns)}
    if not trusted:
        logger.warning("HubSpot webhook for portal(s) %s with a bad signature (or no client secret set)",
                       ", ".join(sorted(connections)))
        return _refuse(401, "Bad signature: set the app's client secret on the HubSpot connection.")
    touched, changes = _changes(events, trusted)
    note_webhooks(touched, len(events))
    queued = notify_changes(changes) if changes else []
    return JsonResponse({"status": "ok", "queued": len(queued)})


def _connections_by_portal(portals: set[str]) -> dict[str, list[Connection]]:
    found: dict[str, list[Connection]] = {}
    for connection in Connection.objects.filter(kind="hubspot"):
        if connection.credentials_unreadable:
            continue
        portal = str(connection.credentials.get("hub_id") or "")
        if portal in portals:
            found.setdefault(portal, []).append(connection)
    return found


def _changes(events: list[dict], trusted: dict[str, list[Connection]]
             ) -> tuple[set[int], dict[tuple[int, str], set[str]]]:
    """The active syncs the events are about, and (sync id, side) -> ids with a change the sync
    has not synced yet (its own writes coming back are none: syncrules.webhooks.echo)."""
    wanted: dict[tuple[str, str], dict[str, list[dict]]] = {}  # (portal, object type) -> id -> events
    for event in events:
        portal = str(event.get("portalId"))
        if portal not in trusted:
            continue
        for object_type, object_id in _touched(event):
            wanted.setdefault((portal, object_type), {}).setdefault(object_id, []).append(event)
    touched: set[int] = set()
    changes: dict[tuple[int, str], set[str]] = {}
    for (portal, object_type), by_id in wanted.items():
        connection_ids = {c.pk for c in trusted[portal]}
        for sync in triggerable(connection_ids, object_type).only("pk", "connection_a_id", "connection_b_id"):
            side = Side.A if sync.connection_a_id in connection_ids else Side.B
            touched.add(sync.pk)
            if ids := echo.changed_by_events(sync.pk, side, by_id, object_type):
                changes.setdefault((sync.pk, side), set()).update(ids)
    return touched, changes


def _touched(event: dict) -> list[tuple[str, str]]:
    """(object type, id) of each record the event changed; [] for events we cannot place."""
    prefix, _, change = str(event.get("subscriptionType") or "").partition(".")
    object_type = OBJECT_TYPES.get(prefix) or TYPE_IDS.get(str(event.get("objectTypeId") or ""))
    touched = []
    if object_type and str(event.get("objectId") or "").isdigit():
        touched.append((object_type, str(event["objectId"])))
    if change == "associationChange":
        halves = str(event.get("associationType") or "").lower().split("_to_")
        for half, key in zip(halves, ("fromObjectId", "toObjectId"), strict=False):
            if half in OBJECT_TYPES and str(event.get(key) or "").isdigit():
                touched.append((OBJECT_TYPES[half], str(event[key])))
    if change == "merge":
        # A contact or company merge makes a record with a new id (both old ids resolve to it).
        ids = [*(event.get("mergedObjectIds") or []), event.get("primaryObjectId"), event.get("newObjectId")]
        touched += [(object_type, str(i)) for i in ids if str(i or "").isdigit() and object_type]
    return touched
