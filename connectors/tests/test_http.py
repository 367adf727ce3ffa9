"""The shared HTTP layer against a small loopback server that misbehaves on purpose."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from connectors.errors import ConnectorError, ErrorCategory
from connectors.http import HttpClient, RateLimiter


class Handler(BaseHTTPRequestHandler):
    script: list = []  # (status, headers, body) per request, the last one repeats
    seen: list = []

    def do_GET(self):  # noqa: N802
        Handler.seen.append(self.path)
        status, headers, body = Handler.script[min(len(Handler.seen), len(Handler.script)) - 1]
        if status == "drop-mid-body":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"5\r\nhel")  # then hang up mid-chunk
            self.wfile.flush()
            self.connection.close()
            return
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        data = body.encode()
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    Handler.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


def client(url, **kwargs) -> HttpClient:
    return HttpClient(url, sleep=lambda s: None, **kwargs)


def test_it_returns_a_successful_response_and_counts_the_call(server):
    Handler.script = [(200, {"Content-Type": "application/json"}, '{"ok": true}')]
    http = client(server)
    assert http.json("GET", "/x") == {"ok": True}
    assert http.calls == 1


def test_it_retries_server_errors_then_succeeds(server):
    Handler.script = [(503, {}, "busy"), (502, {}, "busy"), (200, {}, "{}")]
    http = client(server)
    assert http.json("GET", "/x") == {}
    assert http.calls == 3 and http.retries == 2


def test_it_gives_up_after_max_attempts_with_a_transient_category(server):
    Handler.script = [(500, {}, "boom")]
    with pytest.raises(ConnectorError) as info:
        client(server, max_attempts=3).json("GET", "/x")
    assert info.value.category is ErrorCategory.APP_UNAVAILABLE
    assert len(Handler.seen) == 3


def test_a_connection_dropped_mid_body_is_a_categorized_error(server):
    Handler.script = [("drop-mid-body", {}, "")]
    with pytest.raises(ConnectorError) as info:
        client(server, max_attempts=2).json("GET", "/x")
    assert info.value.category is ErrorCategory.APP_UNAVAILABLE
    assert len(Handler.seen) == 2


def test_an_html_error_page_is_named_as_such_not_dumped(server):
    Handler.script = [(200, {"Content-Type": "text/html"}, "<!DOCTYPE html><html><body>Maintenance</body></html>")]
    with pytest.raises(ConnectorError) as info:
        client(server).json("GET", "/x")
    assert info.value.category is ErrorCategory.MALFORMED_RESPONSE
    assert "HTML page" in info.value.message


def test_expired_authentication_refreshes_once_and_retries(server):
    Handler.script = [(401, {}, "expired"), (200, {}, '{"n": 1}')]
    refreshed = []
    http = client(server, refresh_auth=lambda: refreshed.append(1) or True)
    assert http.json("GET", "/x") == {"n": 1}
    assert refreshed == [1]


def test_expired_authentication_is_not_retried_with_backoff_when_refresh_cannot_help(server):
    Handler.script = [(401, {}, "expired")]
    with pytest.raises(ConnectorError) as info:
        client(server, refresh_auth=lambda: False).json("GET", "/x")
    assert info.value.category is ErrorCategory.AUTHENTICATION_EXPIRED
    assert len(Handler.seen) == 1


def test_a_rate_limit_honours_the_servers_wait(server):
    waits = []

    def classify(response):
        return ConnectorError(ErrorCategory.RATE_LIMITED, "slow down", retry_after=2.5)

    Handler.script = [(429, {}, json.dumps({"policyName": "TEN_SECONDLY_ROLLING"})), (200, {}, "{}")]
    http = HttpClient(server, classify=classify, sleep=waits.append)
    http.json("GET", "/x")
    assert waits == [2.5]


def test_the_rate_limiter_never_lets_more_than_max_calls_into_a_window():
    now = [0.0]
    limiter = RateLimiter(3, 10.0, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    stamps = []
    for _ in range(10):
        limiter.acquire()
        stamps.append(now[0])
    for i, stamp in enumerate(stamps):
        assert sum(1 for other in stamps if stamp <= other < stamp + 10.0) <= 3, (i, stamps)
    assert stamps[-1] >= 30.0
