"""What stands in front of every sandbox API view: authentication, injected faults, rate
limits and scopes, plus HubSpot's error body (reference 1.2, 1.12, 1.13).

Rate-limit windows are kept in process memory (one sandbox server process holds them): they
are ephemeral by nature, and a database row per request would make the emulator slower than
the limit it emulates.
"""

from __future__ import annotations

import bisect
import collections
import functools
import json
import math
import random
import socket
import threading
import time
import uuid
from dataclasses import dataclass

from django.db.models import F
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from sandbox import bulk
from sandbox.hubspot import rollups
from sandbox.hubspot.models import AccessToken, Portal
from sandbox.hubspot.schema import object_type_from_path


def error(status: int, category: str, message: str, *, errors=None, context=None, sub_category="",
          headers=None, **extra) -> JsonResponse:
    """HubSpot's standard error body."""
    body = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category}
    if sub_category:
        body["subCategory"] = sub_category
    if errors:
        body["errors"] = errors
    if context:
        body["context"] = context
    body.update(extra)
    response = JsonResponse(body, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


class BadRequest(Exception):
    """Raised inside views for a 400 (or other) error response."""

    def __init__(self, message: str, *, status: int = 400, category: str = "VALIDATION_ERROR", **kw) -> None:
        super().__init__(message)
        self.response = error(status, category, message, **kw)


def _no_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def read_json(request: HttpRequest):
    """The request's JSON body, parsed as strictly as HubSpot does: NaN, infinities, numbers out
    of range and nesting past the parser's depth are a 400, like any other invalid JSON."""
    try:
        return json.loads(request.body or b"null", parse_constant=_no_constant, parse_float=_finite)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise BadRequest("Invalid input JSON on line 1: the request body is not valid JSON") from None


def read_object(request: HttpRequest) -> dict:
    """The request's JSON body, which must be an object (an empty body reads as {})."""
    body = read_json(request)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise BadRequest("Invalid input JSON: expected an object")
    return body


def whole_number(value, name: str, *, default: int = 0, minimum: int = 0, maximum: int = 2**31 - 1) -> int:
    """`value` as an int between `minimum` and `maximum`, or a 400 naming the field."""
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise BadRequest(f"{name} must be a whole number, got {str(value)[:40]!r}") from None
    if not minimum <= number <= maximum:
        raise BadRequest(f"{name} must be between {minimum} and {maximum}")
    return number


def multi_param(request: HttpRequest, name: str) -> list[str]:
    """An array query parameter in either form: a=x&a=y or a=x,y (reference 1.4)."""
    values = []
    for raw in request.GET.getlist(name):
        values.extend(v.strip() for v in raw.split(",") if v.strip())
    return values


@dataclass
class Caller:
    portal: Portal
    scopes: set[str]
    private: bool


def authenticate(request: HttpRequest) -> Caller | JsonResponse:
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    if not token:
        return error(401, "INVALID_AUTHENTICATION",
                     "Authentication credentials not found. This API supports OAuth 2.0 authentication.")
    found = bulk.fetch(Portal, "private_token = %s", [token])
    portal = found[0] if found else None
    if portal is not None:
        return Caller(portal, set(portal.scopes), True)
    access = AccessToken.objects.select_related("grant__portal").filter(token=token).first()
    if access is None:
        return error(401, "INVALID_AUTHENTICATION", "The access token is not valid or was revoked.")
    if access.expires_at <= timezone.now():
        ago = int((timezone.now() - access.expires_at).total_seconds())
        return error(401, "EXPIRED_AUTHENTICATION",
                     f"The OAuth token used to make this call expired {ago} second(s) ago.")
    return Caller(access.grant.portal, set(access.grant.scopes), False)


# --- rate limits ---------------------------------------------------------------------------
_windows: dict[tuple[int, str], list[float]] = collections.defaultdict(list)  # arrival times, in order
_daily: dict[int, int] = collections.Counter()
_lock = threading.Lock()


def reset_rate_limits() -> None:
    with _lock:
        _windows.clear()
        _daily.clear()


def _take(key: tuple[int, str], limit: int, period: float, arrived: float | None = None) -> tuple[bool, int, float]:
    """Take a slot in a sliding window: (allowed, remaining, seconds until a slot frees).

    Requests count at their arrival (`arrived`, stamped by sandbox.faults.FaultMiddleware), as
    HubSpot counts at its edge: timed after authentication instead, a request delayed by the
    server's own work could land in a window it never arrived in. The window holds arrival times
    in order; a request is refused when some `period` holding its arrival would exceed `limit`."""
    now = time.monotonic()
    at = now if arrived is None else min(arrived, now)
    window = _windows[key]
    del window[:bisect.bisect_left(window, now - 2 * period)]  # a request may be served up to `period` late
    near = window[bisect.bisect_right(window, at - period):bisect.bisect_left(window, at + period)]
    # The busiest `period` holding `at` starts at `at` or at an arrival before it.
    starts = [(i, t) for i, t in enumerate(near) if t <= at] + [(bisect.bisect_left(near, at), at)]
    busiest = max(bisect.bisect_left(near, start + period) - i for i, start in starts)
    if busiest >= limit:
        return False, 0, max(0.0, period - (at - near[0])) if near else period
    bisect.insort(window, at)
    return True, limit - busiest - 1, 0.0


def rate_limit(caller: Caller, search: bool, arrived: float | None = None) -> tuple[JsonResponse | None, dict[str, str]]:
    portal = caller.portal
    if not portal.rate_limit_enabled:
        return None, {}
    with _lock:
        if search:
            ok, _, wait = _take((portal.pk, "search"), portal.search_per_second, 1.0, arrived)
            headers = {}
            policy, text = "SECONDLY", "You have reached your secondly limit."
        else:
            ok, remaining, wait = _take((portal.pk, "ten"), portal.ten_second_limit, portal.interval_ms / 1000,
                                        arrived)
            headers = {
                "X-HubSpot-RateLimit-Interval-Milliseconds": str(portal.interval_ms),
                "X-HubSpot-RateLimit-Max": str(portal.ten_second_limit),
                "X-HubSpot-RateLimit-Remaining": str(remaining),
            }
            if caller.private:  # daily headers are not sent to OAuth apps (reference 1.13)
                _daily[portal.pk] += 1
                headers["X-HubSpot-RateLimit-Daily"] = str(portal.daily_limit)
                headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(max(0, portal.daily_limit - _daily[portal.pk]))
            policy, text = "TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit."
    if ok:
        return None, headers
    Portal.objects.filter(pk=portal.pk).update(rate_limited_count=F("rate_limited_count") + 1)
    if not search:  # search 429s carry no Retry-After (reference 1.13)
        headers["Retry-After"] = str(max(1, math.ceil(wait)))
    return error(429, "RATE_LIMITS", text, errorType="RATE_LIMIT", policyName=policy,
                 requestId=str(uuid.uuid4()), headers=headers), headers


# --- fault injection -----------------------------------------------------------------------
class DroppedConnection(Exception):
    pass


def _drop_connection(request: HttpRequest) -> HttpResponse:
    """Close the client's socket without an answer (a dropped connection)."""
    stream = request.META.get("wsgi.input")
    sock = getattr(getattr(stream, "raw", None), "_sock", None)
    if isinstance(sock, socket.socket):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        return HttpResponse(status=502)
    # Not served by a socket we can reach (e.g. the test client): answer like a dropped proxy.
    return HttpResponse("upstream connection reset", status=502, content_type="text/plain")


def inject_fault(request: HttpRequest, portal: Portal) -> HttpResponse | None:
    faults = portal.faults or {}
    if not faults or portal.fault_budget == 0:
        return None
    roll = random.random()
    chosen = None
    for kind in ("error_500", "error_429", "slow", "drop", "html", "bad_json"):
        share = float(faults.get(kind, 0) or 0)
        if roll < share:
            chosen = kind
            break
        roll -= share
    if chosen is None:
        return None
    if portal.fault_budget is not None:
        updated = Portal.objects.filter(pk=portal.pk, fault_budget__gt=0).update(fault_budget=F("fault_budget") - 1)
        if not updated:
            return None
    if chosen == "error_500":
        return error(500, "INTERNAL_ERROR", "internal error (injected)")
    if chosen == "error_429":
        return error(429, "RATE_LIMITS", "You have reached your ten_secondly_rolling limit.",
                     errorType="RATE_LIMIT", policyName="TEN_SECONDLY_ROLLING",
                     headers={"Retry-After": str(faults.get("retry_after", 1))})
    if chosen == "slow":
        time.sleep(float(faults.get("slow_seconds", 2)))
        return None
    if chosen == "drop":
        return _drop_connection(request)
    if chosen == "html":
        return HttpResponse("<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>",
                            status=502, content_type="text/html")
    return HttpResponse('{"results": [{"id": "1", "prop', status=200, content_type="application/json")


# --- scopes and the view decorator ---------------------------------------------------------
def object_scopes(object_type: str, access: str) -> set[str]:
    scopes = {f"crm.objects.{object_type}.{access}"}
    if object_type == "products":
        scopes.add("e-commerce")
    return scopes


def missing_scopes(caller: Caller, alternatives: set[str]) -> JsonResponse | None:
    if not alternatives or caller.scopes & alternatives:
        return None
    required = sorted(alternatives)
    return error(
        403, "MISSING_SCOPES",
        "This app hasn't been granted all required scopes to make this call. Read more about required "
        "scopes here: https://developers.hubspot.com/scopes.",
        errors=[{"message": "One or more of the following scopes are required.",
                 "context": {"requiredGranularScopes": required}}],
    )


def api(*, search: bool = False, scopes=None):
    """Wrap a view `view(request, caller, object_type?, ...)`.

    `scopes(object_type, request)` returns the accepted alternatives (any one is enough).
    """

    def decorate(view):
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            caller = authenticate(request)
            if isinstance(caller, JsonResponse):
                return caller
            fault = inject_fault(request, caller.portal)
            if fault is not None:
                return fault
            limited, headers = rate_limit(caller, search, getattr(request, "sandbox_arrived", None))
            if limited is not None:
                return limited
            if "object_type" in kwargs:
                resolved = object_type_from_path(kwargs["object_type"])
                if resolved is None:
                    return error(400, "VALIDATION_ERROR", f"Unable to infer object type from: {kwargs['object_type']}")
                kwargs["object_type"] = resolved
            if scopes is not None:
                denied = missing_scopes(caller, scopes(kwargs.get("object_type", ""), request))
                if denied is not None:
                    return denied
            try:
                # Contact roll-ups of deals are recomputed once per request, for every contact
                # the request touched (a batch of 100 associations is one recompute, not 100).
                with rollups.batched():
                    response = view(request, caller, *args, **kwargs)
            except BadRequest as exc:
                response = exc.response
            for name, value in headers.items():
                response[name] = value
            return response

        return wrapper

    return decorate


def read_or_write(object_type: str, request: HttpRequest) -> set[str]:
    write = request.method in ("POST", "PATCH", "PUT", "DELETE") and not request.path.endswith(("/search", "/batch/read"))
    return object_scopes(object_type, "write" if write else "read")
