"""Rate limits shared across processes through Redis (connectors.ratelimit)."""

import os
import uuid

import pytest

from connectors import ratelimit
from connectors.http import RateLimiter, shared_limiter
from connectors.tests.hammer import ArrivalCounter, hammer, max_in_window

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_client():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=3, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get("REDIS_URL"):
            raise  # CI sets REDIS_URL for the PostgreSQL pass: there Redis must be there
        pytest.skip(f"Redis at {REDIS_URL} is unreachable ({exc}); set REDIS_URL to run the shared limiter tests")
    return client


@pytest.fixture
def prefix(redis_client):
    name = f"syncsite-test-{uuid.uuid4().hex}"
    yield name
    for key in redis_client.scan_iter(f"{name}:*"):
        redis_client.delete(key)


def test_two_processes_never_send_more_than_the_limit_in_any_window(redis_client, prefix):
    # The vendor allows 8 per second; the client's window is wider (as HubSpot's client makes it)
    # so that a request delayed between its slot and its arrival cannot crowd a window.
    counter = ArrivalCounter()
    try:
        hammer(counter.url, REDIS_URL, prefix, "hubspot:test:ten", 8, 1.3, count=12)
    finally:
        counter.close()
    assert len(counter.arrivals) == 24
    assert max_in_window(counter.arrivals, 1.0) <= 8


def test_a_window_refuses_the_call_past_its_limit_and_says_how_long_to_wait(redis_client, prefix):
    window = ratelimit.RedisWindow(redis_client, "k", 3, 60.0, prefix=prefix)
    assert [window.try_acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = window.try_acquire()
    assert 59.0 < wait <= 60.0
    other = ratelimit.RedisWindow(redis_client, "k", 3, 60.0, prefix=prefix)  # another worker's
    assert other.try_acquire() > 59.0


def test_a_429_blocks_every_process_sharing_the_window(redis_client, prefix):
    window = ratelimit.RedisWindow(redis_client, "k", 100, 10.0, prefix=prefix)
    other = ratelimit.RedisWindow(redis_client, "k", 100, 10.0, prefix=prefix)
    assert window.try_acquire() == 0.0
    window.penalise(30.0)
    assert 29.0 < other.try_acquire() <= 30.0


def test_a_wait_is_shown_to_the_run_and_cleared_after(redis_client, prefix):
    seen = []
    slept = []
    window = ratelimit.RedisWindow(redis_client, "k", 1, 0.2, prefix=prefix, sleep=slept.append)
    window.acquire()
    token = ratelimit.run_hooks.set(ratelimit.RunHooks(on_wait=lambda note, seconds: seen.append(note)))
    try:
        import time

        window._sleep = lambda s: (slept.append(s), time.sleep(s))
        window.acquire()
    finally:
        ratelimit.run_hooks.reset(token)
    assert seen[0].startswith("Waiting for API budget (rate limit: 1 requests per 0.2 s)")
    assert seen[-1] == "" and slept


def test_limiters_are_shared_through_redis_only_when_redis_is_configured(settings, redis_client):
    settings.REDIS_URL = ""
    assert isinstance(shared_limiter("t:one", 5, 1.0), RateLimiter)
    settings.REDIS_URL = REDIS_URL
    assert isinstance(shared_limiter("t:one", 5, 1.0), ratelimit.RedisWindow)


def test_the_per_process_limiter_shows_its_waits_too():
    now = [0.0]
    seen = []
    limiter = RateLimiter(1, 10.0, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    limiter.key = "hubspot:x:search"
    limiter.acquire()
    token = ratelimit.run_hooks.set(ratelimit.RunHooks(on_wait=lambda note, seconds: seen.append((note, seconds))))
    try:
        assert limiter.acquire() > 9.9
    finally:
        ratelimit.run_hooks.reset(token)
    assert seen[0][0] == "Waiting for API budget (search limit: 1 requests per 10 s)" and seen[0][1] > 9.9
    assert seen[-1] == ("", 0.0)
