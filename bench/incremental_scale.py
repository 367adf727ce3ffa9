"""What an incremental run and a quiet run cost at 10k, 100k and 1M links, and where it grows.

    .venv/bin/python bench/incremental_scale.py [--links 10000,100000,1000000] [--runs 7]
        [--changes 100] [--profile-runs 3] [--pick random|first] [--companies]
        [--state-dir DIR] [--label NAME] [--only SIZES]

Per size, two memory apps (as in bench/engine_only.py: A HubSpot-like, B Salesforce-like) hold
N contacts each, every one linked to its counterpart as an initial sync leaves them: the links
and their "matched" outcomes are made by the engine's own merge and writes (Engine.merge,
Engine.finish, store.save_changes), in chunks, without the reads and lookups of a real initial
sync, and both cursors stand at the end of the apps' change logs. On SQLite each size keeps its
seeded file in --state-dir and later invocations copy it instead of seeding again (the apps are
seeded the same way every time, so their ids, change sequences and clock match the file). With
DATABASE_URL=postgres://... (a database of its own) the tables hold one size at a time: emptied,
seeded and ANALYZEd, and the links the cycles edited are put back afterwards, so the next
invocation for that size reuses them (seeding 1M links there takes ~20 minutes).

Then --runs cycles of: --changes edits on each side (random links, the same every invocation,
or the first by pk as engine_only does), the incremental run, the run that reads its writes
back, and a quiet run (nothing changed). Prints per run kind the median and minimum CPU and wall
seconds, the SQL queries and their time; per statement shape, side by side for the smallest and
largest size: calls, wall and CPU milliseconds, and the read/write system calls made meanwhile
(SQLite reads and writes a page per call: its pages); and cProfile of --profile-runs more cycles,
the functions whose time grew most. Each size's figures are saved under --label: --only runs
some sizes and compares with the others' saved figures. Asserts nothing.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pickle
import pstats
import random
import re
import shutil
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
KINDS = ("incremental", "read-back", "quiet")
CHUNK = 5000  # links seeded per transaction


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", default="10000,1000000", help="sizes, comma-separated (links per sync)")
    parser.add_argument("--runs", type=int, default=7, help="measured cycles per size")
    parser.add_argument("--changes", type=int, default=100, help="records edited on each side per cycle")
    parser.add_argument("--profile-runs", type=int, default=3, help="profiled cycles per size (0: none)")
    parser.add_argument("--pick", choices=("random", "first"), default="random", help="which links are edited")
    parser.add_argument("--top", type=int, default=20, help="rows of the statement and profile tables")
    parser.add_argument("--state-dir", default="/tmp/incremental-scale",
                        help="seeded SQLite files and each size's figures (kept)")
    parser.add_argument("--only", default="", help="sizes to run now; the others' figures are read from "
                        "--state-dir, as saved by an earlier invocation with the same --label")
    parser.add_argument("--companies", action="store_true",
                        help="a companies sync between the same apps too (no companies): contacts then have an "
                             "association target, as in most HubSpot set-ups, and each run runs the association steps")
    parser.add_argument("--label", default="latest", help="name of the saved figures (e.g. main, fixed)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.links.split(",")]
    now = [int(s) for s in args.only.split(",")] if args.only else sizes
    state = Path(args.state_dir)
    state.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "syncsite.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{state / 'work.sqlite3'}")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    settings.DEBUG = False
    print(f"database: {connection.vendor}; load average {os.getloadavg()[0]:.2f}; "
          f"{args.runs} cycles of {args.changes} + {args.changes} edits ({args.pick} links) per size")
    results = {}
    for size in sizes:
        saved = state / f"figures-{connection.vendor}-{size}-{args.label}.pickle"
        if size in now:
            print(f"\n=== {size} links ===")
            results[size] = scenario(size, args, state)
            saved.write_bytes(pickle.dumps(results[size]))
        elif not saved.exists():
            print(f"\n=== {size} links: no figures saved as {saved} yet ===")
        else:
            results[size] = pickle.loads(saved.read_bytes())  # noqa: S301 (this bench's own file)
            print(f"\n=== {size} links: figures of an earlier invocation ({saved}) ===")
            for kind in KINDS:
                report_runs(kind, results[size]["runs"][kind])
    if sizes[0] in results and sizes[-1] in results:
        compare(results, sizes[0], sizes[-1], args.top)


# --- the state -----------------------------------------------------------------------------------
def use_database(size: int, state: Path) -> bool:
    """Point Django at this size's database; True when it already holds the seeded links."""
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor == "sqlite":
        seeded, work = state / f"links-{size}.sqlite3", state / "work.sqlite3"
        connection.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{work}{suffix}").unlink(missing_ok=True)
        if seeded.exists():
            shutil.copyfile(seeded, work)
        connection.settings_dict["NAME"] = str(work)
        call_command("migrate", verbosity=0)
        return seeded.exists()
    call_command("migrate", verbosity=0)
    from syncrules.models import ObjectSync, RecordLink

    syncs = set(ObjectSync.objects.values_list("connection_a__name", flat=True))
    if syncs == {f"A {size}"} and RecordLink.objects.count() == size:
        return True  # this size's links, put back as seeded after the last invocation (Restore)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE connectors_connection RESTART IDENTITY CASCADE")
    return False


class Restore:
    """The seeded state of the links the cycles will edit, put back after them (and the runs'
    rows deleted), so that a later invocation reuses the seeded database as it was."""

    def __init__(self, sync, ids: list[int]) -> None:
        from syncrules.models import ObjectSync, RecordLink, SyncRun

        self.sync_id = sync.pk
        self.links = list(RecordLink.objects.filter(object_sync=sync, id_a__in=[f"ha_{n}" for n in ids]))
        self.last_run = SyncRun.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        self.state = ObjectSync.objects.filter(pk=sync.pk).values("cursor_a", "cursor_b", "extra_cursors").get()

    def __call__(self) -> None:
        from django.db import connection, transaction

        from syncrules.engine import rows, store
        from syncrules.models import ObjectSync, RecordLink

        with transaction.atomic(), connection.cursor() as cursor:
            rows.update(RecordLink, [*store.LINK_FIELDS], self.links)
            cursor.execute("DELETE FROM syncrules_recordoutcome WHERE run_id > %s", [self.last_run])
            cursor.execute("DELETE FROM syncrules_syncrun WHERE id > %s", [self.last_run])
            ObjectSync.objects.filter(pk=self.sync_id).update(**self.state)
            ObjectSync.objects.exclude(pk=self.sync_id).delete()  # --companies' sync


def keep_seeded(size: int, state: Path) -> None:
    from django.db import connection

    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.close()
        shutil.copyfile(state / "work.sqlite3", state / f"links-{size}.sqlite3")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # what autovacuum would have done to a table this size


def seed_apps(size: int):
    """Two apps holding `size` contacts each, pair n alike on both sides (B's emails upper case)."""
    from connectors.base import CONTACTS
    from syncrules.tests.memory_connector import SALESFORCE_PIPELINE, Clock, MemoryApp

    clock = Clock()
    app_a = MemoryApp("ha_", clock, page_size=1000, batch_size=100)
    app_b = MemoryApp("sf_", clock, page_size=2000, batch_size=200,
                      pipelines=(SALESFORCE_PIPELINE,), implicit_pipeline=True)
    for app, email in ((app_a, "person{}@example.com"), (app_b, "PERSON{}@EXAMPLE.COM")):
        for n in range(size):
            app.create(CONTACTS, email=email.format(n), first=f"First{n}", last=f"Last{n}", score=n % 97, vip=n % 2 == 0)
    gc.collect()
    gc.freeze()  # the apps stand for remote apps: out of the cycle collector's passes
    return app_a, app_b


def make_sync(size: int, app_a, app_b, companies: bool = False):
    from django.utils import timezone

    from connectors.base import COMPANIES, CONTACTS
    from connectors.models import Connection
    from syncrules.engine.mappings import create_default_mappings
    from syncrules.models import ObjectSync
    from syncrules.tests.memory_connector import REGISTRY

    Connection.connector = lambda self: REGISTRY[self.pk].connector()  # a bench process: patched for good
    sync = ObjectSync.objects.filter(connection_a__name=f"A {size}").first()
    if sync is None:
        a, b = (Connection.objects.create(kind=kind, name=f"{side} {size}", credentials={})
                for side, kind in (("A", "hubspot"), ("B", "salesforce")))
        sync = ObjectSync.objects.create(connection_a=a, connection_b=b, object_type=CONTACTS,
                                         state=ObjectSync.State.ACTIVE)
        REGISTRY[a.pk], REGISTRY[b.pk] = app_a, app_b
        create_default_mappings(sync)
    if companies and not ObjectSync.objects.filter(object_type=COMPANIES, connection_a=sync.connection_a_id).exists():
        create_default_mappings(ObjectSync.objects.create(
            connection_a_id=sync.connection_a_id, connection_b_id=sync.connection_b_id, object_type=COMPANIES,
            state=ObjectSync.State.ACTIVE, initial_sync_done_at=timezone.now()))
    REGISTRY[sync.connection_a_id], REGISTRY[sync.connection_b_id] = app_a, app_b
    return sync


def seed_links(sync, app_a, app_b, size: int) -> None:
    """Link pair n as an initial sync's match leaves it: the engine's merge, finish and save."""
    from django.utils import timezone

    from connectors.base import CONTACTS
    from syncrules.engine import store
    from syncrules.engine.runner import Engine
    from syncrules.models import ObjectSync, RecordLink, SyncRun

    run = SyncRun.objects.create(object_sync=sync, kind=SyncRun.Kind.INITIAL)
    engine = Engine(sync, run)
    engine.prepare({"a": app_a.connector(), "b": app_b.connector()})
    email = app_a.field(CONTACTS, "email")
    started = time.perf_counter()
    for start in range(0, size, CHUNK):
        ids = range(start + 1, min(size, start + CHUNK) + 1)
        found_a = engine.read("a", [f"ha_{n}" for n in ids])
        found_b = engine.read("b", [f"sf_{n}" for n in ids])
        changes = []
        for n in ids:
            record_a, record_b = found_a[f"ha_{n}"], found_b[f"sf_{n}"]
            change = store.LinkChange(RecordLink())
            pending = engine.merge("a", record_a, change, record_b, None, ("email", record_a.values[email]))
            changes.append(engine.finish(pending))
        store.save_changes(sync, run, changes, timezone.now())
    run.processed = size
    run.finish()
    ObjectSync.objects.filter(pk=sync.pk).update(cursor_a=app_a.seq, cursor_b=app_b.seq,
                                                 initial_sync_done_at=timezone.now())
    print(f"seeded {size} links in {time.perf_counter() - started:.0f}s")


# --- the runs ------------------------------------------------------------------------------------
class Meter:
    """Times every SQL statement of a run by its shape (execute_wrapper) and every commit: wall
    and CPU seconds, and the read and write system calls the process made meanwhile (Linux's
    /proc/self/io: SQLite reads and writes its file a page per call, so they count its pages)."""

    def __init__(self) -> None:
        self.statements: dict[str, list[tuple[float, float, int, int]]] = defaultdict(list)
        self._io = os.open("/proc/self/io", os.O_RDONLY) if os.path.exists("/proc/self/io") else None

    def __call__(self, execute, sql, params, many, context):
        return self.timed(shape(sql) + (" [many]" if many else ""), execute, sql, params, many, context)

    def timed(self, key: str, action, *args):
        before = self.sample()
        try:
            return action(*args)
        finally:
            after = self.sample()
            self.statements[key].append(tuple(y - x for x, y in zip(before, after, strict=True)))

    def sample(self) -> tuple[float, float, int, int]:
        calls = (0, 0)
        if self._io is not None:
            fields = dict(line.split(": ") for line in os.pread(self._io, 4096, 0).decode().splitlines())
            calls = (int(fields["syscr"]), int(fields["syscw"]))
        return time.perf_counter(), time.process_time(), *calls

    def close(self) -> None:
        if self._io is not None:
            os.close(self._io)

    @property
    def queries(self) -> int:
        return sum(len(times) for key, times in self.statements.items() if key != "COMMIT")

    @property
    def sql_seconds(self) -> float:
        return sum(t[0] for times in self.statements.values() for t in times)


def shape(sql: str) -> str:
    """A statement without its values: placeholder lists and literals collapsed."""
    text = re.sub(r"\s+", " ", sql)
    text = re.sub(r"%s(, %s)+", "…", text)
    text = re.sub(r"\((…|%s)\)(, \((…|%s)\))+", "(…)…", text)
    text = re.sub(r"'[^']*'", "'…'", text)
    text = re.sub(r'"syncrules_|"connectors_', '"', text)
    return text[:150]


def run_once(sync, app_a, app_b, profiler: cProfile.Profile | None = None) -> dict:
    from django.db import connection
    from engine_only import database_cpu

    from syncrules.engine import run_sync

    meter = Meter()
    commit = connection._commit
    connection._commit = lambda: meter.timed("COMMIT", commit)  # commits are no statements
    server = database_cpu()
    started, cpu = time.perf_counter(), time.process_time()
    try:
        with connection.execute_wrapper(meter):
            if profiler is not None:
                profiler.enable()
            run = run_sync(sync.pk, connectors={"a": app_a.connector(), "b": app_b.connector()})
            if profiler is not None:
                profiler.disable()
    finally:
        del connection._commit
        meter.close()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"wall": wall, "cpu": cpu, "queries": meter.queries, "sql": meter.sql_seconds,
            "server": database_cpu(server), "statements": meter.statements,
            "processed": run.processed, "updated": run.updated, "skipped": run.skipped, "status": run.status}


def picks(size: int, args) -> list[list[int]]:
    """The pairs edited per cycle (the same every invocation: a seeded generator per size)."""
    rng, count = random.Random(size), 2 * args.changes
    return [list(range(1, count + 1)) if args.pick == "first" else rng.sample(range(1, size + 1), count)
            for _ in range(args.runs + args.profile_runs)]


def edit(app_a, app_b, chosen: list[int], changes: int, cycle: int) -> None:
    from connectors.base import CONTACTS

    for k, n in enumerate(chosen[:changes]):
        app_a.edit(CONTACTS, f"ha_{n}", score=1000 * cycle + k)
    for k, n in enumerate(chosen[changes:]):
        app_b.edit(CONTACTS, f"sf_{n}", score=1000 * cycle + 500 + k)


def scenario(size: int, args, state: Path) -> dict:
    reused = use_database(size, state)
    started = time.perf_counter()
    app_a, app_b = seed_apps(size)
    print(f"apps seeded in {time.perf_counter() - started:.0f}s" + ("; links from the kept file" if reused else ""))
    sync = make_sync(size, app_a, app_b)
    if not reused:
        seed_links(sync, app_a, app_b, size)
        keep_seeded(size, state)
    sync = make_sync(size, app_a, app_b, args.companies)
    chosen = picks(size, args)
    restore = Restore(sync, sorted({n for cycle in chosen for n in cycle}))
    first = run_once(sync, app_a, app_b)  # sets the steps' cursors (deletions read, fingerprints)
    print(f"first quiet run after seeding: {first['cpu']:.3f}s CPU, {first['queries']} queries")
    runs = {kind: [] for kind in KINDS}
    profiles = {kind: cProfile.Profile(time.process_time) for kind in KINDS}
    for cycle, pairs in enumerate(chosen, start=1):
        profiled = cycle > args.runs
        edit(app_a, app_b, pairs, args.changes, cycle)
        for kind in KINDS:
            result = run_once(sync, app_a, app_b, profiles[kind] if profiled else None)
            if not profiled:
                runs[kind].append(result)
    for kind in KINDS:
        report_runs(kind, runs[kind])
    from syncrules.models import RecordLink
    from syncrules.tests.memory_connector import REGISTRY

    print(f"links in the table: {RecordLink.objects.count()}")
    restore()
    REGISTRY.clear()
    gc.unfreeze()
    stats = {kind: pstats.Stats(profile).stats for kind, profile in profiles.items()} if args.profile_runs else None
    return {"runs": runs, "profiles": stats, "profile_runs": args.profile_runs}


def report_runs(kind: str, runs: list[dict]) -> None:
    def med(key):
        return statistics.median(r[key] for r in runs)

    servers = [r["server"] for r in runs if r["server"] is not None]
    server = f", DB server CPU {statistics.median(servers):.3f}s" if servers else ""
    print(f"  {kind:11s} CPU median {med('cpu'):.3f}s min {min(r['cpu'] for r in runs):.3f}s | wall median "
          f"{med('wall'):.3f}s min {min(r['wall'] for r in runs):.3f}s | SQL {med('queries'):.0f} queries, "
          f"{med('sql') * 1000:.1f} ms{server} | processed {runs[-1]['processed']} updated {runs[-1]['updated']} "
          f"skipped {runs[-1]['skipped']} ({runs[-1]['status']}); first cycle CPU {runs[0]['cpu']:.3f}s")


# --- the comparison ------------------------------------------------------------------------------
def compare(results: dict, small: int, large: int, top: int) -> None:
    if small == large:
        return
    print(f"\n=== {small} vs {large} links (medians) ===")
    for kind in KINDS:
        a, b = results[small]["runs"][kind], results[large]["runs"][kind]
        line = [f"  {kind:11s}"]
        for key, unit in (("cpu", "s CPU"), ("wall", "s wall"), ("queries", " queries"), ("sql", "s in SQL")):
            x, y = statistics.median(r[key] for r in a), statistics.median(r[key] for r in b)
            line.append(f"{x:.3f} vs {y:.3f}{unit} ({y / x if x else 0:.1f}x)")
        print("  ".join(line))
    for kind in ("incremental", "quiet"):
        compare_statements(kind, results[small]["runs"][kind], results[large]["runs"][kind], small, large, top)
        if results[small]["profiles"]:
            compare_profiles(kind, results[small], results[large], small, large, top)


def per_run(runs: list[dict]) -> dict[str, list[float]]:
    """Statement shape -> [calls, wall ms, CPU ms, read calls, write calls] per run, averaged."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0, 0])
    for run in runs:
        for key, samples in run["statements"].items():
            totals[key][0] += len(samples)
            for wall, cpu, reads, writes in samples:
                totals[key][1:] = [totals[key][1] + wall * 1000, totals[key][2] + cpu * 1000,
                                   totals[key][3] + reads, totals[key][4] + writes]
    return {key: [value / len(runs) for value in values] for key, values in totals.items()}


def compare_statements(kind: str, a: list[dict], b: list[dict], small: int, large: int, top: int) -> None:
    x, y = per_run(a), per_run(b)
    zero = [0, 0.0, 0.0, 0, 0]
    keys = sorted(set(x) | set(y), key=lambda k: y.get(k, zero)[2] - x.get(k, zero)[2], reverse=True)
    print(f"\n{kind}: SQL per run, {small} vs {large} links (calls, wall ms, CPU ms, read/write system "
          "calls), by CPU growth")
    for key in keys[:top]:
        (ca, wa, pa, ra, sa), (cb, wb, pb, rb, sb) = x.get(key, zero), y.get(key, zero)
        print(f"  {ca:4.1f} {wa:7.2f} {pa:7.2f} {ra:6.0f}/{sa:<5.0f}| {cb:4.1f} {wb:7.2f} {pb:7.2f} {rb:6.0f}/{sb:<5.0f} {key}")


def compare_profiles(kind: str, small_result: dict, large_result: dict, small: int, large: int, top: int) -> None:
    runs = small_result["profile_runs"]  # the same for both, or the figures mean little
    x, y = small_result["profiles"][kind], large_result["profiles"][kind]
    for column, label in ((2, "own time"), (3, "cumulative time")):
        keys = sorted(set(x) | set(y), key=lambda k: (y[k][column] if k in y else 0) - (x[k][column] if k in x else 0),
                      reverse=True)
        print(f"\n{kind}: cProfile {label} per run (ms, calls), {small} vs {large} links, by growth")
        for key in keys[:top]:
            sa, sb = x.get(key, (0, 0, 0, 0)), y.get(key, (0, 0, 0, 0))
            where = f"{Path(key[0]).name}:{key[1]}({key[2]})"
            print(f"  {sa[column] * 1000 / runs:8.2f} {sa[1] / runs:8.0f} | {sb[column] * 1000 / runs:8.2f} "
                  f"{sb[1] / runs:8.0f}  {where}")


if __name__ == "__main__":
    main()
