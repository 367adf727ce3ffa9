"""One HTTP layer for every connector: timeouts, rate limiting, retries with backoff, auth
refresh, JSON parsing and error classification.

Retries are written here rather than delegated to urllib3's Retry because the waits are
vendor-specific (HubSpot's 429 names a policy and often carries no Retry-After; Salesforce
never sends 429 but a 403 with REQUEST_LIMIT_EXCEEDED; a 401 means "refresh and try again"
for one and not the other), and each connector supplies that knowledge through `classify`.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

import requests

from connectors import ratelimit
from connectors.errors import ConnectorError, ErrorCategory

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = (5.0, 60.0)  # connect, read

# --- redaction ------------------------------------------------------------------------------
# Every message this layer produces (errors that end up in Connection.last_error, flashed
# messages, outcomes, exports, log lines) passes through `redact`, so a credential that a
# request carried in its path, query string, headers or body never reaches a person or a log.
REDACTED = "***"
_SECRET_NAME = re.compile(r"token|secret|password|passwd|assertion|api_?key|hapikey|signature|^code$", re.I)
_SECRET_PATTERNS = (
    # HubSpot's token-info paths carry the token itself.
    re.compile(r"(/(?:access|refresh)-tokens/)[^/?#\s\"']+", re.I),
    # name=value pairs in query strings and form bodies.
    re.compile(r"((?:^|[?&\s;,(])(?:[\w.-]*(?:token|secret|password|assertion|api_?key|hapikey|signature)[\w.-]*"
               r"|code)=)[^&\s#\"']+", re.I),
    # Authorization header values.
    re.compile(r"(\b(?:Bearer|Basic|OAuth)\s+)[\w.~+/=:-]+", re.I),
    # "access_token": "..." in JSON bodies.
    re.compile(r"([\"'][\w.-]*(?:token|secret|password|assertion)[\w.-]*[\"']\s*:\s*[\"'])[^\"']*", re.I),
)


def secret_values(mapping: Mapping[str, Any] | None) -> list[str]:
    """The values of `mapping` whose keys name a secret (tokens, secrets, passwords, keys)."""
    return [str(v) for k, v in (mapping or {}).items() if v and _SECRET_NAME.search(str(k))]


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every known secret value, and anything shaped like a credential, as ***."""
    text = str(text)
    # Longest first, so a secret that contains another is replaced whole.
    for value in sorted({s for s in secrets if isinstance(s, str) and len(s) >= 4}, key=len, reverse=True):
        for form in {value, quote(value, safe=""), quote_plus(value), quote(value)}:
            text = text.replace(form, REDACTED)
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that passes every record through `redact` (settings.LOGGING puts it on
    urllib3's connection pool, whose DEBUG lines name each request's full path)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def _request_secrets(kwargs: Mapping[str, Any]) -> list[str]:
    """The secret values a request carries: its auth headers and any secret-named field."""
    found: list[str] = []
    for name, value in (kwargs.get("headers") or {}).items():
        if name.lower() in {"authorization", "proxy-authorization"} and isinstance(value, str):
            found.append(value.split(" ", 1)[-1])
        elif _SECRET_NAME.search(name):
            found.append(str(value))
    for key in ("params", "data", "json"):
        if isinstance(kwargs.get(key), Mapping):
            found += secret_values(kwargs[key])
    return found



class RateLimiter:
    """A sliding-window limiter: at most `max_calls` acquisitions in any `period` seconds.

    `acquire()` blocks until a slot is free, so a client never sends a request over the limit.
    """

    def __init__(self, max_calls: int, period: float, *, clock=time.monotonic, sleep=time.sleep) -> None:
        self.max_calls = max_calls
        self.period = period
        self._calls: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    key = ""

    def acquire(self) -> float:
        """Take a slot; returns the seconds waited (shown on the current run while it waits)."""
        waited = 0.0
        try:
            while True:
                with self._lock:
                    now = self._clock()
                    while self._calls and now - self._calls[0] >= self.period:
                        self._calls.popleft()
                    if len(self._calls) < self.max_calls:
                        self._calls.append(now)
                        return waited
                    wait = self.period - (now - self._calls[0]) + 0.001
                ratelimit.notify_wait(ratelimit.describe(self.key, self.max_calls, self.period), wait)
                self._sleep(wait)
                waited += wait
        finally:
            if waited:
                ratelimit.notify_wait("", 0.0)

    def penalise(self, seconds: float) -> None:
        """Block new acquisitions for `seconds` (after the server said we went too fast)."""
        with self._lock:
            until = self._clock() + seconds - self.period
            self._calls.extend([until] * max(0, self.max_calls - len(self._calls)))


_limiters: dict[str, RateLimiter | ratelimit.RedisWindow] = {}
_limiters_lock = threading.Lock()


def shared_limiter(key: str, max_calls: int, period: float) -> RateLimiter | ratelimit.RedisWindow:
    """The limiter for `key` (e.g. one per HubSpot portal and policy) that every connector
    talking to the same account shares: across all workers and processes through Redis when
    REDIS_URL is set (connectors.ratelimit), else within this process."""
    url = ratelimit.redis_url()
    with _limiters_lock:
        limiter = _limiters.get(key)
        shared = isinstance(limiter, ratelimit.RedisWindow)
        if limiter is None or (limiter.max_calls, limiter.period) != (max_calls, period) or shared != bool(url):
            if url:
                limiter = ratelimit.RedisWindow(ratelimit.redis_client(url), key, max_calls, period)
            else:
                limiter = RateLimiter(max_calls, period)
                limiter.key = key
            _limiters[key] = limiter
        return limiter


Classifier = Callable[[requests.Response], ConnectorError]


class _Session(requests.Session):
    """A client's own session: closing it also closes the spare sessions its helper threads used."""

    def __init__(self, spares: list[requests.Session]) -> None:
        super().__init__()
        self._spares = spares

    def close(self) -> None:
        super().close()
        while self._spares:
            self._spares.pop().close()


def replay_safe(method: str, path: str) -> bool:  # noqa: ARG001 (connectors pass their own, by path)
    """Whether sending a request twice does no more than sending it once. A POST may create a
    record: after its answer was lost (read timeout, connection cut mid-answer) it may have been
    carried out, so it is not resent; the next run finds the record by its match keys instead."""
    return method.upper() != "POST"

# Transient categories worth retrying within the same call. Expired authentication is handled
# by refresh_auth instead, and a spent API allocation frees up in hours, not seconds: both are
# retried by later runs, not by waiting here.
RETRY_NOW = frozenset(
    {
        ErrorCategory.RATE_LIMITED,
        ErrorCategory.APP_UNAVAILABLE,
        ErrorCategory.RECORD_LOCKED,
        ErrorCategory.MALFORMED_RESPONSE,
    }
)


def describe_body(response: requests.Response, limit: int = 300) -> str:
    """A short, safe description of a response body for error messages."""
    ctype = response.headers.get("Content-Type", "")
    text = response.text or ""
    if "html" in ctype.lower() or text.lstrip().lower().startswith(("<!doctype", "<html")):
        return f"an HTML page (HTTP {response.status_code}) instead of JSON"
    text = " ".join(text.split())
    return text[:limit] + ("..." if len(text) > limit else "")


def generic_classify(response: requests.Response) -> ConnectorError:
    """Status-code classification for when a vendor's body says nothing more useful."""
    status = response.status_code
    body = describe_body(response)
    if status == 401:
        category = ErrorCategory.AUTHENTICATION_EXPIRED  # the credentials no longer work
    elif status == 403:
        category = ErrorCategory.PERMISSION_DENIED  # permanent until a person grants access
    elif status == 404:
        category = ErrorCategory.RECORD_DELETED
    elif status == 409:
        category = ErrorCategory.DUPLICATE_RECORD
    elif status == 423:
        category = ErrorCategory.RECORD_LOCKED  # transient: someone else holds the row
    elif status == 429:
        category = ErrorCategory.RATE_LIMITED  # transient: wait and retry
    elif status >= 500:
        category = ErrorCategory.APP_UNAVAILABLE  # transient: the app's own failure
    elif status == 400:
        category = ErrorCategory.INVALID_PROPERTY_VALUE
    else:
        category = ErrorCategory.UNKNOWN
    return ConnectorError(category, f"HTTP {status}: {body}", status=status)


def parse_json(response: requests.Response) -> Any:
    """The response's JSON, or a MALFORMED_RESPONSE error that says what came instead."""
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except (ValueError, json.JSONDecodeError):
        raise ConnectorError(
            ErrorCategory.MALFORMED_RESPONSE,
            f"Expected JSON, got {describe_body(response)}",
            status=response.status_code,
        ) from None


class HttpClient:
    """A requests.Session with the project's policies; one per connector instance."""

    def __init__(
        self,
        base_url: str,
        *,
        classify: Classifier = generic_classify,
        auth_headers: Callable[[], dict[str, str]] = dict,
        refresh_auth: Callable[[], bool] | None = None,
        limiters: Iterable[RateLimiter] = (),
        max_attempts: int = 5,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        on_response: Callable[[requests.Response], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        secrets: Callable[[], Iterable[str]] = tuple,
        replay_safe: Callable[[str, str], bool] = replay_safe,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.classify = classify
        self.auth_headers = auth_headers
        self.refresh_auth = refresh_auth
        self.limiters = list(limiters)
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.timeout = timeout
        self.on_response = on_response
        self.sleep = sleep
        self.secrets = secrets  # credential values to scrub from every message, besides the request's own
        self.replay_safe = replay_safe
        self._local = threading.local()  # per thread: the auth headers last sent, a lent session
        self._count_lock = threading.Lock()
        self._spares: list[requests.Session] = []  # sessions lent to helper threads, kept alive between loans
        self.session = _Session(self._spares)
        self.calls = 0  # HTTP requests actually sent, retries included
        self.retries = 0

    @property
    def _last_auth_headers(self) -> dict[str, str]:
        return getattr(self._local, "auth_headers", {})

    @_last_auth_headers.setter
    def _last_auth_headers(self, headers: dict[str, str]) -> None:
        self._local.auth_headers = headers

    def close(self) -> None:
        """Close kept-alive connections (a later request opens new ones)."""
        self.session.close()

    @contextlib.contextmanager
    def own_session(self):
        """This thread's requests go through a session of its own for the length of the block (a
        requests.Session is not thread-safe; connectors.readahead's threads use this). The
        session is a spare one, kept with its open connections for the next helper thread;
        closing the client's session closes the spares too."""
        try:
            session = self._spares.pop()
        except IndexError:
            session = requests.Session()
        self._local.session = session
        try:
            yield session
        finally:
            self._local.session = None
            self._spares.append(session)

    def current_session(self) -> requests.Session:
        """The session this thread sends through: its own (see `own_session`), else the client's."""
        return getattr(self._local, "session", None) or self.session

    def _count(self, retry: bool = False) -> None:
        with self._count_lock:
            if retry:
                self.retries += 1
            else:
                self.calls += 1

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(
        self, method: str, path: str, *, limiters: Iterable[RateLimiter] | None = None, **kwargs: Any
    ) -> requests.Response:
        """Send a request; return a 2xx/3xx response or raise a classified ConnectorError.

        The error's message never holds a credential (see `redact`)."""
        try:
            return self._request(method, path, limiters=limiters, **kwargs)
        except ConnectorError as exc:
            exc.message = self.redact(exc.message, kwargs)
            exc.args = (exc.message,)
            raise
        except requests.RequestException as exc:
            # Anything requests raises outside _send (e.g. from a refresh): still the app being
            # unreachable, and its text may hold the URL.
            text = self.redact(f"{method} {path} failed: {type(exc).__name__}: {exc}", kwargs)
            raise ConnectorError(ErrorCategory.APP_UNAVAILABLE, text) from None

    def redact(self, text: str, kwargs: Mapping[str, Any] | None = None) -> str:
        """`text` without this client's credentials nor those a request's `kwargs` carried."""
        kwargs = kwargs or {}
        # The auth headers last sent, not auth_headers() again: that may refresh a token.
        headers = {**self._last_auth_headers, **(kwargs.get("headers") or {})}
        return redact(text, [*self.secrets(), *_request_secrets({**kwargs, "headers": headers})])

    def _request(
        self, method: str, path: str, *, limiters: Iterable[RateLimiter] | None = None, **kwargs: Any
    ) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        limiters = self.limiters if limiters is None else list(limiters)
        extra_headers = kwargs.pop("headers", None) or {}
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            ratelimit.checkpoint()  # a run that lost its claim stops before sending more
            for limiter in limiters:
                limiter.acquire()
            self._last_auth_headers = self.auth_headers()
            kwargs["headers"] = {**self._last_auth_headers, **extra_headers}
            error = self._send(method, path, kwargs)
            if isinstance(error, requests.Response):
                return error
            if (
                error.category is ErrorCategory.AUTHENTICATION_EXPIRED
                and self.refresh_auth is not None
                and not refreshed
            ):
                refreshed = True
                if self.refresh_auth():
                    continue
            if error.category not in RETRY_NOW or attempt >= self.max_attempts:
                raise error
            if getattr(error, "answer_lost", False) and not self.replay_safe(method, path):
                error.message += " (the request may have been carried out; not resent, to create nothing twice)"
                error.args = (error.message,)
                raise error
            wait = error.retry_after if error.retry_after is not None else self._backoff(attempt)
            if error.category is ErrorCategory.RATE_LIMITED:
                for limiter in limiters:
                    limiter.penalise(wait)
            log.info("retrying %s %s in %.2fs after %s", method, self.redact(path, kwargs), wait, error.category.name)
            self._count(retry=True)
            self.sleep(wait)

    def _send(self, method: str, path: str, kwargs: dict) -> requests.Response | ConnectorError:
        try:
            response = self.current_session().request(method, self.url(path), **kwargs)
        except requests.Timeout as exc:
            self._count()
            error = ConnectorError(ErrorCategory.APP_UNAVAILABLE, f"{method} {path} timed out")
            error.answer_lost = not isinstance(exc, requests.exceptions.ConnectTimeout)  # sent, then no answer
            return error
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            # ChunkedEncodingError: the connection dropped after the headers, mid-body.
            self._count()
            error = ConnectorError(
                ErrorCategory.APP_UNAVAILABLE, f"{method} {path} failed: connection error ({type(exc).__name__})"
            )
            # Refused before anything was sent: safe to resend; anything else may have been served.
            error.answer_lost = "NewConnectionError" not in repr(exc)
            return error
        except requests.RequestException as exc:
            self._count()
            return ConnectorError(ErrorCategory.UNKNOWN, f"{method} {path} failed: {type(exc).__name__}: {exc}")
        self._count()
        if self.on_response is not None:
            self.on_response(response)
        if response.status_code < 400:
            return response
        return self.classify(response)

    def _backoff(self, attempt: int) -> float:
        return min(self.backoff_cap, self.backoff_base * (2 ** (attempt - 1)))

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request and return its parsed JSON body (None for an empty body)."""
        return self.parsed(method, path, lambda: self.request(method, path, **kwargs))

    def parsed(self, method: str, path: str, send: Callable[[], requests.Response]) -> Any:
        """`send()`'s JSON body. An unreadable answer (an HTML page, JSON cut short) to a
        request that is safe to resend is fetched again with backoff, like a 5xx; to one that
        may have created something, it is a MALFORMED_RESPONSE error at once."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return parse_json(send())
            except ConnectorError as exc:
                if (exc.category is not ErrorCategory.MALFORMED_RESPONSE or attempt >= self.max_attempts
                        or not self.replay_safe(method, path)):
                    raise
                wait = self._backoff(attempt)
                log.info("refetching %s %s in %.2fs after an unreadable answer", method, self.redact(path), wait)
                self._count(retry=True)
                self.sleep(wait)
