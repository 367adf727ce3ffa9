"""Benchmark the sync engine: HubSpot sandbox <-> Salesforce sandbox, contacts, two-way.

    .venv/bin/python bench/engine_sync.py [--hubspot 2000] [--salesforce 1000] [--changed 100] [--port 8772]

Uses its own SQLite file (or DATABASE_URL if set): migrates it, seeds a HubSpot portal and a
Salesforce org directly in the database, starts `manage.py sandbox_serve` in a subprocess, then
runs over real HTTP: the initial two-way sync, the run after it (which reads the initial run's
writes back), an incremental run after `--changed` edits on each side, and a quiet run. Prints records/second, HTTP calls per 100 records, peak memory and
run times. Asserts nothing.
"""

from __future__ import annotations

import argparse
import resource
import time
from datetime import timedelta

from harness import bench_database, sandbox_connections, sandbox_server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hubspot", type=int, default=2000, help="contacts seeded in the HubSpot portal")
    parser.add_argument("--salesforce", type=int, default=1000, help="contacts seeded in the Salesforce org")
    parser.add_argument("--changed", type=int, default=100, help="contacts edited on each side before the incremental run")
    parser.add_argument("--overlap", type=float, default=0.5,
                        help="share of the Salesforce contacts that already exist in HubSpot (same email)")
    parser.add_argument("--rate-limits", action="store_true",
                        help="keep the HubSpot portal's default limits (190 per 10 s, search 5/s) and the client's limiters")
    parser.add_argument("--port", type=int, default=8772)
    args = parser.parse_args()

    with bench_database("engine-bench-") as env:
        import django

        django.setup()
        from django.db import connection

        started = time.perf_counter()
        portal, org = seed(args)
        print(f"seeded {args.hubspot} HubSpot and {args.salesforce} Salesforce contacts in "
              f"{time.perf_counter() - started:.1f}s ({env['DATABASE_URL']})")
        connection.close()
        with sandbox_server(env, args.port, "/salesforce/services/data/") as base:
            run(base, portal, org, args)


def seed(args):
    from django.utils import timezone

    from sandbox.hubspot.seed import ensure_portal, seed_records
    from sandbox.salesforce.models import Record
    from sandbox.salesforce.seed import seed_org

    portal = ensure_portal(int(time.time()) % 1_000_000 + 1_000_000, rate_limit_enabled=args.rate_limits)
    seed_records(portal, contacts=args.hubspot)
    org = seed_org(f"bench{int(time.time())}", contacts=args.salesforce, accounts=20, api_max=10_000_000)
    overlap(portal, org, args)
    # Existing data is older than the sync: age it so the first cursor is exact.
    Record.objects.filter(org=org.org).update(system_modstamp=timezone.now().replace(microsecond=0) - timedelta(hours=1))
    return portal, org


def overlap(portal, org, args) -> None:
    """Give a share of the Salesforce contacts the email (in other letter case) and name of a
    HubSpot contact, so the initial sync has that many records to match instead of create."""
    from sandbox.hubspot.models import CrmObject
    from sandbox.salesforce.models import Record

    wanted = int(args.overlap * min(args.hubspot, args.salesforce))
    hub = list(CrmObject.objects.filter(portal=portal, object_type="contacts").exclude(email="")
               .order_by("pk")[:wanted])
    sf = list(Record.objects.filter(org=org.org, sobject="Contact").order_by("pk")[: len(hub)])
    for source, target in zip(hub, sf, strict=False):
        props = source.properties
        target.data = {**target.data, "Email": props["email"].upper(),
                       "FirstName": props.get("firstname") or target.data.get("FirstName"),
                       "LastName": props.get("lastname") or target.data.get("LastName")}
    Record.objects.bulk_update(sf, ["data"], batch_size=500)
    print(f"overlap: {len(sf)} Salesforce contacts share an email with a HubSpot contact")


def run(base: str, portal, org, args) -> None:
    print("rate limits:", "HubSpot defaults (190 per 10 s, search 5/s) on both ends" if args.rate_limits else "off")
    from connectors.base import CONTACTS
    from syncrules.engine import run_sync
    from syncrules.engine.mappings import create_default_mappings
    from syncrules.models import LinkStatus, ObjectSync, RecordLink

    hubspot, salesforce = sandbox_connections(base, portal, org, rate_limits=args.rate_limits)
    sync = ObjectSync.objects.create(connection_a=hubspot, connection_b=salesforce, object_type=CONTACTS,
                                     state=ObjectSync.State.ACTIVE)
    create_default_mappings(sync)
    print("mappings:", ", ".join(str(m) for m in sync.field_mappings.all()))

    rss_before = peak_rss_mb()
    initial = timed("initial two-way sync", lambda: run_sync(sync.pk))
    print(f"peak memory (max RSS of this process): {peak_rss_mb():.0f} MB (was {rss_before:.0f} MB before the run)")

    # The initial run's own writes come back once as changes (no delta, nothing written).
    timed("next run (reads back the initial's writes)", lambda: run_sync(sync.pk))

    links = list(RecordLink.objects.filter(object_sync=sync, status=LinkStatus.IN_SYNC)[: 2 * args.changed])
    edit_a = {link.id_a: {"jobtitle": f"Bench title {n}"} for n, link in enumerate(links[: args.changed])}
    edit_b = {link.id_b: {"Title": f"Bench title B{n}"} for n, link in enumerate(links[args.changed:])}
    hubspot.connector().write(CONTACTS, updates=edit_a)
    salesforce.connector().write(CONTACTS, updates=edit_b)
    time.sleep(1.1)  # past the Salesforce connector's one-second re-read window
    timed(f"incremental run ({len(edit_a)} + {len(edit_b)} edits)", lambda: run_sync(sync.pk))
    timed("quiet run (no changes)", lambda: run_sync(sync.pk))
    check(hubspot, salesforce, edit_a, edit_b, links)
    print(f"links in sync: {RecordLink.objects.filter(object_sync=sync, status=LinkStatus.IN_SYNC).count()}, "
          f"excluded: {RecordLink.objects.filter(object_sync=sync, status=LinkStatus.EXCLUDED).count()}, "
          f"failing: {RecordLink.objects.filter(object_sync=sync, status=LinkStatus.FAILING).count()}")
    print(outcome_table_size())
    del initial


def outcome_table_size() -> str:
    """The outcome table's rows and bytes on disk (table and its indexes), a figure for what each
    outcome costs to keep."""
    from django.db import connection

    from syncrules.models import RecordOutcome

    table = RecordOutcome._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_total_relation_size(%s)", [table])
        else:  # SQLite's dbstat counts the pages of the table and of each of its indexes
            cursor.execute("SELECT SUM(pgsize) FROM dbstat WHERE name IN "
                           "(SELECT name FROM sqlite_master WHERE tbl_name = %s)", [table])
        size = cursor.fetchone()[0] or 0
        columns = [c.name for c in connection.introspection.get_table_description(cursor, table)]
        details = 0
        if "details" in columns:  # its share of the size (absent before the details existed)
            cursor.execute(f"SELECT SUM(LENGTH(CAST(details AS TEXT))) FROM {table}")  # noqa: S608 - our table name
            details = cursor.fetchone()[0] or 0
    rows = RecordOutcome.objects.count()
    return (f"outcomes: {rows} rows, {size / 1_048_576:.1f} MB with indexes ({size / max(rows, 1):.0f} bytes per "
            f"outcome, of which details {details / max(rows, 1):.0f})")


def check(hubspot, salesforce, edit_a, edit_b, links) -> None:
    """Say whether every edit reached the other app (a figure, not an assertion)."""
    from connectors.base import CONTACTS

    by_a = {link.id_a: link.id_b for link in links}
    by_b = {link.id_b: link.id_a for link in links}
    on_b = salesforce.connector().read(CONTACTS, [by_a[i] for i in edit_a])
    on_a = hubspot.connector().read(CONTACTS, [by_b[i] for i in edit_b])
    reached_b = sum(on_b[by_a[i]].values.get("Title") == v["jobtitle"] for i, v in edit_a.items())
    reached_a = sum(on_a[by_b[i]].values.get("jobtitle") == v["Title"] for i, v in edit_b.items())
    print(f"edits arrived: HubSpot -> Salesforce {reached_b}/{len(edit_a)}, Salesforce -> HubSpot {reached_a}/{len(edit_b)}")


def timed(label: str, action):
    started, cpu = time.perf_counter(), time.process_time()
    run = action()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    records = run.processed
    per_100 = 100 * run.http_calls / records if records else 0
    rate = records / seconds if seconds else 0
    print(f"{label:40s} {run.status:9s} {seconds:7.2f}s  processed {records:6d} ({rate:6.0f} records/s)  "
          f"created {run.created:5d} updated {run.updated:4d} matched {run.matched:4d} excluded {run.excluded:4d} "
          f"failed {run.failed:4d}  HTTP calls {run.http_calls:5d} ({per_100:.1f} per 100 records)  "
          f"engine CPU {cpu:.1f}s")
    if run.error:
        print(f"  note: {run.error}")
    return run


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
