"""Webhooks: the sandbox's signed deliveries verify with the connector's v3 check."""

from __future__ import annotations

import json
import queue
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from connectors.hubspot.webhooks import verify_v3
from sandbox.hubspot.models import Portal

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def receiver():
    received: queue.Queue = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.put((dict(self.headers.items()), body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hubspot/webhooks", received
    server.shutdown()


def test_it_verifies_the_signature_of_a_change_made_through_the_connector(portal, hubspot, receiver):
    url, received = receiver
    Portal.objects.filter(pk=portal.pk).update(webhook_url=url)
    [result] = hubspot.write("contacts", creates=[{"email": "signed@x.com"}])
    headers, body = received.get(timeout=10)
    assert any(e["objectId"] == int(result.id) for e in json.loads(body))
    assert verify_v3(portal.client_secret, "POST", url, body, headers)
    assert not verify_v3("another-secret", "POST", url, body, headers)
    assert not verify_v3(portal.client_secret, "POST", url, body + b" ", headers)
    later = int(headers["X-HubSpot-Request-Timestamp"]) + 6 * 60 * 1000
    assert not verify_v3(portal.client_secret, "POST", url, body, headers, now_ms=later)


def test_it_refuses_a_request_without_a_signature():
    assert not verify_v3("secret", "POST", "http://x/hook", b"[]", {"X-HubSpot-Request-Timestamp": str(int(time.time() * 1000))})
