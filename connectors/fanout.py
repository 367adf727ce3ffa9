"""Sending a connector's independent calls side by side.

What the engine hands a connector at once (the emails of a page to look up, the ids of a page to
read, a page's updates) becomes several calls of the app's batch size (100 inputs per HubSpot
batch call, as many emails as one SOQL URI holds, 200 records per sObject Collections call),
none of which depends on another. `in_parallel` sends them on up to `workers` threads and returns
their results in order, so that nothing else changes:

- the same calls, each through the client's shared rate limiters, retries and fault handling;
- the first error in order is raised, as sending them in turn would have raised it, and no call
  starts once one has failed (those already under way finish: they are sent);
- each helper thread sends through a session of its own (`HttpClient.own_session`), runs in the
  caller's context (the run's hooks: a lost lease stops it too) and touches no database: its
  `readahead.in_consumer` calls run on the caller's thread before `in_parallel` returns.

The caller's thread sends calls too, so `workers` threads work in all.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, ExitStack
from typing import Any, TypeVar

from connectors.readahead import deliver, helper_thread

T = TypeVar("T")
PARALLEL_CALLS = 3  # calls one connector sends at once for one lookup, read or write


def threads_allowed() -> bool:
    """Whether connectors may call an app from several threads by default (the CONNECTOR_THREADS
    setting, on unless set; the test settings turn it off where Django's live server shares one
    SQLite connection between its request threads). A connection's own options still decide."""
    try:
        from django.conf import settings

        return bool(getattr(settings, "CONNECTOR_THREADS", True))
    except ImportError:  # connectors used without Django
        return True


def parallel_calls(options) -> int:
    """The calls one lookup, read or write sends at once under a connection's options."""
    return int(options.get("parallel_calls", PARALLEL_CALLS if threads_allowed() else 1))


def in_parallel(calls: Sequence[Callable[[], T]], *, workers: int = PARALLEL_CALLS,
                setup: Callable[[], AbstractContextManager] | None = None) -> list[T]:
    """`[call() for call in calls]`, with up to `workers` calls under way at once."""
    batch = run_all(calls, workers=workers, setup=setup)
    if batch.errors:
        raise batch.errors[min(batch.errors)]
    return batch.results


def run_all(calls: Sequence[Callable[[], Any]], *, workers: int = PARALLEL_CALLS,
            setup: Callable[[], AbstractContextManager] | None = None) -> _Batch:
    """The calls sent as `in_parallel` sends them, with each one's outcome: `results[i]` for
    those in `done`, `errors[i]` for those that failed, neither for those never started."""
    batch = _Batch(calls)
    if workers <= 1 or len(calls) <= 1:
        batch.work()
        return batch
    pending: list = []
    helpers = [threading.Thread(target=_help, args=(batch, contextvars.copy_context(), setup, pending),
                                name="connector call", daemon=True)
               for _ in range(min(workers, len(calls)) - 1)]
    for helper in helpers:
        helper.start()
    try:
        batch.work()
    finally:
        for helper in helpers:
            helper.join()
        deliver(pending)
    return batch


def _help(batch: _Batch, context: contextvars.Context, setup, pending: list) -> None:
    with ExitStack() as stack:
        stack.enter_context(helper_thread(pending))
        try:
            if setup is not None:
                stack.enter_context(setup())
        except BaseException as exc:  # noqa: BLE001 - the caller raises it
            batch.fail(len(batch.calls), exc)
            return
        context.run(batch.work)


class _Batch:
    """The calls, the next one to start, and each one's result or error."""

    def __init__(self, calls: Sequence[Callable[[], Any]]) -> None:
        self.calls = calls
        self.results: list[Any] = [None] * len(calls)
        self.errors: dict[int, BaseException] = {}
        self.done: set[int] = set()
        self._next = 0
        self._lock = threading.Lock()

    def _take(self) -> int | None:
        with self._lock:
            if self.errors or self._next >= len(self.calls):
                return None
            self._next += 1
            return self._next - 1

    def fail(self, index: int, exc: BaseException) -> None:
        with self._lock:
            self.errors[index] = exc

    def work(self) -> None:
        while (index := self._take()) is not None:
            try:
                self.results[index] = self.calls[index]()
            except BaseException as exc:  # noqa: BLE001 - raised in order by in_parallel
                self.fail(index, exc)
            else:
                self.done.add(index)
