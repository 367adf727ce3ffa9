"""Rate limits shared by every worker and process, and what a run is told while it waits.

With REDIS_URL set, each limiter is a sliding window kept in Redis and taken in one Lua script
(the window's log in a sorted set, timed by Redis's own clock so workers on several machines
agree, plus a "blocked until" key set after the vendor answered 429): any number of workers
together never send more than the vendor's limit in any window. Without Redis (the embedded
SQLite default, one machine) each process keeps its own window (http.RateLimiter).

The `limits` library was considered: its Redis moving window answers "allowed or not" but
neither how long to wait nor a shared penalty after a 429, and it times entries with each
client's clock; the script below is the whole of what is needed.

A run sets `run_hooks` (a contextvar) so this layer can show "waiting for API budget" on its
SyncRun and stop a run that lost its claim, with no reference to the engine.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class RunHooks:
    """What the current run wants to hear from the HTTP layer."""

    check: Callable[[], None] = field(default=lambda: None)  # raises when the run must stop
    on_wait: Callable[[str, float], None] = field(default=lambda *_: None)  # note "" = done


run_hooks: ContextVar[RunHooks | None] = ContextVar("run_hooks", default=None)


def checkpoint() -> None:
    """Before a request: let the run stop here if it must (its lease was lost)."""
    hooks = run_hooks.get()
    if hooks is not None:
        hooks.check()


def notify_wait(note: str, seconds: float) -> None:
    """Tell the current run it waits `seconds` for `note` (empty note: the wait is over)."""
    hooks = run_hooks.get()
    if hooks is not None:
        try:
            hooks.on_wait(note, seconds)
        except Exception:  # noqa: BLE001 - showing a wait must never fail a request
            log.warning("could not report a wait", exc_info=True)


def describe(key: str, max_calls: int, period: float) -> str:
    what = "search limit" if key.endswith(":search") else "rate limit"
    return f"Waiting for API budget ({what}: {max_calls} requests per {period:g} s)"


# KEYS[1]: the window's sorted set, KEYS[2]: "blocked until" (microseconds), KEYS[3]: a sequence.
# ARGV: max calls, period in microseconds, mode ("take" or "block"), block length in microseconds.
# Returns 0 when a slot was taken, else the microseconds to wait before trying again.
_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local period = tonumber(ARGV[2])
local ttl_ms = math.ceil(period / 1000) + 1000
if ARGV[3] == 'block' then
  local till = now + tonumber(ARGV[4])
  local current = tonumber(redis.call('GET', KEYS[2]) or '0')
  if till > current then
    redis.call('SET', KEYS[2], string.format('%d', till), 'PX', math.ceil(tonumber(ARGV[4]) / 1000) + 1)
  end
  return 0
end
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')
if blocked > now then
  return blocked - now
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - period)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  local seq = redis.call('INCR', KEYS[3])
  redis.call('PEXPIRE', KEYS[3], ttl_ms)
  redis.call('ZADD', KEYS[1], now, string.format('%d', now) .. ':' .. seq)
  redis.call('PEXPIRE', KEYS[1], ttl_ms)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + period - now + 1)
"""


class RedisWindow:
    """At most `max_calls` acquisitions in any `period` seconds, across every process that
    shares the Redis server; the same interface as http.RateLimiter."""

    def __init__(self, client, key: str, max_calls: int, period: float, *, sleep=time.sleep,
                 prefix: str | None = None) -> None:
        self.key = key
        self.max_calls = max_calls
        self.period = period
        self._client = client
        self._script = client.register_script(_SCRIPT)
        base = f"{prefix or namespace()}:rl:{key}"
        self._keys = [f"{base}:{max_calls}:{period:g}", f"{base}:blocked", f"{base}:{max_calls}:{period:g}:seq"]
        self._sleep = sleep

    def _call(self, mode: str = "take", block_us: int = 0) -> float:
        wait_us = self._script(keys=self._keys, args=[self.max_calls, int(self.period * 1_000_000), mode, block_us])
        return int(wait_us) / 1_000_000

    def try_acquire(self) -> float:
        """Take a slot if one is free (0.0), else the seconds until one may be."""
        return self._call()

    def acquire(self) -> float:
        """Take a slot, waiting for one; returns the seconds waited."""
        waited = 0.0
        try:
            while (wait := self._call()) > 0:
                notify_wait(describe(self.key, self.max_calls, self.period), wait)
                self._sleep(wait)
                waited += wait
        finally:
            if waited:
                notify_wait("", 0.0)
        return waited

    def penalise(self, seconds: float) -> None:
        """Block every process's acquisitions for `seconds` (the vendor said we went too fast)."""
        if seconds > 0:
            self._call("block", int(seconds * 1_000_000))


_redis_clients: dict[str, object] = {}
_redis_lock = threading.Lock()


def redis_client(url: str):
    """One client (and connection pool) per Redis URL and process."""
    import redis

    with _redis_lock:
        client = _redis_clients.get(url)
        if client is None:
            client = _redis_clients[url] = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        return client


def redis_url() -> str:
    """The Redis that limits are shared through ("" when there is none: per-process limits)."""
    from django.conf import settings

    return getattr(settings, "RATE_LIMIT_REDIS_URL", None) or getattr(settings, "REDIS_URL", "") or ""


def namespace() -> str:
    """The prefix of this installation's keys (the test settings give each test process its own)."""
    from django.conf import settings

    return getattr(settings, "RATE_LIMIT_NAMESPACE", "syncsite")


# --- daily allocations -------------------------------------------------------------------------
# An app's own count of the calls made today (Salesforce's Sforce-Limit-Info, HubSpot's
# X-HubSpot-RateLimit-Daily*) is the truth; between two answers every process adds the calls it
# sends, so several workers stop together at the connection's share instead of each thinking
# it has the whole allocation.
_TAKE = """
local used = tonumber(redis.call('HGET', KEYS[1], 'used') or '')
local allowed = tonumber(redis.call('HGET', KEYS[1], 'allowed') or '')
if used and allowed and allowed > 0 and used / allowed >= tonumber(ARGV[1]) then
  return {0, used, allowed}
end
if used then
  used = redis.call('HINCRBY', KEYS[1], 'used', 1) - 1
end
return {1, used or -1, allowed or -1}
"""
USAGE_KEPT = 2 * 24 * 3600  # a stale count is forgotten after two days: the next answer sets it


class LocalUsage:
    """A daily usage count kept in this process."""

    def __init__(self) -> None:
        self.used: int | None = None
        self.allowed: int | None = None
        self._lock = threading.Lock()

    def get(self) -> tuple[int | None, int | None]:
        return self.used, self.allowed

    def set(self, name: str, value: int | None) -> None:
        setattr(self, name, value)

    def take(self, share: float) -> tuple[bool, int | None, int | None]:
        """Count one call unless usage reached `share`; (sent, used before, allowed)."""
        with self._lock:
            used, allowed = self.used, self.allowed
            if used is not None and allowed and used / allowed >= share:
                return False, used, allowed
            if used is not None:
                self.used = used + 1
            return True, used, allowed


class RedisUsage:
    """A daily usage count shared by every process through Redis."""

    def __init__(self, client, key: str, prefix: str | None = None) -> None:
        self._client = client
        self._key = f"{prefix or usage_namespace()}:usage:{key}"
        self._take = client.register_script(_TAKE)

    def get(self) -> tuple[int | None, int | None]:
        used, allowed = self._client.hmget(self._key, ["used", "allowed"])
        return (int(used) if used is not None else None), (int(allowed) if allowed is not None else None)

    def set(self, name: str, value: int | None) -> None:
        if value is None:
            self._client.hdel(self._key, name)
        else:
            pipe = self._client.pipeline()
            pipe.hset(self._key, name, int(value))
            pipe.expire(self._key, USAGE_KEPT)
            pipe.execute()

    def take(self, share: float) -> tuple[bool, int | None, int | None]:
        sent, used, allowed = self._take(keys=[self._key], args=[repr(float(share))])
        return bool(sent), (None if used < 0 else int(used)), (None if allowed < 0 else int(allowed))


def usage_store(key: str) -> LocalUsage | RedisUsage:
    """Where the daily usage of `key` (an org, a HubSpot account) is counted: Redis when
    configured, else the client itself."""
    url = redis_url()
    # Without Redis each client keeps its own count, as before: the app's answers correct it.
    return RedisUsage(redis_client(url), key) if url else LocalUsage()


class DailyBudget:
    """Refuses to send once an account's calls today reach `share` of its daily allocation
    (a limiter: consulted before every attempt, never waiting: the window moves in hours)."""

    def __init__(self, key: str, share: float = 1.0, *, account: str = "the account's") -> None:
        self.share = share
        self.account = account
        self.usage = usage_store(key) if key else LocalUsage()  # no key: this client alone

    def observe(self, used: int, allowed: int) -> None:
        """The app's own count, from a response."""
        self.usage.set("allowed", allowed)
        self.usage.set("used", used)

    def acquire(self) -> float:
        from connectors.errors import ConnectorError, ErrorCategory

        sent, used, allowed = self.usage.take(self.share)
        if not sent:
            raise ConnectorError(
                ErrorCategory.API_LIMIT_REACHED,
                f"Stopped before sending: {used} of {self.account} {allowed} daily API calls are used, "
                f"which reaches the {self.share:.0%} share allocated to this connection.",
                vendor_code="API_BUDGET",
            )
        return 0.0

    def penalise(self, seconds: float) -> None:  # noqa: ARG002 (the limiter interface)
        return None


def usage_namespace() -> str:
    """The prefix of the daily usage keys (the tests give each test its own)."""
    return namespace()
