"""Faults on the wire: server errors, dropped connections, timeouts, HTML pages, malformed JSON."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from connectors.base import CONTACTS
from connectors.errors import ConnectorError, ErrorCategory
from connectors.salesforce.tests.conftest import org_row
from sandbox.salesforce.models import Org


def test_server_errors_are_retried_then_reported_as_app_unavailable(org, make_connector):
    Org.objects.filter(pk=org.org.pk).update(fault_500_share=1.0)
    connector = make_connector(org, max_attempts=3)
    with pytest.raises(ConnectorError) as info:
        connector.fields(CONTACTS)
    assert info.value.category is ErrorCategory.APP_UNAVAILABLE
    assert info.value.vendor_code == "UNKNOWN_EXCEPTION"
    assert connector.client.http.calls == 3 and org_row(org).api_used == 3


def test_a_dropped_connection_is_app_unavailable(org, make_connector):
    Org.objects.filter(pk=org.org.pk).update(fault_drop_share=1.0)
    connector = make_connector(org, max_attempts=2)
    with pytest.raises(ConnectorError) as info:
        connector.fields(CONTACTS)
    assert info.value.category is ErrorCategory.APP_UNAVAILABLE
    assert "connection error" in info.value.message
    assert connector.client.http.calls == 2  # retried once


def test_a_slow_answer_times_out_as_app_unavailable(org, make_connector):
    Org.objects.filter(pk=org.org.pk).update(fault_slow_ms=1500)
    connector = make_connector(org, max_attempts=1, timeout=0.3)
    with pytest.raises(ConnectorError) as info:
        connector.fields(CONTACTS)
    assert info.value.category is ErrorCategory.APP_UNAVAILABLE
    assert "timed out" in info.value.message


class Canned(BaseHTTPRequestHandler):
    """Answers every request with the class's (status, content type, body)."""

    answer = (200, "application/json", b"{}")

    def _reply(self):
        status, ctype, body = self.answer
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = do_DELETE = _reply

    def log_message(self, *args):
        pass


@pytest.fixture
def canned(build):
    servers = []

    def serve(status, ctype, body):
        handler = type("Handler", (Canned,), {"answer": (status, ctype, body)})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        url = f"http://127.0.0.1:{server.server_port}"
        return build({"access_token": "t", "instance_url": url}, max_attempts=2)

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def test_an_html_error_page_is_app_unavailable_and_says_so(canned):
    connector = canned(503, "text/html", b"<html><body>Maintenance</body></html>")
    with pytest.raises(ConnectorError) as info:
        connector.fields(CONTACTS)
    assert info.value.category is ErrorCategory.APP_UNAVAILABLE
    assert "HTML page" in info.value.message


def test_an_html_page_with_status_200_is_a_malformed_response(canned):
    connector = canned(200, "text/html", b"<!doctype html><html>Login</html>")
    with pytest.raises(ConnectorError) as info:
        connector.fields(CONTACTS)
    assert info.value.category is ErrorCategory.MALFORMED_RESPONSE


def test_a_query_answer_without_records_is_a_malformed_response(canned):
    connector = canned(200, "application/json", b'{"totalSize": 1, "done": true}')
    with pytest.raises(ConnectorError) as info:
        connector.client.query_all("SELECT Id FROM Contact")
    assert info.value.category is ErrorCategory.MALFORMED_RESPONSE


def test_a_collections_answer_of_the_wrong_length_is_a_malformed_response(canned):
    connector = canned(
        200, "application/json", b'[{"id": "003000000000001AAA", "success": true, "errors": []}]'
    )
    connector._describes["Contact"] = {"fields": [{"name": "LastName", "type": "string"}]}
    with pytest.raises(ConnectorError) as info:
        connector.write(CONTACTS, [{"LastName": "A"}, {"LastName": "B"}])
    assert info.value.category is ErrorCategory.MALFORMED_RESPONSE


def test_an_unexpected_error_body_keeps_the_status_classification(canned):
    connector = canned(404, "application/json", b'{"message": "gone"}')
    with pytest.raises(ConnectorError) as info:
        connector.client.get("sobjects/Contact/003000000000000AAA")
    assert info.value.category is ErrorCategory.RECORD_DELETED
    assert "gone" in info.value.message


def test_a_describe_of_the_wrong_shape_is_a_malformed_response(canned):
    connector = canned(200, "application/json", b"[]")
    with pytest.raises(ConnectorError) as info:
        connector.fields(CONTACTS)
    assert info.value.category is ErrorCategory.MALFORMED_RESPONSE
    assert connector.check().ok is False
