"""Reading the next page while the engine works on the current one.

The engine takes a connector's pages one at a time and, between two, computes and talks to the
other app; an app whose rate limit bounds a sync sits idle meanwhile. `read_ahead(pages)` reads
page N+1 in a thread of its own while the consumer works on page N, so that its calls overlap
the consumer's work. It stays one page ahead, never more, and changes nothing else:

- the same pages in the same order, and the same calls (each still through the client's shared
  rate limiters, retries and fault handling, which are thread-safe);
- an error reading a page is raised where the consumer asks for that page, as before;
- the thread ends with the iterator: when it is exhausted, fails, or is closed (a consumer that
  stops early, or drops it), the thread gives up at its next request (`ratelimit.checkpoint`),
  ends, and is joined; the pages it read in vain are simply dropped;
- the thread runs in a copy of the consumer's context (the run's hooks: a run that lost its
  claim stops the read-ahead too), with an HTTP session of its own (`requests.Session` is not
  thread-safe), and touches no database: what a connector must report to the Django side
  (refreshed credentials, API usage) it hands to the consumer through `in_consumer`, which runs
  on the consumer's thread when it takes its next page (or when the iterator ends).

A wait the thread has to make for API budget is shown on the run (through the consumer's hooks)
only while the consumer itself waits for that page: until then the run is busy, not waiting.
"""

from __future__ import annotations

import contextvars
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from typing import Any, Generic, TypeVar

from connectors import ratelimit

log = logging.getLogger(__name__)
T = TypeVar("T")
_END = object()  # the pages are exhausted
_STOP = object()  # the consumer is gone: the thread ends
POLL_SECONDS = 0.5  # how often a consumer waiting for a page looks at the thread's wait note

_worker = threading.local()  # .pending: where this thread's in_consumer calls wait (a helper thread's)


class Stopped(Exception):
    """The consumer closed the iterator: the read-ahead thread stops before its next request."""


def in_consumer(callback: Callable[..., Any], *args: Any) -> None:
    """Call `callback(*args)` now, or, on a read-ahead thread, on its consumer's thread when the
    consumer takes its next page: anything that touches the database belongs there."""
    pending = getattr(_worker, "pending", None)
    if pending is None:
        callback(*args)
    else:
        pending.append((callback, args))


def deliver(pending: list[tuple[Callable[..., Any], tuple]]) -> None:
    """Run, on this thread, the in_consumer calls a helper thread left (or pass them on to this
    thread's own consumer when it is a helper too: a read-ahead of a read-ahead)."""
    while pending:
        callback, args = pending.pop(0)
        in_consumer(callback, *args)


def helper_thread(pending: list) -> AbstractContextManager:
    """Mark the current thread as a helper whose in_consumer calls wait in `pending`, and close
    its database connections (if anything opened one) when it is done."""
    return _Helper(pending)


class _Helper:
    def __init__(self, pending: list) -> None:
        self.pending = pending

    def __enter__(self) -> None:
        _worker.pending = self.pending

    def __exit__(self, *exc) -> None:
        _worker.pending = None
        close_database_connections()


def read_ahead(pages: Iterator[T], *, setup: Callable[[], AbstractContextManager] | None = None,
               name: str = "read-ahead") -> Iterator[T]:
    """`pages`, each read in a background thread while the consumer works on the one before.

    `setup()`, if given, is entered on the thread before its first read and left after its
    last (e.g. an HTTP session of its own)."""
    reader = ReadAhead(pages, setup=setup, name=name)
    try:
        yield from reader
    finally:
        reader.close()


class ReadAhead(Generic[T]):
    """The iterator behind `read_ahead`; see the module's docstring."""

    def __init__(self, pages: Iterator[T], *, setup: Callable[[], AbstractContextManager] | None = None,
                 name: str = "read-ahead") -> None:
        self._pages = pages
        self._setup = setup
        self._name = name
        self._asks: queue.Queue = queue.Queue()  # the consumer's context per page asked for, or _STOP
        self._answers: queue.Queue = queue.Queue(maxsize=1)  # (page | _END | exception, is_error)
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._finished = False
        self.pending: list[tuple[Callable[..., Any], tuple]] = []  # in_consumer calls from the thread
        self.wait_note: tuple[str, float] = ("", 0.0)  # the thread's current wait for API budget

    def __iter__(self) -> ReadAhead[T]:
        return self

    def __next__(self) -> T:
        if self._finished:
            raise StopIteration
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name=self._name, daemon=True)
            self._thread.start()
            self._ask()  # the first page: nothing to overlap it with yet
        answer, failed = self._take()
        self._deliver()
        if failed or answer is _END:
            self.close()
            if failed:
                raise answer
            raise StopIteration
        self._ask()  # the next page, read while the consumer works on this one
        return answer

    def close(self) -> None:
        """Stop the thread (at its next request), wait for it to end, and deliver what it left."""
        self._finished = True
        if self._thread is None:
            self._pages_closed()
        else:
            self._stopped.set()
            self._asks.put(_STOP)
            if self._thread is not threading.current_thread():
                self._thread.join()
        self._deliver()

    # --- the consumer's side -------------------------------------------------------------
    def _ask(self) -> None:
        self._asks.put(contextvars.copy_context())

    def _take(self) -> tuple[Any, bool]:
        """The next answer; while waiting for it, the thread's wait for API budget is the run's."""
        shown = ""
        try:
            while True:
                try:
                    return self._answers.get(timeout=POLL_SECONDS)
                except queue.Empty:
                    note, seconds = self.wait_note
                    if note != shown:
                        ratelimit.notify_wait(note, seconds)
                        shown = note
        finally:
            if shown:
                ratelimit.notify_wait("", 0.0)

    def _deliver(self) -> None:
        deliver(self.pending)

    # --- the thread's side ---------------------------------------------------------------
    def _work(self) -> None:
        try:
            with ExitStack() as stack:
                stack.enter_context(helper_thread(self.pending))
                stack.callback(self._pages_closed)  # still a helper: what closing reports waits too
                if self._setup is not None:
                    stack.enter_context(self._setup())
                while (context := self._asks.get()) is not _STOP:
                    answer = context.run(self._read)
                    self._answers.put(answer)
                    if answer[1] or answer[0] is _END:
                        return
        except BaseException as exc:  # noqa: BLE001 - a setup that failed is the next page's error
            if not self._stopped.is_set():
                self._answers.put((exc, True))

    def _read(self) -> tuple[Any, bool]:
        """One page, in the consumer's context, with hooks that stop it once the consumer is gone."""
        outer = ratelimit.run_hooks.get() or ratelimit.RunHooks()
        ratelimit.run_hooks.set(ratelimit.RunHooks(check=lambda: self._check(outer), on_wait=self._note_wait))
        try:
            return next(self._pages, _END), False
        except BaseException as exc:  # noqa: BLE001 - raised on the consumer's thread instead
            return exc, True

    def _check(self, outer: ratelimit.RunHooks) -> None:
        if self._stopped.is_set():
            raise Stopped("The consumer stopped reading these pages.")
        outer.check()

    def _note_wait(self, note: str, seconds: float) -> None:
        self.wait_note = (note, seconds)

    def _pages_closed(self) -> None:
        close = getattr(self._pages, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # noqa: BLE001 - a generator stopped mid-page may complain; it is done
                log.debug("closing the pages of %s failed", self._name, exc_info=True)


def close_database_connections() -> None:
    """Close whatever database connection this thread opened (Django's are per thread)."""
    try:
        from django.db import connections
    except ImportError:  # connectors used without Django
        return
    connections.close_all()
