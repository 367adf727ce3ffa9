"""Webhook delivery: HubSpot's event payload, POSTed as a JSON array to the portal's target
URL with a v3 signature (and the legacy v1 one), from a background thread after the write has
committed, so no request ever waits on (or holds a transaction across) the delivery."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import logging
import queue
import threading
import time

import requests
from django.db import transaction

from sandbox.hubspot.schema import OBJECT_TYPES

log = logging.getLogger(__name__)
_event_ids = itertools.count(int(time.time()) * 1000)
_queue: queue.Queue = queue.Queue()
_worker: threading.Thread | None = None
_worker_lock = threading.Lock()


def sign_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """base64(HMAC-SHA256(secret, method + uri + body + timestamp)) (reference 1.11)."""
    message = method.encode() + uri.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def record_change(portal, object_type: str, object_id: int, change: str, *, name: str = "", value: str = "",
                  source: str = "INTEGRATION", merged: list[int] | None = None, **extra) -> None:
    """Queue one event for delivery once the current transaction commits."""
    if not portal.webhook_url:
        return
    event = {
        "eventId": next(_event_ids),
        "subscriptionId": 1,
        "portalId": portal.hub_id,
        "appId": portal.app_id,
        "occurredAt": int(time.time() * 1000),
        "subscriptionType": f"{OBJECT_TYPES[object_type][1]}.{change}",
        "attemptNumber": 0,
        "objectId": int(object_id),
        "changeSource": source,
    }
    if change == "propertyChange":
        event.update(propertyName=name, propertyValue=str(value))
    elif change in ("creation", "deletion"):
        event["changeFlag"] = "CREATED" if change == "creation" else "DELETED"
    elif change == "merge":
        event.update(primaryObjectId=int(object_id), mergedObjectIds=merged or [],
                     newObjectId=int(extra.pop("newObjectId", object_id)), numberOfPropertiesMoved=0)
    event.update(extra)
    target = (portal.webhook_url, portal.client_secret)
    transaction.on_commit(lambda: _enqueue(target, event))


def _enqueue(target: tuple[str, str], event: dict) -> None:
    global _worker
    _queue.put((target, event))
    with _worker_lock:
        if _worker is None or not _worker.is_alive():
            _worker = threading.Thread(target=_deliver_forever, name="hubspot-sandbox-webhooks", daemon=True)
            _worker.start()


def _deliver_forever() -> None:
    while True:
        first = _queue.get()
        batch = [first]
        time.sleep(0.05)  # gather what arrives together, as HubSpot batches up to 100 events
        while len(batch) < 100:
            try:
                batch.append(_queue.get_nowait())
            except queue.Empty:
                break
        by_target: dict[tuple[str, str], list[dict]] = {}
        for target, event in batch:
            by_target.setdefault(target, []).append(event)
        for (url, secret), events in by_target.items():
            deliver(url, secret, events)


def deliver(url: str, secret: str, events: list[dict]) -> int | None:
    body = json.dumps(events).encode()
    timestamp = str(int(time.time() * 1000))
    headers = {
        "Content-Type": "application/json",
        "X-HubSpot-Request-Timestamp": timestamp,
        "X-HubSpot-Signature-v3": sign_v3(secret, "POST", url, body, timestamp),
        "X-HubSpot-Signature": hashlib.sha256(secret.encode() + body).hexdigest(),
        "X-HubSpot-Signature-Version": "v1",
    }
    for attempt in range(3):
        try:
            response = requests.post(url, data=body, headers=headers, timeout=5)
        except requests.RequestException as exc:
            log.info("webhook delivery to %s failed: %s", url, exc)
        else:
            if response.status_code < 400:
                return response.status_code
        time.sleep(0.2 * (attempt + 1))
    return None
