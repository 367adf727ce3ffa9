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

`interleave(sources, weight)` takes pages from several sources (the engine's two sides) on one
consumer thread: it starts every read-ahead at once, so each source reads its next page while the
consumer works on the other's, and takes them in an order fixed by the pages alone, never by
which answer came first: the source that has given the least weight so far (records, for the
engine), the first listed on a tie; without `weight`, in turn. So the same pages are taken in the
same order on every run and with threads on or off (a dry-run preview and its run agree), and
while the consumer waits for the page whose turn it is, the other sources keep reading ahead.
"""

from __future__ import annotations

import contextvars
import logging
import queue
import threading
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack
from typing import Any, Generic, TypeVar

from connectors import ratelimit

log = logging.getLogger(__name__)
T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
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
               name: str = "read-ahead") -> AheadPages[T]:
    """`pages`, each read in a background thread while the consumer works on the one before.

    `setup()`, if given, is entered on the thread before its first read and left after its
    last (e.g. an HTTP session of its own)."""
    return AheadPages(ReadAhead(pages, setup=setup, name=name))


class AheadPages(Generic[T]):
    """What `read_ahead` gives: an iterator over a ReadAhead that closes it when closed or
    dropped (the thread holds the ReadAhead, not this, so dropping this ends the thread), and
    that `interleave` can start early and ask whether its next page is here."""

    def __init__(self, reader: ReadAhead[T]) -> None:
        self.reader = reader

    def __iter__(self) -> AheadPages[T]:
        return self

    def __next__(self) -> T:
        return next(self.reader)

    def close(self) -> None:
        self.reader.close()

    def __del__(self) -> None:
        try:
            self.reader.close()
        except Exception:  # noqa: BLE001 - at interpreter exit the thread machinery may be gone
            log.debug("closing %s on collection failed", self.reader._name, exc_info=True)


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
        self.arrived: threading.Event | None = None  # set whenever an answer is put (interleave's wait)

    def __iter__(self) -> ReadAhead[T]:
        return self

    def __next__(self) -> T:
        if self._finished:
            raise StopIteration
        self.start()
        answer, failed = self._take()
        self._deliver()
        if failed or answer is _END:
            self.close()
            if failed:
                raise answer
            raise StopIteration
        self._ask()  # the next page, read while the consumer works on this one
        return answer

    def start(self) -> None:
        """Start reading the first page now, if not begun (the first `next` otherwise does)."""
        if self._thread is None and not self._finished:
            self._thread = threading.Thread(target=self._work, name=self._name, daemon=True)
            self._thread.start()
            self._ask()  # the first page: nothing to overlap it with yet

    @property
    def ready(self) -> bool:
        """Whether `next` would answer at once: the next page (or the end, or its error) is here."""
        return self._finished or not self._answers.empty()

    def close(self) -> None:
        """Stop the thread (at its next request), wait for it to end, and deliver what it left."""
        if self._finished and (self._thread is None or not self._thread.is_alive()):
            self._deliver()
            return
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
        def attempt() -> tuple[bool, Any]:
            try:
                return True, self._answers.get(timeout=POLL_SECONDS)
            except queue.Empty:
                return False, None

        return waiting(attempt, lambda: self.wait_note)

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
                    self._answer(answer)
                    if answer[1] or answer[0] is _END:
                        return
        except BaseException as exc:  # noqa: BLE001 - a setup that failed is the next page's error
            if not self._stopped.is_set():
                self._answer((exc, True))

    def _answer(self, answer: tuple[Any, bool]) -> None:
        self._answers.put(answer)
        arrived = self.arrived
        if arrived is not None:
            arrived.set()

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


def interleave(sources: Mapping[K, Iterator[T]], weight: Callable[[T], int] | None = None) -> Iterator[tuple[K, T]]:
    """(key, item) from every source until all are exhausted, see the module's docstring. An
    error reading one source is raised when that source's item is taken; stopping, or an
    error, closes every source (their threads end)."""
    mixer = Interleave(sources, weight)
    try:
        yield from mixer
    finally:
        mixer.close()


class Interleave(Generic[K, T]):
    """The iterator behind `interleave`: the source that has given the least weight so far (in
    turn without a weight), once its next item is ready."""

    def __init__(self, sources: Mapping[K, Iterator[T]], weight: Callable[[T], int] | None = None) -> None:
        self.sources = dict(sources)
        self.weight = weight
        self.given = dict.fromkeys(self.sources, 0)  # weight taken from each source so far
        self.turn = list(self.sources)  # sources not exhausted; without a weight the one taken goes last
        self.arrived = threading.Event()
        for source in self.sources.values():
            reader = _reader_of(source)
            if reader is not None:
                reader.arrived = self.arrived
                reader.start()  # every source reads its first page from now on

    def __iter__(self) -> Interleave[K, T]:
        return self

    def __next__(self) -> tuple[K, T]:
        while self.turn:
            key = self._ready_key()
            self.turn.remove(key)
            try:
                item = next(self.sources[key])
            except StopIteration:
                continue
            if self.weight is None:
                self.turn.append(key)
            else:
                self.turn.append(key)
                self.turn.sort(key=list(self.sources).index)  # a tie goes to the source listed first
                self.given[key] += self.weight(item)
            return key, item
        raise StopIteration

    def close(self) -> None:
        self.turn = []
        for source in self.sources.values():
            close = getattr(source, "close", None)
            if close is not None:
                close()

    def _ready_key(self) -> K:
        """The source whose turn it is, once its next item is there (the others read ahead)."""
        key = self.turn[0] if self.weight is None else min(self.turn, key=lambda k: self.given[k])
        reader = _reader_of(self.sources[key])
        while reader is not None:  # a source that does not read ahead is read when taken
            self.arrived.clear()  # before looking: an answer put after the look sets it again
            if reader.ready:
                break
            self._wait()
        return key

    def _wait(self) -> None:
        """Until a source's answer arrives; meanwhile a source's wait for API budget is the run's."""
        readers = [r for r in map(_reader_of, self.sources.values()) if r is not None]
        waiting(lambda: (self.arrived.wait(POLL_SECONDS), None),
                lambda: next((r.wait_note for r in readers if r.wait_note[0]), ("", 0.0)))


def waiting(attempt: Callable[[], tuple[bool, Any]], note: Callable[[], tuple[str, float]]) -> Any:
    """`attempt()` (each try blocks up to POLL_SECONDS) until it answers (True, value); meanwhile
    the wait for API budget `note()` tells of is shown as the run's, and cleared after."""
    shown = ""
    try:
        while True:
            done, value = attempt()
            if done:
                return value
            current, seconds = note()
            if current != shown:
                ratelimit.notify_wait(current, seconds)
                shown = current
    finally:
        if shown:
            ratelimit.notify_wait("", 0.0)


def _reader_of(source: Any) -> ReadAhead | None:
    if isinstance(source, AheadPages):
        return source.reader
    return source if isinstance(source, ReadAhead) else None


def close_database_connections() -> None:
    """Close whatever database connection this thread opened (Django's are per thread)."""
    try:
        from django.db import connections
    except ImportError:  # connectors used without Django
        return
    connections.close_all()
