"""Fault injection in front of both sandboxes: per request, with a seeded probability, the API
answers as a misbehaving vendor or network would.

Turned on by `settings.SANDBOX_FAULTS` (read at the first request), by `configure()` (tests),
by `manage.py sandbox_serve --fault KIND=SHARE ...`, or at run time by POSTing the same JSON to
`/sandbox/faults/` (GET there returns the counters below). `budget` caps how many faults are
injected in all (-1, the default: no cap), so a test can fault exactly the first request. Shares are probabilities in [0, 1];
one seeded draw per API request picks at most one fault:

    SANDBOX_FAULTS = {"seed": 7, "http_429": 0.02, "http_503": 0.01, "timeout_seconds": 65}

Kinds (each in the vendor's own shape, reference 1.12/1.13 and 2.9/2.10):

- `http_429`, `http_429_retry_after`: HubSpot's ten-secondly 429 (RATE_LIMITS body), without
  and with a `Retry-After` (`retry_after` seconds). Salesforce has no 429 and never sends
  Retry-After: both give its short-lived concurrent-request refusal, a 403
  `REQUEST_LIMIT_EXCEEDED` "ConcurrentPerOrgLongTxn Limit exceeded."
- `http_500`, `http_503`: the vendor's JSON error; `http_502`: a gateway's HTML page.
- `timeout`: the request is served, then the answer waits `timeout_seconds` (past the
  client's read timeout: connectors/http.py's default is 60 s, tests set both short).
- `reset`: the request is served and the connection is cut halfway through the answer's body.
- `html_200`: a maintenance HTML page with status 200, the request not served.
- `truncated_json`: the request is served and the first half of its JSON answer sent, with a
  matching Content-Length (a parse error, not a transport error).
- `slow`: the answer is delayed `slow_seconds`, then served normally.

Faults before serving (429, 5xx, HTML) leave the vendor's data untouched; `timeout`, `reset`
and `truncated_json` lose the answer of a request that was carried out, as real networks do.

The counters also record, per vendor, the requests the sandboxes themselves refused for a
real limit (HubSpot's 429s, Salesforce's daily REQUEST_LIMIT_EXCEEDED), by policy, and the most
requests one account sent in any 10-second window (HubSpot's searches apart: the most in any
second, as their own limit counts them), so a benchmark can tell whether clients kept to the
vendors' limits.
"""

from __future__ import annotations

import collections
import hashlib
import json
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

KINDS = (
    "http_429",
    "http_429_retry_after",
    "http_500",
    "http_502",
    "http_503",
    "timeout",
    "reset",
    "html_200",
    "truncated_json",
    "slow",
)
SERVED_FIRST = frozenset({"timeout", "reset", "truncated_json"})
OPTIONS = {"seed": 0, "retry_after": 1.0, "timeout_seconds": 65.0, "slow_seconds": 2.0, "budget": -1}
VENDORS = ("hubspot", "salesforce")
WINDOW_SECONDS = 10.0
_clock = time.monotonic  # the counters' clock (a test holds it still)


class FaultConfigError(ValueError):
    """A fault configuration that names an unknown kind or a share outside [0, 1]."""


def parse(config: Mapping | None) -> dict:
    """A validated copy of `config`: known kinds with shares in [0, 1], and the options."""
    config = dict(config or {})
    clean = dict(OPTIONS)
    for key, value in config.items():
        if key in OPTIONS:
            try:
                clean[key] = int(value) if key in ("seed", "budget") else float(value)
            except (TypeError, ValueError):
                raise FaultConfigError(f"{key} must be a number, got {value!r}") from None
            if key not in ("seed", "budget") and clean[key] < 0:
                raise FaultConfigError(f"{key} must not be negative")
        elif key in KINDS:
            try:
                share = float(value)
            except (TypeError, ValueError):
                raise FaultConfigError(f"{key} must be a probability, got {value!r}") from None
            if not 0.0 <= share <= 1.0:
                raise FaultConfigError(f"{key} must be between 0 and 1, got {share}")
            clean[key] = share
        else:
            raise FaultConfigError(f"Unknown fault {key!r}; known: {', '.join(KINDS)}")
    if sum(clean.get(k, 0.0) for k in KINDS) > 1.0 + 1e-9:
        raise FaultConfigError("The shares of all faults add up to more than 1")
    return clean


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.loaded = False
        self.config: dict = dict(OPTIONS)
        self.random = random.Random(0)
        self.budget = -1  # faults left to inject; -1: no cap
        self.reset_counters()

    def reset_counters(self) -> None:
        self.injected: collections.Counter = collections.Counter()  # (vendor, kind) -> n
        self.requests: collections.Counter = collections.Counter()  # vendor -> n
        self.refused_for_limit: collections.Counter = collections.Counter()  # vendor -> n
        self.refused_by_policy: collections.Counter = collections.Counter()  # (vendor, policy) -> n
        # (vendor, policy, the account's requests in the window when the refused one arrived), the
        # first 50: a refusal with no more than the limit at arrival was the server's own delay.
        self.refusals: list[tuple[str, str, int]] = []
        self.windows: dict[tuple[str, str, bool], collections.deque] = collections.defaultdict(collections.deque)
        self.max_in_window: collections.Counter = collections.Counter()  # vendor -> most requests in 10 s
        self.max_searches: collections.Counter = collections.Counter()  # vendor -> most searches in 1 s

    @property
    def active(self) -> bool:
        return any(self.config.get(k) for k in KINDS)


_state = _State()


def configure(config: Mapping | None, *, reset_counters: bool = True) -> dict:
    """Replace the fault configuration (and, by default, zero the counters); returns it."""
    clean = parse(config)
    with _state.lock:
        _state.config = clean
        _state.random = random.Random(clean["seed"])
        _state.budget = clean["budget"]
        _state.loaded = True
        if reset_counters:
            _state.reset_counters()
    return clean


def _ensure_loaded() -> None:
    if not _state.loaded:
        configure(getattr(settings, "SANDBOX_FAULTS", None) or {})


def stats() -> dict:
    """The configuration and counters, as JSON-ready data."""
    _ensure_loaded()
    with _state.lock:
        injected = {v: {k: _state.injected[(v, k)] for k in KINDS if _state.injected[(v, k)]} for v in VENDORS}
        return {
            "config": dict(_state.config),
            "requests": {v: _state.requests[v] for v in VENDORS},
            "injected": injected,
            "injected_total": sum(_state.injected.values()),
            "refused_for_limit": {v: _state.refused_for_limit[v] for v in VENDORS},
            "refused_by_policy": {v: {p: n for (vendor, p), n in sorted(_state.refused_by_policy.items())
                                      if vendor == v} for v in VENDORS},
            "refusals_arrived_in_window": [list(r) for r in _state.refusals],
            "max_requests_per_10s": {v: _state.max_in_window[v] for v in VENDORS},
            "max_searches_per_1s": {"hubspot": _state.max_searches["hubspot"]},
        }


def _vendor(path: str) -> str | None:
    """The sandbox an API request is for (OAuth and the record pages are left alone)."""
    if "/sandbox/hubspot/" in path:
        rest = path.split("/sandbox/hubspot/", 1)[1]
        return "hubspot" if rest.startswith(("crm/", "account-info/")) else None
    if "/sandbox/salesforce/services/data/v" in path:
        return "salesforce"
    return None


def _account(request: HttpRequest) -> str:
    token = request.headers.get("Authorization", "")
    return hashlib.sha256(token.encode()).hexdigest()[:12]


def _is_search(vendor: str, path: str) -> bool:
    """HubSpot's searches have a per-second limit of their own and do not count in its
    ten-secondly one (reference 1.13)."""
    return vendor == "hubspot" and path.rstrip("/").endswith("/search")


def _count(vendor: str, account: str, search: bool = False) -> int:
    """Count a request as it arrives; the account's requests in its window, this one included."""
    now = _clock()
    span, most = (1.0, _state.max_searches) if search else (WINDOW_SECONDS, _state.max_in_window)
    with _state.lock:
        _state.requests[vendor] += 1
        window = _state.windows[(vendor, account, search)]
        window.append(now)
        while window and now - window[0] >= span:
            window.popleft()
        most[vendor] = max(most[vendor], len(window))
        return len(window)


def _draw(vendor: str) -> str | None:
    with _state.lock:
        config = _state.config
        if _state.budget == 0:
            return None
        roll = _state.random.random()
        for kind in KINDS:
            share = config.get(kind, 0.0)
            if roll < share:
                _state.injected[(vendor, kind)] += 1
                if _state.budget > 0:
                    _state.budget -= 1
                return kind
            roll -= share
    return None


def _refused_for_limit(vendor: str, response: HttpResponse) -> bool:
    if vendor == "hubspot":
        return response.status_code == 429
    if response.status_code != 403:
        return False
    return b"REQUEST_LIMIT_EXCEEDED" in getattr(response, "content", b"")


def _policy(vendor: str, response: HttpResponse) -> str:
    """Which limit a real refusal was for: HubSpot's policyName (TEN_SECONDLY_ROLLING, SECONDLY
    for search, DAILY), Salesforce's errorCode."""
    try:
        body = json.loads(getattr(response, "content", b"") or b"{}")
    except ValueError:
        return "unknown"
    if vendor == "salesforce":
        body = body[0] if isinstance(body, list) and body else {}
        return str(body.get("errorCode") or "unknown") if isinstance(body, dict) else "unknown"
    return str(body.get("policyName") or "unknown") if isinstance(body, dict) else "unknown"


# --- the vendors' error answers ---------------------------------------------------------------
def _hubspot_error(status: int, category: str, message: str, **extra) -> JsonResponse:
    body = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category, **extra}
    return JsonResponse(body, status=status)


def _salesforce_error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse([{"message": message, "errorCode": code}], safe=False, status=status)


GATEWAY_PAGE = ("<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad "
                "Gateway</h1></center><hr><center>cloudflare</center></body></html>")
MAINTENANCE_PAGE = ("<!DOCTYPE html><html><head><title>Down for maintenance</title></head><body><h1>We are "
                    "down for maintenance</h1><p>Please try again in a few minutes.</p></body></html>")


def refusal(vendor: str, kind: str, config: Mapping) -> HttpResponse:
    """The answer of a fault that stops the request before it is served."""
    if kind in ("http_429", "http_429_retry_after"):
        if vendor == "salesforce":  # no 429 and no Retry-After at Salesforce (reference 2.10)
            return _salesforce_error(403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded.")
        response = _hubspot_error(429, "RATE_LIMITS", "You have reached your ten_secondly_rolling limit.",
                                  errorType="RATE_LIMIT", policyName="TEN_SECONDLY_ROLLING",
                                  requestId=str(uuid.uuid4()))
        response["X-HubSpot-RateLimit-Interval-Milliseconds"] = "10000"
        response["X-HubSpot-RateLimit-Remaining"] = "0"
        if kind == "http_429_retry_after":
            response["Retry-After"] = f"{config['retry_after']:g}"
        return response
    if kind == "http_500":
        if vendor == "salesforce":
            return _salesforce_error(500, "UNKNOWN_EXCEPTION", "An unexpected error occurred. Please include this "
                                     f"ErrorId if you contact support: {random.randrange(10**9)}-0 (injected)")
        return _hubspot_error(500, "INTERNAL_ERROR", "internal error")
    if kind == "http_503":
        if vendor == "salesforce":
            return _salesforce_error(503, "SERVER_UNAVAILABLE", "Server temporarily unavailable (injected).")
        return _hubspot_error(503, "SERVICE_UNAVAILABLE", "Service Unavailable")
    if kind == "http_502":
        return HttpResponse(GATEWAY_PAGE, status=502, content_type="text/html")
    return HttpResponse(MAINTENANCE_PAGE, status=200, content_type="text/html; charset=utf-8")  # html_200


def _socket_of(request: HttpRequest) -> socket.socket | None:
    """The client's socket under Django's WSGI server (None under the test client)."""
    stream = request.META.get("wsgi.input")
    for reader in (getattr(getattr(stream, "_read", None), "__self__", None), stream,
                   getattr(stream, "stream", None)):
        sock = getattr(getattr(reader, "raw", None), "_sock", None)
        if isinstance(sock, socket.socket):
            return sock
    return None


def _cut_mid_body(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """Send the headers (with the full Content-Length) and half the body, then cut the connection."""
    body = response.content
    sock = _socket_of(request)

    def chunks():
        yield body[: len(body) // 2]
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    cut = StreamingHttpResponse(chunks(), status=response.status_code, content_type=response.get("Content-Type"))
    cut["Content-Length"] = str(len(body) or 1)
    return cut


def _truncate(response: HttpResponse) -> HttpResponse:
    body = getattr(response, "content", b"") or b'{"results": []}'
    return HttpResponse(body[: max(1, len(body) // 2)], status=response.status_code,
                        content_type=response.get("Content-Type") or "application/json")


class FaultMiddleware:
    """Injects the configured faults into the sandboxes' API requests; a no-op elsewhere."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        vendor = _vendor(request.path)
        if vendor is None:
            return self.get_response(request)
        request.sandbox_arrived = time.monotonic()  # rate limits count arrivals (hubspot.gate._take)
        _ensure_loaded()
        arrived = _count(vendor, _account(request), _is_search(vendor, request.path))
        kind = _draw(vendor) if _state.active else None
        config = _state.config
        if kind is not None and kind not in SERVED_FIRST and kind != "slow":
            return refusal(vendor, kind, config)
        if kind == "slow":
            time.sleep(config["slow_seconds"])
        response = self.get_response(request)
        if _refused_for_limit(vendor, response):
            policy = _policy(vendor, response)
            with _state.lock:
                _state.refused_for_limit[vendor] += 1
                _state.refused_by_policy[(vendor, policy)] += 1
                if len(_state.refusals) < 50:
                    _state.refusals.append((vendor, policy, arrived))
        if kind == "timeout":
            time.sleep(config["timeout_seconds"])  # the client has given up by now
            return response
        if kind == "reset":
            return _cut_mid_body(request, response)
        if kind == "truncated_json":
            return _truncate(response)
        return response


@csrf_exempt
def control(request: HttpRequest) -> HttpResponse:
    """GET: the configuration and counters. POST a JSON object: configure (counters zeroed,
    unless ?keep_counters=1). DELETE: every fault off, counters zeroed."""
    if request.method == "POST":
        try:
            config = json.loads(request.body or b"{}")
            if not isinstance(config, dict):
                raise FaultConfigError("Expected a JSON object of fault shares and options")
            configure(config, reset_counters=request.GET.get("keep_counters") != "1")
        except (ValueError, FaultConfigError) as exc:  # JSONDecodeError is a ValueError
            return JsonResponse({"error": str(exc)}, status=400)
    elif request.method == "DELETE":
        configure({})
    elif request.method != "GET":
        return JsonResponse({"error": "GET, POST or DELETE"}, status=405)
    return JsonResponse(stats())
