"""Benchmark the engine alone: two memory apps (no HTTP), contacts, two-way.

    .venv/bin/python bench/engine_only.py [--contacts 100000] [--small 10000] [--changes 100] [--profile]

Uses its own SQLite file (or DATABASE_URL if set). For each size (--small first, then
--contacts; --small 0 skips it) it seeds two in-memory apps (A HubSpot-like: pages of 1,000,
batches of 100; B Salesforce-like: pages of 2,000, batches of 200) with that many contacts each,
--overlap of them sharing an email, and runs: the initial two-way sync, the run after it (which
reads the initial's writes back), an incremental run after --changes edits on each side, and a
quiet run. Prints per run: seconds, CPU seconds and the cycle collector's share of them,
records/s of wall time and per CPU second (the machine may be shared: the CPU figure is the
engine's own), SQL queries, the apps' calls; the peak RSS of the process (resource.getrusage)
before and after the initial run. The apps' records live in this process too: the bench
measures what a seeded record costs them and takes the records the run created off the run's
growth, which leaves the engine's own peak. Then the incremental and quiet costs side by side
for the two sizes. --profile prints cProfile's top functions (CPU time) of the largest initial
run. Asserts nothing. With DATABASE_URL=postgres://... it runs on that database (it migrates
it and adds its rows; use a database of its own).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import pstats
import re
import resource
import time
from collections import Counter

from harness import bench_database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000, help="contacts per side of the large scenario")
    parser.add_argument("--small", type=int, default=10_000,
                        help="contacts per side of the small scenario the O(changes) figures compare with (0: none)")
    parser.add_argument("--changes", type=int, default=100, help="contacts edited on each side before the incremental run")
    parser.add_argument("--overlap", type=float, default=0.5, help="share of the contacts present on both sides")
    parser.add_argument("--profile", action="store_true", help="profile the large initial run (cProfile)")
    parser.add_argument("--top", type=int, default=25, help="functions listed by --profile")
    parser.add_argument("--sqlite-cache-mb", type=int, default=0,
                        help="an experiment: SQLite's page cache in MB (PRAGMA cache_size; default: SQLite's 2 MB)")
    args = parser.parse_args()

    with bench_database("engine-only-") as env:
        import django

        django.setup()
        from django.conf import settings
        from django.db import connection

        # As in production: with DEBUG on, Django's debug cursor quotes and keeps every
        # statement (on SQLite through one more query each), a tenth of the run's CPU.
        settings.DEBUG = False
        if args.sqlite_cache_mb and connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA cache_size = -{args.sqlite_cache_mb * 1024}")
            print(f"SQLite page cache: {args.sqlite_cache_mb} MB (an experiment; the settings keep SQLite's default)")

        print(f"database: {connection.vendor} ({env['DATABASE_URL'].split('@')[-1]}), DEBUG off")
        figures = {}
        for size in [s for s in (args.small, args.contacts) if s]:
            print(f"\n--- {size} contacts per side ---")
            figures[size] = scenario(size, args, profile=args.profile and size == args.contacts)
        if len(figures) == 2:
            (small, a), (large, b) = figures.items()
            print(f"\nO(changes): {small} vs {large} contacts per side (links of both scenarios share one table)")
            for label in ("incremental", "quiet"):
                (ta, ca, qa), (tb, cb, qb) = a[label], b[label]
                print(f"  {label:12s} time {ta:6.3f}s vs {tb:6.3f}s ({tb / ta if ta else 0:4.1f}x)   "
                      f"CPU {ca:6.3f}s vs {cb:6.3f}s ({cb / ca if ca else 0:4.1f}x)   "
                      f"SQL queries {qa:5d} vs {qb:5d} ({qb / qa if qa else 0:4.1f}x)")


def scenario(size: int, args, *, profile: bool) -> dict:
    from connectors.base import CONTACTS
    from connectors.models import Connection
    from syncrules.engine import run_sync
    from syncrules.engine.mappings import create_default_mappings
    from syncrules.models import LinkStatus, ObjectSync, RecordLink, Side
    from syncrules.tests.memory_connector import REGISTRY, SALESFORCE_PIPELINE, Clock, MemoryApp

    Connection.connector = lambda self: REGISTRY[self.pk].connector()  # a bench process: patch for good
    clock = Clock()
    app_a = MemoryApp("ha_", clock, page_size=1000, batch_size=100)
    app_b = MemoryApp("sf_", clock, page_size=2000, batch_size=200,
                      pipelines=(SALESFORCE_PIPELINE,), implicit_pipeline=True)
    started, rss_before_seeding = time.perf_counter(), rss_mb()
    seed(app_a, app_b, size, args.overlap)
    for app in (app_a, app_b):  # the email index the run's lookups use, built now (the app's, not the run's)
        app.lookup(CONTACTS, app.field(CONTACTS, "email"), "")
    # The apps' records stand for two remote apps: leave them out of the cycle collector's
    # passes, which would otherwise count millions of the apps' objects against the engine.
    gc.collect()
    gc.freeze()
    per_record = (rss_mb() - rss_before_seeding) / (2 * size)
    print(f"seeded {size} + {size} contacts in {time.perf_counter() - started:.1f}s; "
          f"peak RSS {peak_rss_mb():.0f} MB; the apps hold {per_record * 1024 * 1024:.0f} bytes a record")
    conn_a = Connection.objects.create(kind="hubspot", name=f"A {size}", credentials={})
    conn_b = Connection.objects.create(kind="salesforce", name=f"B {size}", credentials={})
    REGISTRY[conn_a.pk], REGISTRY[conn_b.pk] = app_a, app_b
    sync = ObjectSync.objects.create(connection_a=conn_a, connection_b=conn_b, object_type=CONTACTS,
                                     state=ObjectSync.State.ACTIVE)
    create_default_mappings(sync)

    def run():
        return run_sync(sync.pk, connectors={Side.A: app_a.connector(), Side.B: app_b.connector()})

    before = peak_rss_mb()
    # CPU time, not wall time: the machine is shared, and waiting for a core is not our cost.
    profiler = cProfile.Profile(time.process_time) if profile else None
    apps_before = sum(app.footprint(CONTACTS) for app in (app_a, app_b)) / 1024 / 1024
    measure("initial two-way sync", run, (app_a, app_b), profiler)
    grown, peak = peak_rss_mb() - before, peak_rss_mb()
    apps_grown = sum(app.footprint(CONTACTS) for app in (app_a, app_b)) / 1024 / 1024 - apps_before
    print(f"peak RSS: {peak:.0f} MB (was {before:.0f} MB after seeding: the run added {grown:.0f} MB at most, "
          f"of which the apps' records grew {apps_grown:.0f} MB (the sizes of their objects): the engine's own "
          f"peak is about {grown - apps_grown:.0f} MB)")
    tracked = Counter(type(o).__name__ for o in gc.get_objects())
    print(f"  objects the cycle collector tracks now: {sum(tracked.values())} ({tracked.most_common(4)})")
    if profiler is not None:
        report_profile(profiler, args.top)
    measure("next run (reads the initial's writes back)", run, (app_a, app_b))

    links = list(RecordLink.objects.filter(object_sync=sync, status=LinkStatus.IN_SYNC)
                 .order_by("pk").values_list("id_a", "id_b")[: 2 * args.changes])
    for n, (id_a, _) in enumerate(links[: args.changes]):
        app_a.edit(CONTACTS, id_a, score=n + 1)
    for n, (_, id_b) in enumerate(links[args.changes:]):
        app_b.edit(CONTACTS, id_b, score=n + 1001)
    incremental = measure(f"incremental run ({args.changes} + {args.changes} edits)", run, (app_a, app_b))
    quiet = measure("quiet run (no changes)", run, (app_a, app_b))
    in_sync = RecordLink.objects.filter(object_sync=sync, status=LinkStatus.IN_SYNC).count()
    print(f"links in sync: {in_sync}, all links of the table: {RecordLink.objects.count()}")
    REGISTRY.clear()
    return {"incremental": incremental, "quiet": quiet}


def seed(app_a, app_b, size: int, overlap: float) -> None:
    """`size` contacts per side; the first `overlap` share of B's use A's emails (other case)."""
    from connectors.base import CONTACTS

    shared = int(overlap * size)
    for n in range(size):
        app_a.create(CONTACTS, email=f"person{n}@example.com", first=f"First{n}", last=f"Last{n}", score=n % 97)
    for n in range(size):
        email = f"PERSON{n}@EXAMPLE.COM" if n < shared else f"other{n}@example.org"
        app_b.create(CONTACTS, email=email, first=f"First{n}", last=f"Last{n}", vip=n % 2 == 0)


def measure(label: str, action, apps, profiler: cProfile.Profile | None = None) -> tuple[float, float, int]:
    """Run `action`, print its figures; return (seconds, CPU seconds, SQL queries)."""
    from django.db import connection

    queries = [0]
    kinds: Counter = Counter()  # statements by verb and table, executemany counted once

    def count(execute, sql, params, many, context):
        queries[0] += 1
        kinds[statement_kind(sql)] += 1
        return execute(sql, params, many, context)

    collecting = [0.0, 0.0]  # seconds in the cycle collector, when the current pass started
    passes = [[0, 0.0] for _ in range(3)]  # per generation: passes, seconds

    def collector(phase, info):
        if phase == "start":
            collecting[1] = time.process_time()
        else:
            spent = time.process_time() - collecting[1]
            collecting[0] += spent
            passes[info["generation"]][0] += 1
            passes[info["generation"]][1] += spent

    calls_before = sum(app.calls for app in apps)
    server = database_cpu()
    started, cpu = time.perf_counter(), time.process_time()
    gc.callbacks.append(collector)
    with connection.execute_wrapper(count):
        if profiler is not None:
            profiler.enable()
        run = action()
        if profiler is not None:
            profiler.disable()
    gc.callbacks.remove(collector)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    server = database_cpu(server)
    records = run.processed
    print(f"{label:44s} {run.status:9s} {seconds:7.2f}s (CPU {cpu:6.1f}s, GC {collecting[0]:4.1f}s)  "
          f"processed {records:7d} ({records / seconds if seconds else 0:6.0f} records/s, "
          f"{records / cpu if cpu else 0:6.0f} per CPU second)  created {run.created:6d} matched {run.matched:6d} "
          f"updated {run.updated:4d} failed {run.failed:3d}  SQL queries {queries[0]:6d}  "
          f"app calls {sum(app.calls for app in apps) - calls_before:5d}")
    if profiler is not None or records >= 10_000:
        print("  statements: " + ", ".join(f"{kind} {n}" for kind, n in kinds.most_common()))
    if server is not None:
        print(f"  the database server's CPU for this connection: {server:.1f}s, so {records / (cpu + server) if cpu + server else 0:.0f} "
              f"records per CPU second of engine and database together")
    if collecting[0] > 0.1 * cpu:
        print("  cycle collector passes per generation: " + ", ".join(f"{n} ({t:.1f}s)" for n, t in passes))
    if run.error:
        print(f"  note: {run.error}")
    return seconds, cpu, queries[0]


def statement_kind(sql: str) -> str:
    """'INSERT recordlink', 'SELECT recordlink', ...: the verb and the first table the statement names."""
    verb = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "?"
    table = re.search(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', sql, re.IGNORECASE)
    return f"{verb} {table.group(1).removeprefix('syncrules_') if table else ''}".strip()


def report_profile(profiler: cProfile.Profile, top: int) -> None:
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats(order).print_stats(top)
        print(f"\ncProfile of the initial run, top {top} by {order}:")
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:12000])


def database_cpu(since: tuple[int, float] | None = None):
    """PostgreSQL on this machine: (backend pid, its CPU seconds so far), or with `since`, the
    CPU seconds it spent since then (None when unknown: SQLite, a remote server, a new connection)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    seconds = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    if since is None:
        return pid, seconds
    return seconds - since[1] if since[0] == pid else None


def rss_mb() -> float:
    """The process's resident memory now (Linux), in MB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 1024 / 1024


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
