"""connectors.readahead: the next page is read while the consumer works on the current one,
one page ahead at most, with the same pages, errors and stops as reading in turn."""

from __future__ import annotations

import threading

import pytest

from connectors import ratelimit
from connectors.readahead import ReadAhead, in_consumer, interleave, read_ahead


class Pages:
    """A page source that notes which pages it produced, on which thread, and when it closed."""

    def __init__(self, count: int, *, fail_at: int | None = None, before: dict[int, threading.Event] | None = None):
        self.count, self.fail_at, self.before = count, fail_at, before or {}
        self.produced: list[int] = []
        self.threads: set[str] = set()
        self.closed = threading.Event()
        self.error = RuntimeError("page 3 could not be read")

    def __iter__(self):
        try:
            for number in range(1, self.count + 1):
                if number in self.before:
                    self.before[number].wait(5)
                ratelimit.checkpoint()  # as the HTTP layer does before every request
                if number == self.fail_at:
                    raise self.error
                self.threads.add(threading.current_thread().name)
                self.produced.append(number)
                yield number
        finally:
            self.closed.set()


def read_ahead_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("test read-ahead") and t.is_alive()]


def wait_until(condition, seconds: float = 5.0) -> bool:
    done = threading.Event()
    for _ in range(int(seconds / 0.01)):
        if condition():
            return True
        done.wait(0.01)
    return condition()


def test_it_gives_every_page_in_order_reading_the_next_while_the_consumer_holds_one():
    source = Pages(5)
    pages = read_ahead(iter(source), name="test read-ahead")
    assert next(pages) == 1
    # Page 2 is read while the consumer still works on page 1, and no further.
    assert wait_until(lambda: source.produced == [1, 2])
    threading.Event().wait(0.1)
    assert source.produced == [1, 2]
    assert [*pages] == [2, 3, 4, 5]
    assert source.threads == {"test read-ahead"}
    assert source.closed.is_set() and not read_ahead_threads()


def test_an_error_reading_page_3_is_raised_when_the_consumer_asks_for_page_3():
    source = Pages(5, fail_at=3)
    pages = read_ahead(iter(source), name="test read-ahead")
    assert next(pages) == 1
    assert next(pages) == 2
    with pytest.raises(RuntimeError) as info:
        next(pages)
    assert info.value is source.error
    assert source.produced == [1, 2]
    assert list(pages) == []  # a generator that raised is finished, as before
    assert not read_ahead_threads()


def test_a_consumer_that_stops_early_ends_the_thread_and_closes_the_pages():
    source = Pages(5)
    pages = read_ahead(iter(source), name="test read-ahead")
    assert next(pages) == 1
    assert wait_until(lambda: source.produced == [1, 2])
    pages.close()
    assert not read_ahead_threads()
    assert source.closed.is_set()
    assert source.produced == [1, 2]


def test_a_consumer_that_stops_early_stops_the_thread_before_its_next_request():
    release = threading.Event()
    source = Pages(5, before={2: release})  # page 2 waits, then checks in before its "request"
    reader = ReadAhead(iter(source), name="test read-ahead")
    assert next(reader) == 1
    closer = threading.Thread(target=reader.close)
    closer.start()
    assert wait_until(reader._stopped.is_set)
    release.set()
    closer.join(5)
    assert not closer.is_alive()
    assert source.produced == [1]  # page 2's request was never sent
    assert source.closed.is_set() and not read_ahead_threads()


def test_a_consumer_that_drops_the_pages_unread_ends_the_thread():
    source = Pages(5)
    pages = read_ahead(iter(source), name="test read-ahead")
    assert next(pages) == 1
    del pages  # garbage: the generator closes, and so does its thread
    assert wait_until(lambda: not read_ahead_threads())
    assert source.closed.is_set()


class Lost(Exception):
    """The run lost its claim (raised by the run's hooks at the next request)."""


def hooks_losing_claim(lost: threading.Event) -> ratelimit.RunHooks:
    def check():
        if lost.is_set():
            raise Lost("the run lost its claim")

    return ratelimit.RunHooks(check=check)


def test_the_runs_hooks_stop_the_read_ahead_thread_too():
    lost = threading.Event()
    token = ratelimit.run_hooks.set(hooks_losing_claim(lost))
    try:
        pages = read_ahead(iter(Pages(5)), name="test read-ahead")
        assert next(pages) == 1
        assert next(pages) == 2
        lost.set()
        with pytest.raises(Lost):  # at page 4 at the latest (page 3 may be read already)
            next(pages)
            next(pages)
    finally:
        ratelimit.run_hooks.reset(token)
    assert not read_ahead_threads()


def test_what_the_thread_reports_for_the_database_runs_on_the_consumers_thread():
    reported: list[tuple[str, int]] = []

    def report(number):
        reported.append((threading.current_thread().name, number))

    def pages():
        for number in (1, 2, 3):
            in_consumer(report, number)
            yield number

    assert list(read_ahead(pages(), name="test read-ahead")) == [1, 2, 3]
    assert reported == [(threading.current_thread().name, n) for n in (1, 2, 3)]


def test_a_wait_of_the_thread_for_api_budget_shows_on_the_run_only_while_the_consumer_waits():
    notes: list[str] = []
    release = threading.Event()

    def pages():
        ratelimit.notify_wait("Waiting for API budget (search limit: 5 requests per 1 s)", 2.0)
        release.wait(5)
        ratelimit.notify_wait("", 0.0)
        yield 1

    token = ratelimit.run_hooks.set(ratelimit.RunHooks(on_wait=lambda note, seconds: notes.append(note)))
    try:
        reader = read_ahead(pages(), name="test read-ahead")
        threading.Timer(0.8, release.set).start()
        assert next(reader) == 1
    finally:
        ratelimit.run_hooks.reset(token)
    assert notes == ["Waiting for API budget (search limit: 5 requests per 1 s)", ""]


# --- interleave: two sides' pages on one consumer -------------------------------------------
def two_sides(a: Pages, b: Pages):
    return interleave({"a": read_ahead(iter(a), name="test read-ahead a"),
                       "b": read_ahead(iter(b), name="test read-ahead b")})


def test_interleave_starts_both_readers_at_once_and_takes_pages_in_a_fixed_order_whatever_answers_first():
    release = threading.Event()
    slow, quick = Pages(2, before={1: release}), Pages(3)
    pages = two_sides(slow, quick)
    threading.Timer(0.3, release.set).start()
    # b's first page is there (read ahead, never more) long before a's: still a's is taken first
    assert next(pages) == ("a", 1)
    assert quick.produced == [1]
    assert [*pages] == [("b", 1), ("a", 2), ("b", 2), ("b", 3)]
    assert slow.produced == [1, 2] and slow.closed.is_set() and quick.closed.is_set()
    assert not read_ahead_threads()


def test_interleave_waits_for_the_side_whose_turn_it_is_while_the_other_reads_ahead():
    release = {"a": threading.Event(), "b": threading.Event()}
    a, b = Pages(1, before={1: release["a"]}), Pages(1, before={1: release["b"]})
    pages = two_sides(a, b)
    release["b"].set()
    threading.Timer(0.3, release["a"].set).start()
    assert next(pages) == ("a", 1)
    assert [*pages] == [("b", 1)]
    assert not read_ahead_threads()


def test_interleave_by_weight_takes_next_the_source_that_has_given_least_so_far():
    sizes = {"a": [3, 3, 3], "b": [5, 5]}
    pages = interleave({key: iter([[key] * n for n in ns]) for key, ns in sizes.items()}, weight=len)
    assert [(key, len(page)) for key, page in pages] == [("a", 3), ("b", 5), ("a", 3), ("b", 5), ("a", 3)]


def test_interleave_by_weight_gives_the_same_order_with_and_without_reading_ahead():
    sizes = {"a": [1000, 1000, 1000, 1000, 400], "b": [2000, 2000, 5]}

    def order(ahead: bool) -> list[tuple[str, int]]:
        def source(key: str):
            it = iter([[key] * n for n in sizes[key]])
            return read_ahead(it, name=f"test read-ahead {key}") if ahead else it
        return [(key, len(page)) for key, page in interleave({k: source(k) for k in sizes}, weight=len)]

    assert order(True) == order(False) == [
        ("a", 1000), ("b", 2000), ("a", 1000), ("a", 1000), ("b", 2000), ("a", 1000), ("a", 400), ("b", 5)]
    assert not read_ahead_threads()


def test_interleave_takes_sources_that_do_not_read_ahead_in_turn():
    pages = interleave({"a": iter([1, 2, 3]), "b": iter([10, 20])})
    assert [*pages] == [("a", 1), ("b", 10), ("a", 2), ("b", 20), ("a", 3)]


def test_an_error_reading_one_side_is_raised_in_its_turn_and_both_readers_end():
    failing, other = Pages(5, fail_at=2), Pages(5)
    pages = two_sides(failing, other)
    taken = []
    with pytest.raises(RuntimeError) as info:
        for item in pages:
            taken.append(item)
    assert info.value is failing.error
    assert ("a", 1) in taken and ("a", 2) not in taken
    assert not read_ahead_threads()
    assert failing.closed.is_set() and other.closed.is_set()


def test_a_run_that_loses_its_claim_stops_both_sides_readers():
    lost = threading.Event()
    a, b = Pages(50), Pages(50)
    token = ratelimit.run_hooks.set(hooks_losing_claim(lost))
    try:
        pages = two_sides(a, b)
        next(pages)
        lost.set()
        with pytest.raises(Lost):
            for _ in pages:
                pass
    finally:
        ratelimit.run_hooks.reset(token)
    assert not read_ahead_threads()
    assert len(a.produced) < 50 and len(b.produced) < 50


def test_a_consumer_that_stops_interleaving_early_ends_both_readers():
    a, b = Pages(5), Pages(5)
    pages = two_sides(a, b)
    next(pages)
    pages.close()
    assert not read_ahead_threads()
    assert a.closed.is_set() and b.closed.is_set()
