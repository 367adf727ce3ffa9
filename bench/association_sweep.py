"""Benchmark the association sweep: what one run costs as the number of links grows.

    .venv/bin/python bench/association_sweep.py [--sizes 10000 100000] [--slice 2000] [--runs N] [--changes 3]

For apps without an association change feed (HubSpot), a run compares the associations of a
slice of the linked records (ASSOCIATION_SWEEP_SLICE, default 2,000, continuing where the last
sweep stopped and wrapping around): records that changed are compared when they are read, so
the sweep is only for association-only changes, and each link is compared within
ceil(links / slice) sweeps. Uses its own SQLite file (or DATABASE_URL if set).

For each size it seeds two memory apps (batches of 1,000, HubSpot's association batch read)
with that many linked contacts per side, each associated with one of size/10 linked companies,
and the links as a finished initial sync leaves them (so every run is quiet but for the sweep),
plants --changes association-only changes on side A spread over the links (the last one at the
last link), then runs the contact sync --runs times (default: the promised ceil(links / slice)
sweeps, plus one) with a sweep due at every run. It prints the first runs and those that found
a change (association reads: records whose associations were read, and calls; SQL queries;
seconds; associations written), the range of those figures over all runs, the run that found
each planted change, and one run with the slice as large as the links (a sweep of every link,
as it was before). Asserts nothing.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections import Counter

from harness import bench_database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000], help="linked contacts")
    parser.add_argument("--slice", type=int, default=None, help="links per sweep (default: the setting)")
    parser.add_argument("--runs", type=int, default=None, help="runs per size (default: the promised sweeps + 1)")
    parser.add_argument("--show", type=int, default=3, help="runs printed in full (besides those that found a change)")
    parser.add_argument("--changes", type=int, default=3, help="association-only changes planted on side A")
    args = parser.parse_args()

    with bench_database("assoc-sweep-") as env:
        import django

        django.setup()
        from django.conf import settings
        from django.db import connection

        if args.slice:
            settings.ASSOCIATION_SWEEP_SLICE = args.slice
        print(f"database: {connection.vendor} ({env['DATABASE_URL'].split('@')[-1]}); load: {os.getloadavg()}")
        for size in args.sizes:
            print(f"\n--- {size} linked contacts, {size // 10} linked companies ---")
            scenario(size, args)


def scenario(size: int, args) -> None:
    from django.conf import settings

    world = seed(size)
    slice_size = settings.ASSOCIATION_SWEEP_SLICE
    planted = plant(world, args.changes)
    promised = math.ceil(size / slice_size)
    print(f"slice {slice_size} links per sweep: every link compared within {promised} sweeps; "
          f"{len(planted)} association-only changes planted at links {sorted(p for p, _ in planted)}")
    found: dict[int, int] = {}  # planted link -> the run that found it
    runs = args.runs or promised + 1
    seen = []
    for number in range(1, runs + 1):
        figures = measure(world)
        seen.append(figures)
        for change in planted:
            if change[0] not in found and caught(world, change):
                found[change[0]] = number
        if number <= args.show or figures["associated"]:
            print(f"run {number:3d}: association reads {figures['ids']:7d} records in {figures['calls']:4d} calls "
                  f"(side A {figures['ids_a']}, side B {figures['ids_b']})  SQL queries {figures['queries']:5d}  "
                  f"{figures['seconds']:6.2f}s  associations written {figures['associated']}")
    spread = {key: (min(f[key] for f in seen), max(f[key] for f in seen)) for key in ("ids", "calls", "queries", "seconds")}
    print(f"over {runs} runs, per run: association reads {spread['ids'][0]}..{spread['ids'][1]} records in "
          f"{spread['calls'][0]}..{spread['calls'][1]} calls, SQL queries {spread['queries'][0]}..{spread['queries'][1]}, "
          f"{spread['seconds'][0]:.2f}..{spread['seconds'][1]:.2f}s")
    print(f"planted changes (link pk -> the run that found it): {dict(sorted(found.items()))}; "
          f"not found: {sorted(pk for pk, _ in planted if pk not in found)} (promised within {promised} runs)")
    settings.ASSOCIATION_SWEEP_SLICE = size
    figures = measure(world)
    print(f"a sweep of every link (slice {size}): association reads {figures['ids']} records in "
          f"{figures['calls']} calls, SQL queries {figures['queries']}, {figures['seconds']:.2f}s")
    settings.ASSOCIATION_SWEEP_SLICE = slice_size


class World:
    def __init__(self, apps, syncs, contacts, companies):
        self.apps, self.syncs, self.contacts, self.companies = apps, syncs, contacts, companies


def seed(size: int) -> World:
    """Memory apps with `size` contacts per side, linked pairwise, each with its company."""
    from django.utils import timezone

    from connectors.base import COMPANIES, CONTACTS
    from connectors.models import Connection
    from syncrules.engine.mappings import create_default_mappings
    from syncrules.models import LinkStatus, ObjectSync, RecordLink
    from syncrules.tests.memory_connector import REGISTRY, SALESFORCE_PIPELINE, Apps, Clock, MemoryApp

    Connection.connector = lambda self: REGISTRY[self.pk].connector()  # a bench process: patch for good
    clock = Clock()
    apps = Apps(clock, MemoryApp("ha_", clock, page_size=1000, batch_size=1000),
                MemoryApp("sf_", clock, page_size=2000, batch_size=1000,
                          pipelines=(SALESFORCE_PIPELINE,), implicit_pipeline=True))
    started = time.perf_counter()
    companies = [(apps.a.create(COMPANIES, name=f"Co{n}", domain=f"co{n}.example"),
                  apps.b.create(COMPANIES, name=f"Co{n}", domain=f"co{n}.example")) for n in range(max(1, size // 10))]
    contacts = []
    for n in range(size):
        pair = (apps.a.create(CONTACTS, email=f"p{n}@example.com", first=f"F{n}", last=f"L{n}"),
                apps.b.create(CONTACTS, email=f"p{n}@example.com", first=f"F{n}", last=f"L{n}"))
        company = companies[n % len(companies)]
        for app, contact, company_id in ((apps.a, pair[0], company[0]), (apps.b, pair[1], company[1])):
            app.associate(CONTACTS, contact, COMPANIES, company_id, primary=True)
        contacts.append(pair)
    conn_a = Connection.objects.create(kind="hubspot", name=f"A {size}", credentials={})
    conn_b = Connection.objects.create(kind="salesforce", name=f"B {size}", credentials={})
    apps.attach(conn_a, conn_b)
    now = timezone.now()
    syncs = {}
    for kind, pairs in ((COMPANIES, companies), (CONTACTS, contacts)):
        sync = ObjectSync.objects.create(
            connection_a=conn_a, connection_b=conn_b, object_type=kind, state=ObjectSync.State.ACTIVE,
            cursor_a=apps.a.seq, cursor_b=apps.b.seq, initial_sync_done_at=now,
            options={"association_sweep_seconds": 0},
        )
        create_default_mappings(sync, apps.a.connector(), apps.b.connector())
        rows = []
        for n, (id_a, id_b) in enumerate(pairs):
            memory = {}
            if kind == CONTACTS:
                company = companies[n % len(companies)]
                memory = {COMPANIES: [f"{company[0]}|{company[1]}"]}
            rows.append(RecordLink(object_sync=sync, id_a=id_a, id_b=id_b, status=LinkStatus.IN_SYNC,
                                   associations=memory, last_synced_at=now))
        RecordLink.objects.bulk_create(rows, batch_size=5000)
        syncs[kind] = sync
    print(f"seeded in {time.perf_counter() - started:.1f}s")
    return World(apps, syncs, contacts, companies)


def plant(world: World, count: int) -> list[tuple[int, tuple[str, str]]]:
    """Move `count` contacts of side A to another company, spread over the links (last one last)."""
    from connectors.base import COMPANIES, CONTACTS
    from syncrules.models import RecordLink

    planted = []
    links = list(RecordLink.objects.filter(object_sync=world.syncs[CONTACTS]).order_by("pk").values_list("pk", "id_a"))
    for k in range(count):
        pk, id_a = links[(k + 1) * len(links) // (count + 1) if k < count - 1 else len(links) - 1]
        old = world.apps.a.associations(CONTACTS, id_a, COMPANIES)[0]
        new = world.companies[(world.companies.index(next(c for c in world.companies if c[0] == old)) + 1)
                              % len(world.companies)]
        world.apps.a.dissociate(CONTACTS, id_a, COMPANIES, old)
        world.apps.a.associate(CONTACTS, id_a, COMPANIES, new[0], primary=True)
        planted.append((pk, (id_a, new[1])))
    return planted


def caught(world: World, change: tuple[int, tuple[str, str]]) -> bool:
    """Side B's contact has the company side A moved it to."""
    from connectors.base import COMPANIES, CONTACTS
    from syncrules.models import RecordLink

    _, (id_a, company_b) = change
    id_b = RecordLink.objects.get(object_sync=world.syncs[CONTACTS], id_a=id_a).id_b
    return world.apps.b.associations(CONTACTS, id_b, COMPANIES) == [company_b]


class Counting:
    """A memory connector that counts the records whose associations it reads."""

    def __init__(self, app, side: str, counts: Counter) -> None:
        self.inner, self.side, self.counts = app.connector(), side, counts

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def read_associations(self, object_type, ids, to_type):
        self.counts[self.side] += len(ids)
        return self.inner.read_associations(object_type, ids, to_type)


def measure(world: World) -> dict:
    from django.db import connection

    from connectors.base import CONTACTS
    from syncrules.engine import run_sync

    ids, queries = Counter(), [0]

    def count(execute, sql, params, many, context):
        queries[0] += 1
        return execute(sql, params, many, context)

    apps = (world.apps.a, world.apps.b)
    calls = sum(app.calls_by_method["read_associations"] for app in apps)
    connectors = {"a": Counting(world.apps.a, "a", ids), "b": Counting(world.apps.b, "b", ids)}
    started = time.perf_counter()
    with connection.execute_wrapper(count):
        run = run_sync(world.syncs[CONTACTS].pk, connectors=connectors)
    return {"ids": sum(ids.values()), "ids_a": ids["a"], "ids_b": ids["b"], "queries": queries[0],
            "calls": sum(app.calls_by_method["read_associations"] for app in apps) - calls,
            "seconds": time.perf_counter() - started, "associated": run.associated}


if __name__ == "__main__":
    main()
