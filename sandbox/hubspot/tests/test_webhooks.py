"""Webhooks: HubSpot's event payload, delivered with a valid v3 signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import queue
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sandbox.hubspot.models import Portal

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def receiver():
    received: queue.Queue = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.put((dict(self.headers), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hooks", received
    server.shutdown()


def test_it_posts_signed_events_for_a_creation(api, portal, receiver):
    url, received = receiver
    Portal.objects.filter(pk=portal.pk).update(webhook_url=url)
    created = api("POST", "/crm/v3/objects/contacts", {"properties": {"email": "hook@x.com"}}).data
    headers, body = received.get(timeout=10)
    events = json.loads(body)
    creation = next(e for e in events if e["subscriptionType"] == "contact.creation")
    assert creation["objectId"] == int(created["id"])
    assert creation["portalId"] == portal.hub_id
    assert isinstance(creation["occurredAt"], int)
    change = next(e for e in events if e["subscriptionType"] == "contact.propertyChange")
    assert change["propertyName"] == "email" and change["propertyValue"] == "hook@x.com"
    timestamp = headers["X-HubSpot-Request-Timestamp"]
    message = b"POST" + url.encode() + body + timestamp.encode()
    expected = base64.b64encode(hmac.new(portal.client_secret.encode(), message, hashlib.sha256).digest()).decode()
    assert headers["X-HubSpot-Signature-v3"] == expected


def test_it_sends_nothing_without_a_target_url(api, portal, receiver):
    _, received = receiver
    api("POST", "/crm/v3/objects/contacts", {"properties": {"email": "quiet@x.com"}})
    with pytest.raises(queue.Empty):
        received.get(timeout=0.5)


def test_it_sends_calculated_property_changes_for_a_contacts_rollups(api, portal, receiver):
    url, received = receiver
    contact = api("POST", "/crm/v3/objects/contacts", {"properties": {"email": "roll@x.com"}}).data["id"]
    deal = api("POST", "/crm/v3/objects/deals", {"properties": {"dealname": "D", "amount": "10"}}).data["id"]
    Portal.objects.filter(pk=portal.pk).update(webhook_url=url)
    api("PUT", f"/crm/v4/objects/deals/{deal}/associations/default/contacts/{contact}")
    events = []
    while not any(e.get("propertyName") == "num_associated_deals" for e in events):
        events += json.loads(received.get(timeout=10)[1])
    association = next(e for e in events if e["subscriptionType"] == "deal.associationChange")
    assert association["fromObjectId"] == int(deal) and association["associationRemoved"] is False
    rollup = next(e for e in events if e.get("propertyName") == "num_associated_deals")
    assert rollup["objectId"] == int(contact) and rollup["propertyValue"] == "1"
    assert rollup["changeSource"] == "CALCULATED"
