"""connectors.fanout: a connector's independent calls sent side by side, with the results, the
errors and the stops of sending them in turn."""

from __future__ import annotations

import threading

import pytest

from connectors import ratelimit
from connectors.fanout import in_parallel, run_all
from connectors.readahead import in_consumer


def test_it_returns_each_calls_result_in_order_with_several_under_way_at_once():
    together = threading.Barrier(3, timeout=5)  # only passes if three calls run at once

    def call(n):
        together.wait()
        return n * 10

    assert in_parallel([lambda n=n: call(n) for n in range(3)], workers=3) == [0, 10, 20]


def test_the_first_error_in_order_is_raised_and_no_call_starts_after_one_failed():
    started = []
    second_failed = threading.Event()

    def call(n):
        started.append(n)
        if n == 0:
            second_failed.wait(5)
            raise ValueError("call 0 failed")
        if n == 1:
            second_failed.set()
            raise KeyError("call 1 failed")
        return n

    with pytest.raises(ValueError, match="call 0 failed"):
        in_parallel([lambda n=n: call(n) for n in range(8)], workers=2)
    assert sorted(started) == [0, 1]


def test_it_reports_which_calls_were_done_failed_or_never_started():
    def call(n):
        if n == 1:
            raise RuntimeError("batch 1 failed")
        return n

    batch = run_all([lambda n=n: call(n) for n in range(5)], workers=1)
    assert batch.done == {0} and set(batch.errors) == {1}
    assert batch.results[0] == 0


def test_one_worker_sends_the_calls_in_turn_on_the_callers_thread():
    threads = []
    assert in_parallel([lambda: threads.append(threading.current_thread()) or 1] * 3, workers=1) == [1, 1, 1]
    assert set(threads) == {threading.current_thread()}


def test_what_a_helper_thread_reports_for_the_database_runs_on_the_callers_thread():
    reported = []
    together = threading.Barrier(2, timeout=5)

    def call(n):
        together.wait()
        in_consumer(lambda: reported.append(threading.current_thread()))
        return n

    assert in_parallel([lambda n=n: call(n) for n in range(2)], workers=2) == [0, 1]
    assert reported and set(reported) == {threading.current_thread()}


def test_the_runs_hooks_apply_on_the_helper_threads():
    class Lost(Exception):
        pass

    def check():
        if threading.current_thread() is not threading.main_thread():
            raise Lost("the run lost its claim")

    token = ratelimit.run_hooks.set(ratelimit.RunHooks(check=check))
    together = threading.Barrier(2, timeout=5)
    try:
        def call(n):
            if n < 2:
                together.wait()
            ratelimit.checkpoint()  # as the HTTP layer does before each request
            return n

        with pytest.raises(Lost):
            in_parallel([lambda n=n: call(n) for n in range(4)], workers=2)
    finally:
        ratelimit.run_hooks.reset(token)
