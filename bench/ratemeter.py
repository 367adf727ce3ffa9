"""Where a benchmarked sync's wall time goes, and how close it runs to the vendors' rate limits.

    with RateMeter() as meter:
        run_sync(...)
    meter.report(wall_seconds, ceilings)

The meter counts, per thread (the engine's own and the connectors' read-ahead threads), the HTTP
calls sent to each app with the seconds they were in flight, the seconds spent waiting on the
client's rate limiters, and the seconds the engine waited for a page that a read-ahead thread
was still fetching; it reads the sandbox server's CPU from /proc. A limit's share of its
ceiling is the calls made under it over what it allows in the wall time: calls / (wall x rate).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ENGINE = "engine"  # the thread that runs the sync
AHEAD = "read-ahead"  # any other thread (the connectors' read-ahead)


@dataclass
class Ceiling:
    """One rate limit: which calls it counts and how many per second it allows."""

    app: str
    label: str
    per_second: float
    counts: callable  # (app, endpoint) -> bool


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def server_cpu() -> float:
    """CPU seconds (user + system) of this process's children that are alive: the sandbox server."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for children in Path(f"/proc/{os.getpid()}/task").glob("*/children"):
        for pid in children.read_text().split():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


class RateMeter:
    """Counts calls, in-flight seconds and limiter waits per app and thread while active."""

    def __init__(self, endpoint) -> None:
        self.endpoint = endpoint  # (method, url, params, body) -> (app, endpoint name)
        self.calls: dict[tuple[str, str], int] = defaultdict(int)
        self.seconds: dict[tuple[str, str], float] = defaultdict(float)  # (thread, app) in flight
        self.waits: dict[tuple[str, str], float] = defaultdict(float)  # (thread, limiter) blocked
        self.page_waits = 0.0  # the engine waiting on a read-ahead page
        self.side_by_side = 0.0  # the engine inside a connector's calls side by side (connectors.fanout)
        self._local = threading.local()
        self.events: list[tuple[float, tuple[str, str]]] = []  # (seconds from the start, endpoint) per call
        self._lock = threading.Lock()
        self._undo: list = []

    @staticmethod
    def thread() -> str:
        return ENGINE if threading.current_thread() is threading.main_thread() else AHEAD

    def __enter__(self) -> RateMeter:
        import requests

        from connectors import http, ratelimit

        self._wrap(requests.Session, "request", self._timed_request)
        self._wrap(http.RateLimiter, "acquire", self._timing(self._limiter_wait))
        self._wrap(ratelimit.RedisWindow, "acquire", self._timing(self._limiter_wait))
        try:
            from connectors import fanout, readahead
        except ImportError:  # before the connectors read ahead
            pass
        else:
            self._wrap(readahead.ReadAhead, "_take", self._timing(self._page_wait))
            if hasattr(readahead, "Interleave"):  # the engine waiting on both sides' pages
                self._wrap(readahead.Interleave, "_wait", self._timing(self._page_wait))
            self._wrap_function(fanout, "run_all")
        self.started, self.cpu, self.engine_cpu = time.perf_counter(), time.process_time(), time.thread_time()
        self.server_cpu = server_cpu()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self.started
        self.cpu = time.process_time() - self.cpu
        self.engine_cpu = time.thread_time() - self.engine_cpu
        self.server_cpu = server_cpu() - self.server_cpu
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)

    def _wrap(self, owner, name: str, make) -> None:
        original = getattr(owner, name)
        self._undo.append((owner, name, original))
        setattr(owner, name, make(original))

    def _timed_request(self, original):
        meter = self

        def request(session, method, url, *args, **kwargs):
            key = meter.endpoint(method, url, kwargs.get("params"), kwargs.get("json"))
            started = time.perf_counter()
            try:
                return original(session, method, url, *args, **kwargs)
            finally:
                inside = getattr(meter._local, "inside", False)  # counted as side-by-side time
                with meter._lock:
                    meter.calls[key] += 1
                    if not inside:
                        meter.seconds[(meter.thread(), key[0])] += time.perf_counter() - started
                    meter.events.append((started - meter.started, key))

        return request

    def _wrap_function(self, module, name: str) -> None:
        """Time the engine thread inside `module.name` (calls side by side) as one item, whatever
        its own calls do meanwhile."""
        original = getattr(module, name)
        meter = self

        def timed(*args, **kwargs):
            if meter.thread() != ENGINE or getattr(meter._local, "inside", False):
                return original(*args, **kwargs)
            meter._local.inside, started = True, time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                meter._local.inside = False
                meter.side_by_side += time.perf_counter() - started

        self._undo.append((module, name, original))
        setattr(module, name, timed)
        for holder in (sys.modules.get("connectors.hubspot.connector"), sys.modules.get("connectors.salesforce.connector")):
            if holder is not None and getattr(holder, name, None) is original:
                self._undo.append((holder, name, original))
                setattr(holder, name, timed)

    def _timing(self, on_done):
        """A wrapper maker: the wrapped method runs as before, then `on_done(owner, seconds)`."""

        def make(original):
            def timed(owner, *args, **kwargs):
                started = time.perf_counter()
                try:
                    return original(owner, *args, **kwargs)
                finally:
                    on_done(owner, time.perf_counter() - started)

            return timed

        return make

    def _limiter_wait(self, limiter, seconds: float) -> None:
        kind = "search" if limiter.key.endswith(":search") else limiter.key.rsplit(":", 1)[-1]
        with self._lock:
            self.waits[(self.thread(), kind)] += seconds

    def _page_wait(self, _reader, seconds: float) -> None:
        if self.thread() == ENGINE:  # not a read-ahead thread waiting on the search stage's pages
            self.page_waits += seconds

    # --- the report ----------------------------------------------------------------------
    def report(self, ceilings: list[Ceiling], phases: dict[str, tuple[float, float]] | None = None) -> None:
        """Each limit's share over the whole wall time, then over each phase (label: (start, end)
        in seconds from the start)."""
        self.report_shares(ceilings, "the initial sync", 0.0, self.wall)
        for label, (start, end) in (phases or {}).items():
            self.report_shares(ceilings, label, start, end)
        self.report_time()

    def phase_start(self, wanted) -> float:
        """When the first call whose (app, endpoint) passes `wanted` started (the wall's end if none)."""
        return min((at for at, key in self.events if wanted(*key)), default=self.wall)

    def report_shares(self, ceilings: list[Ceiling], label: str, start: float, end: float) -> None:
        wall = end - start
        counts: dict[tuple[str, str], int] = defaultdict(int)
        for at, key in self.events:
            if start <= at < end:
                counts[key] += 1
        print(f"rate limits' ceiling over {label}'s {wall:.2f} s wall ({load_average()}):")
        rows = []
        for ceiling in ceilings:
            calls = sum(n for key, n in counts.items() if key[0] == ceiling.app and ceiling.counts(*key))
            least = calls / ceiling.per_second
            rows.append((least, ceiling, calls))
            print(f"  {ceiling.app:10s} {ceiling.label:34s} calls {calls:4d}  at its ceiling {least:6.2f} s  "
                  f"share calls/(wall x {ceiling.per_second:g}/s) {calls / (wall * ceiling.per_second):5.2f}")
        for app in sorted({key[0] for key in counts} - {c.app for c in ceilings}):
            calls = sum(n for key, n in counts.items() if key[0] == app)
            print(f"  {app:10s} {'daily allocation only':34s} calls {calls:4d}  (no per-second ceiling)")
        least, binding, _ = max(rows, key=lambda row: row[0])
        serial = sum(row[0] for row in rows if row[1].app == binding.app)
        print(f"  binding: {binding.app} {binding.label}: share {least / wall:.2f} of its ceiling (goal >= 0.9)")
        print(f"  bounds from {binding.app}'s limits: side by side (each limit's calls at its ceiling, overlapped) "
              f"{least:.2f} s = {least / wall:.2f} of the wall; one after the other {serial:.2f} s = "
              f"{serial / wall:.2f} of the wall; the engine thread's CPU {self.engine_cpu:.2f} s")

    def report_time(self) -> None:
        """The engine thread's wall time, split; then the read-ahead threads' and the server's CPU."""
        split = {f"{app} calls in flight": self.seconds.get((ENGINE, app), 0.0) for app in ("hubspot", "salesforce")}
        split |= {f"waiting on the {kind} limiter": s for (thread, kind), s in self.waits.items() if thread == ENGINE}
        split["waiting for a read-ahead page"] = self.page_waits
        split["lookups, reads and writes (calls side by side)"] = self.side_by_side
        split["engine thread CPU"] = self.engine_cpu
        split["other (database I/O, waiting for the GIL)"] = self.wall - sum(split.values())
        print("where the engine thread's wall time went (limiter waits are outside the calls' flight):")
        for label, seconds in split.items():
            print(f"  {label:44s} {seconds:7.2f} s  {seconds / self.wall:5.0%}")
        ahead = {app: s for (thread, app), s in self.seconds.items() if thread == AHEAD}
        ahead_waits = {kind: s for (thread, kind), s in self.waits.items() if thread == AHEAD}
        if ahead or ahead_waits:
            print("  read-ahead threads meanwhile: " + ", ".join(
                [f"{app} calls in flight {s:.2f} s" for app, s in sorted(ahead.items())]
                + [f"waiting on the {kind} limiter {s:.2f} s" for kind, s in sorted(ahead_waits.items())]))
        print(f"  CPU: this process {self.cpu:.2f} s (engine thread {self.engine_cpu:.2f} s), "
              f"sandbox server {self.server_cpu:.2f} s; both together {(self.cpu + self.server_cpu) / self.wall:.2f} "
              f"of one core over the wall")
