"""HubSpot's HTTP side: authentication (private-app token or OAuth with refresh), client-side
rate limits per portal, and the classification of every HubSpot error into ErrorCategory.

Errors are classified from HubSpot's body first (`category`, `errors[].code`, `policyName`)
and from the status code second, keeping HubSpot's own message.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from connectors.errors import ConnectorError, ErrorCategory
from connectors.http import (
    HttpClient,
    RateLimiter,
    describe_body,
    generic_classify,
    secret_values,
    shared_limiter,
)
from connectors.ratelimit import DailyBudget

PUBLIC_API = "https://api.hubapi.com"
PUBLIC_AUTHORIZE = "https://app.hubspot.com/oauth/authorize"
REFRESH_MARGIN = 120  # seconds before expiry at which a token is refreshed ahead of time
USAGE_REPORT_INTERVAL = 30.0  # seconds between two reports of the daily API usage

# errors[].code -> category. Wrong kind of value: TYPE_MISMATCH; a value the field refuses:
# INVALID_PROPERTY_VALUE (both permanent until someone fixes the data or the mapping).
_CODE_CATEGORIES = {
    "INVALID_INTEGER": ErrorCategory.TYPE_MISMATCH,
    "INVALID_DECIMAL": ErrorCategory.TYPE_MISMATCH,
    "INVALID_LONG": ErrorCategory.TYPE_MISMATCH,
    "INVALID_BOOLEAN": ErrorCategory.TYPE_MISMATCH,
    "INVALID_DATE": ErrorCategory.TYPE_MISMATCH,
    "INVALID_DATETIME": ErrorCategory.TYPE_MISMATCH,
    "INVALID_OPTION": ErrorCategory.INVALID_PROPERTY_VALUE,
    "INVALID_EMAIL": ErrorCategory.INVALID_EMAIL,  # a record failure of its own, never a field warning
    "PROPERTY_DOESNT_EXIST": ErrorCategory.INVALID_PROPERTY_VALUE,
    "READ_ONLY_VALUE": ErrorCategory.INVALID_PROPERTY_VALUE,
    "REQUIRED_FIELD": ErrorCategory.MISSING_REQUIRED_FIELD,
    "MISSING_REQUIRED_PROPERTY": ErrorCategory.MISSING_REQUIRED_FIELD,
}
# body `category` -> category, for errors whose status is unknown (207 entries) or ambiguous.
_BODY_CATEGORIES = {
    "CONFLICT": ErrorCategory.DUPLICATE_RECORD,  # duplicate unique value: permanent until merged
    "OBJECT_NOT_FOUND": ErrorCategory.RECORD_DELETED,
    "MISSING_SCOPES": ErrorCategory.PERMISSION_DENIED,  # permanent until the app is re-authorized
    "EXPIRED_AUTHENTICATION": ErrorCategory.AUTHENTICATION_EXPIRED,  # refresh and retry
    "INVALID_AUTHENTICATION": ErrorCategory.AUTHENTICATION_EXPIRED,
    "RATE_LIMITS": ErrorCategory.RATE_LIMITED,  # transient: wait for the window to move
    "LOCKED": ErrorCategory.RECORD_LOCKED,
}


def _first_error(body: Mapping) -> tuple[str, str]:
    """(code, property name) of the first per-field error in a HubSpot error body."""
    for item in body.get("errors") or []:
        if not isinstance(item, Mapping):
            continue
        context = item.get("context") if isinstance(item.get("context"), Mapping) else {}
        names = context.get("propertyName") or []
        name = names[0] if isinstance(names, list) and names else str(item.get("in") or "")
        return str(item.get("code") or ""), name
    return "", ""


def category_for(body: Mapping, status: int | None) -> tuple[ErrorCategory, str, str]:
    """(category, vendor code, field) for a HubSpot error body and its HTTP status (if any)."""
    code, field = _first_error(body)
    vendor = str(body.get("category") or body.get("errorType") or body.get("status") or "")
    sub = str(body.get("subCategory") or "")
    if status == 429 or vendor in ("RATE_LIMITS", "RATE_LIMIT"):
        policy = str(body.get("policyName") or "")
        daily = policy == "DAILY"
        return (ErrorCategory.API_LIMIT_REACHED if daily else ErrorCategory.RATE_LIMITED), policy or vendor, ""
    if vendor in _BODY_CATEGORIES:
        return _BODY_CATEGORIES[vendor], code or vendor, field
    if "association" in sub.lower():
        return ErrorCategory.ASSOCIATION_FAILED, sub, field
    if code in _CODE_CATEGORIES:
        return _CODE_CATEGORIES[code], code, field
    if "TOO_LONG" in code or "MAX_CHARACTERS" in code or "TOO_LONG" in vendor:
        return ErrorCategory.VALUE_TOO_LONG, code, field
    if status is not None and status != 400:
        return generic_classify_status(status), code or vendor, field
    if vendor == "VALIDATION_ERROR" or status == 400:
        return ErrorCategory.INVALID_PROPERTY_VALUE, code or vendor, field
    return ErrorCategory.UNKNOWN, code or vendor, field


def generic_classify_status(status: int) -> ErrorCategory:
    if status in (401,):
        return ErrorCategory.AUTHENTICATION_EXPIRED
    if status == 403:
        return ErrorCategory.PERMISSION_DENIED
    if status == 404:
        return ErrorCategory.RECORD_DELETED
    if status == 409:
        return ErrorCategory.DUPLICATE_RECORD
    if status == 423:
        return ErrorCategory.RECORD_LOCKED  # HubSpot locks records during heavy syncs: retry
    if status == 477 or status >= 500:
        return ErrorCategory.APP_UNAVAILABLE  # migrations and server errors pass
    return ErrorCategory.UNKNOWN


def error_from_body(body: Mapping, status: int | None = None) -> ConnectorError:
    category, code, field = category_for(body, status)
    message = str(body.get("message") or code or "HubSpot refused the request")
    missing = _required_scopes(body)
    if missing and missing not in message:
        message = f"{message} (missing scopes: {missing})"
    return ConnectorError(category, message, vendor_code=code, status=status, field=field)


def _required_scopes(body: Mapping) -> str:
    scopes: list[str] = []
    for item in body.get("errors") or []:
        if isinstance(item, Mapping) and isinstance(item.get("context"), Mapping):
            scopes += [str(s) for s in item["context"].get("requiredGranularScopes") or []]
    return ", ".join(scopes)


def classify(response: requests.Response) -> ConnectorError:
    """Every non-2xx HubSpot response, as a ConnectorError (with a wait for 429/423)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, Mapping) and (body.get("message") or body.get("category")):
        error = error_from_body(body, response.status_code)
    else:
        error = generic_classify(response)
        error.message = f"HTTP {response.status_code}: {describe_body(response)}"
    error.retry_after = _retry_after(response, body if isinstance(body, Mapping) else {}, error.category)
    return error


def _retry_after(response: requests.Response, body: Mapping, category: ErrorCategory) -> float | None:
    header = response.headers.get("Retry-After")
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            pass
    if category is ErrorCategory.RATE_LIMITED:
        # HubSpot's 429 often has no Retry-After; wait one window of the policy that was hit.
        return 1.0 if body.get("policyName") == "SECONDLY" else 10.0
    if category is ErrorCategory.RECORD_LOCKED:
        return 2.0
    return None


def replay_safe(method: str, path: str) -> bool:
    """Whether resending a request whose answer was lost cannot create a record twice: every
    method but POST, and the POSTs that only read, update or associate (search, batch
    read/update/upsert, association batches)."""
    if method.upper() != "POST":
        return True
    path = path.split("?", 1)[0].rstrip("/")
    return path.endswith(("/search", "/batch/read", "/batch/update", "/batch/upsert")) or "/associations/" in path


class HubSpotClient:
    """One HubSpot account: an HttpClient with auth, refresh and the portal's rate limits."""

    def __init__(self, base_url: str, credentials: dict, *, save_credentials: Callable[..., None],
                 options: Mapping[str, Any], on_usage: Callable[[int, int], None] | None = None) -> None:
        self.base_url = (base_url or PUBLIC_API).rstrip("/")
        self.on_usage = on_usage
        self._usage_reported_at = 0.0
        self.credentials = credentials
        self.save_credentials = save_credentials
        self._refresh_lock = threading.Lock()
        key = str(credentials.get("hub_id") or _digest(credentials.get("refresh_token") or
                                                       credentials.get("access_token") or ""))
        self.limiter_key = f"hubspot:{self.base_url}:{key}"
        self.limited = bool(options.get("client_rate_limit", True))
        self.ten = shared_limiter(f"{self.limiter_key}:ten", int(options.get("rate_limit_per_10s", 190)), _window(10.0))
        self.search_limiter = shared_limiter(f"{self.limiter_key}:search", int(options.get("search_per_second", 5)),
                                             _window(1.0))
        # The daily allocation (private apps learn it from X-HubSpot-RateLimit-Daily*), shared by
        # every worker: they stop together at it instead of each at its own count.
        self.daily = DailyBudget(f"{self.limiter_key}:daily", float(options.get("daily_budget_share", 1.0)),
                                 account="the HubSpot account's")
        self.http = _HubSpotHttp(
            self.base_url, classify=classify, auth_headers=self._auth_headers, refresh_auth=self._refresh_on_401,
            limiters=[self.ten] if self.limited else [], on_response=self._learn_limits,
            max_attempts=int(options.get("max_attempts", 6)),
            timeout=(5.0, float(options.get("read_timeout", 60.0))),
            secrets=lambda: secret_values(self.credentials),
            replay_safe=replay_safe,
        )
        self.http.can_refresh = lambda: self.oauth

    # --- requests -------------------------------------------------------------------------
    def call(self, method: str, path: str, *, search: bool = False, **kwargs: Any) -> requests.Response:
        # Search has its own per-second limit and is not counted in the ten-secondly one
        # (reference 1.13); waiting on one limiter after taking another's slot would make the
        # first slot's timestamp early, so each call takes exactly one.
        # The daily budget never waits (it refuses), so it may come before the ten-second window.
        limiters = ([self.search_limiter] if search else [self.daily, self.ten]) if self.limited else []
        try:
            return self.http.request(method, path, limiters=limiters, **kwargs)
        except ConnectorError:
            raise
        except requests.RequestException as exc:
            # http.py maps timeouts and connection errors; anything else requests raises (a body
            # cut off mid-way, an invalid URL) is still the app being unreachable, not a crash.
            raise ConnectorError(ErrorCategory.APP_UNAVAILABLE,
                                 f"{method} {path} failed: {type(exc).__name__}: {exc}") from None

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.http.parsed(method, path, lambda: self.call(method, path, **kwargs))

    @property
    def calls(self) -> int:
        return self.http.calls

    def _learn_limits(self, response: requests.Response) -> None:
        """Follow the portal's real limit from X-HubSpot-RateLimit-* (never exceed it)."""
        headers = response.headers
        self._report_usage(headers)
        try:
            limit = int(headers["X-HubSpot-RateLimit-Max"])
            period = int(headers["X-HubSpot-RateLimit-Interval-Milliseconds"]) / 1000
            remaining = int(headers.get("X-HubSpot-RateLimit-Remaining", limit))
        except (KeyError, ValueError):
            return
        if not self.limited or (limit, _window(period)) == (self.ten.max_calls, self.ten.period) or limit <= 0:
            return
        fresh = shared_limiter(f"{self.limiter_key}:ten", limit, _window(period))
        for _ in range(min(limit, max(0, limit - remaining))):
            fresh.acquire()  # the calls the portal has already counted in this window
        self.ten = fresh

    def _report_usage(self, headers) -> None:
        """Pass the daily allocation on (private apps get it in headers) to the shared daily
        budget, and to `on_usage` at most twice a minute."""
        try:
            allowed = int(headers["X-HubSpot-RateLimit-Daily"])
            remaining = int(headers["X-HubSpot-RateLimit-Daily-Remaining"])
        except (KeyError, ValueError):
            return
        if self.limited:
            self.daily.observe(max(0, allowed - remaining), allowed)
        if self.on_usage is None or time.monotonic() - self._usage_reported_at < USAGE_REPORT_INTERVAL:
            return
        self._usage_reported_at = time.monotonic()
        self.on_usage(max(0, allowed - remaining), allowed)

    # --- auth -----------------------------------------------------------------------------
    @property
    def oauth(self) -> bool:
        c = self.credentials
        return bool(c.get("refresh_token") and c.get("client_id") and c.get("client_secret"))

    def _auth_headers(self) -> dict[str, str]:
        expires_at = float(self.credentials.get("expires_at") or 0)
        if self.oauth and expires_at and time.time() > expires_at - REFRESH_MARGIN:
            self.refresh(stale_token=self.credentials.get("access_token"))
        token = self.credentials.get("access_token") or ""
        return {"Authorization": f"Bearer {token}"} if token else {}

    def _refresh_on_401(self) -> bool:
        if not self.oauth:
            return False
        self.refresh(stale_token=self.credentials.get("access_token"))
        self.http.refreshed = True
        return True

    def refresh(self, *, stale_token: str | None = None) -> None:
        with self._refresh_lock:
            if stale_token is not None and self.credentials.get("access_token") != stale_token:
                return  # another thread refreshed it meanwhile
            tokens = self.token_request({
                "grant_type": "refresh_token", "refresh_token": self.credentials["refresh_token"],
                "client_id": self.credentials["client_id"], "client_secret": self.credentials["client_secret"],
            })
            self.save_credentials(**credentials_from_tokens(tokens))

    def token_request(self, form: dict[str, str]) -> dict:
        """POST /oauth/v1/token (no bearer, no limiter); token errors are authentication errors."""
        plain = HttpClient(self.base_url, classify=_classify_token_error, max_attempts=1,
                           secrets=lambda: secret_values(self.credentials))
        try:
            body = plain.json("POST", "/oauth/v1/token", data=form)
        except requests.RequestException as exc:
            raise ConnectorError(ErrorCategory.APP_UNAVAILABLE, f"token request failed: {exc}") from None
        if not isinstance(body, dict) or not body.get("access_token"):
            raise ConnectorError(ErrorCategory.MALFORMED_RESPONSE, "The token response has no access_token")
        return body


class _HubSpotHttp(HttpClient):
    """HttpClient that stops at a 401 nothing can fix.

    http.py retries AUTHENTICATION_EXPIRED like any transient error once a refresh is not
    possible (a private-app token) or has already been tried; another attempt with the same
    token cannot succeed, so the error is raised at once instead of after minutes of backoff.
    """

    refreshed = False
    can_refresh: Callable[[], bool] = staticmethod(lambda: False)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        self.refreshed = False
        return super().request(method, path, **kwargs)

    def _send(self, method: str, path: str, kwargs: dict) -> requests.Response | ConnectorError:
        result = super()._send(method, path, kwargs)
        if isinstance(result, ConnectorError) and result.category is ErrorCategory.AUTHENTICATION_EXPIRED:
            if self.refreshed or not self.can_refresh():
                raise result
        return result


def _classify_token_error(response: requests.Response) -> ConnectorError:
    if response.status_code >= 500 or response.status_code == 429:
        return classify(response)
    try:
        body = response.json()
    except ValueError:
        body = {}
    status = str(body.get("status") or "") if isinstance(body, dict) else ""
    message = str(body.get("message") or describe_body(response)) if isinstance(body, dict) else describe_body(response)
    # BAD_REFRESH_TOKEN / BAD_CLIENT_SECRET / BAD_AUTH_CODE: only reconnecting fixes these.
    return ConnectorError(ErrorCategory.PERMISSION_DENIED if status.startswith("BAD_CLIENT") else
                          ErrorCategory.AUTHENTICATION_EXPIRED, f"{status or 'token error'}: {message}",
                          vendor_code=status, status=response.status_code)


def credentials_from_tokens(tokens: Mapping[str, Any]) -> dict[str, Any]:
    creds = {"access_token": tokens["access_token"],
             "expires_at": time.time() + float(tokens.get("expires_in") or 1800)}
    if tokens.get("refresh_token"):
        creds["refresh_token"] = tokens["refresh_token"]
    if tokens.get("hub_id"):
        creds["hub_id"] = tokens["hub_id"]
    if tokens.get("scopes"):
        creds["scopes"] = list(tokens["scopes"])
    return creds


def _window(period: float) -> float:
    """The client's window for a server window: a little longer, so that latency jitter between
    taking a slot here and arriving there never puts a request over the server's limit."""
    return period * 1.05 + 0.05


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


__all__ = ["HubSpotClient", "RateLimiter", "classify", "error_from_body", "credentials_from_tokens"]
