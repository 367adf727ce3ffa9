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


def test_two_workers_stop_together_at_the_daily_share(settings, redis_client):
    from connectors.errors import ConnectorError, ErrorCategory
    from connectors.salesforce.client import ApiBudget

    settings.REDIS_URL = REDIS_URL
    key = f"salesforce:test:{uuid.uuid4().hex}"
    one, two = ApiBudget(0.75, key=key), ApiBudget(0.75, key=key)
    one.used, one.allowed = 73, 100  # the org's own count, from one worker's last answer
    assert two.used == 73 and two.allowed == 100
    one.acquire()  # the 74th call
    two.acquire()  # the 75th: the share is reached for both
    for budget in (one, two):
        with pytest.raises(ConnectorError) as info:
            budget.acquire()
        assert info.value.category is ErrorCategory.API_LIMIT_REACHED
        assert "75 of the org's 100 daily API calls" in info.value.message


def test_hubspots_daily_allocation_is_counted_across_workers(settings, redis_client):
    from connectors.errors import ConnectorError

    settings.REDIS_URL = REDIS_URL
    key = f"hubspot:test:{uuid.uuid4().hex}:daily"
    one, two = ratelimit.DailyBudget(key, account="the HubSpot account's"), ratelimit.DailyBudget(key)
    one.observe(used=998, allowed=1000)
    one.acquire()
    two.acquire()
    with pytest.raises(ConnectorError, match="1000 of the HubSpot account's 1000 daily API calls"):
        one.acquire()


def test_without_redis_a_daily_budget_counts_its_own_calls():
    from connectors.errors import ConnectorError

    budget = ratelimit.DailyBudget("hubspot:local:daily")
    budget.acquire()  # nothing known yet: no reason to stop
    budget.observe(used=9, allowed=10)
    budget.acquire()
    with pytest.raises(ConnectorError):
        budget.acquire()
