"""Benchmark the sync engine: HubSpot sandbox <-> Salesforce sandbox, contacts, two-way.

    .venv/bin/python bench/engine_sync.py [--hubspot 2000] [--salesforce 1000] [--changed 100] [--port 8772]

Uses its own SQLite file (or DATABASE_URL if set): migrates it, seeds a HubSpot portal and a
Salesforce org directly in the database, starts `manage.py sandbox_serve` in a subprocess, then
runs over real HTTP: the initial two-way sync, the run after it (which reads the initial run's
writes back), an incremental run after `--changed` edits on each side, and a quiet run. Prints records/second, HTTP calls per 100 records, peak memory and
run times. Asserts nothing.

With `--rate-limits` the sandbox portal enforces HubSpot's limits (190 calls per 10 s, search 5
per second) and the connectors keep their client-side limiters; the initial sync then prints
each limit's calls and share of its ceiling over the whole run, calls / (wall seconds x allowed
rate), the binding one (Salesforce has only a daily allocation, so a HubSpot limit binds), the
bounds those calls set (the limits side by side: the largest calls / rate; one after the other:
their sum), and where the engine thread's wall time went (its CPU, each app's calls in flight,
limiter waits, waits for a page), beside the sandbox server's CPU (bench/ratemeter.py).

The engine reads both sides at once and takes whichever side's page is ready (engine.runner),
so HubSpot's search limit (reading HubSpot) and its ten-second limit (looking up and creating
Salesforce's contacts in HubSpot) are spent side by side. `--no-interleave` reads side A, then
side B (SYNC_INTERLEAVE_SIDES off): the report then adds each half's shares, since each half is
bound by a different limit.
"""

from __future__ import annotations

import argparse
import resource
import time
from datetime import timedelta

from harness import SEARCH_LAG_SECONDS, bench_database, sandbox_connections, sandbox_server
from ratemeter import Ceiling, RateMeter, load_average


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hubspot", type=int, default=10_000, help="contacts seeded in the HubSpot portal")
    parser.add_argument("--salesforce", type=int, default=10_000, help="contacts seeded in the Salesforce org")
    parser.add_argument("--changed", type=int, default=100, help="contacts edited on each side before the incremental run")
    parser.add_argument("--overlap", type=float, default=0.5,
                        help="share of the Salesforce contacts that already exist in HubSpot (same email)")
    parser.add_argument("--rate-limits", action="store_true",
                        help="keep the HubSpot portal's default limits (190 per 10 s, search 5/s) and the client's limiters")
    parser.add_argument("--parallel-calls", type=int, default=None,
                        help="the connections' parallel_calls option (calls of one lookup, read or write at once)")
    parser.add_argument("--no-read-ahead", action="store_true", help="the connections read each page in turn")
    parser.add_argument("--no-interleave", action="store_true",
                        help="the engine reads side A's pages, then side B's (SYNC_INTERLEAVE_SIDES off)")
    parser.add_argument("--debug-off", action="store_true",
                        help="run this process and the sandbox server with DEBUG off, as production runs (no "
                             "query log: Django's debug cursor costs a few per cent of the engine's CPU)")
    parser.add_argument("--port", type=int, default=8772)
    args = parser.parse_args()
    if args.debug_off:
        debug_off()

    with bench_database("engine-bench-") as env:
        import django

        django.setup()
        from django.conf import settings
        from django.db import connection

        settings.SYNC_INTERLEAVE_SIDES = not args.no_interleave

        started = time.perf_counter()
        portal, org = seed(args)
        print(f"seeded {args.hubspot} HubSpot and {args.salesforce} Salesforce contacts in "
              f"{time.perf_counter() - started:.1f}s ({env['DATABASE_URL']})")
        connection.close()
        with sandbox_server(env, args.port, "/salesforce/services/data/") as base:
            run(base, portal, org, args)


def debug_off() -> None:
    """The environment of a production run on loopback: DEBUG off, throwaway keys, plain HTTP."""
    import os
    import secrets

    from cryptography.fernet import Fernet

    os.environ.update({"DEBUG": "false", "SECRET_KEY": secrets.token_urlsafe(40), "ALLOWED_HOSTS": "127.0.0.1,localhost",
                       "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(), "SECURE_SSL_REDIRECT": "false",
                       "SECURE_HSTS_SECONDS": "0"})


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
    threads = {**({"parallel_calls": args.parallel_calls} if args.parallel_calls else {}),
               **({"read_ahead": False} if args.no_read_ahead else {})}
    for connection in (hubspot, salesforce):
        connection.options = {**connection.options, **threads}
        connection.save(update_fields=["options"])
    print(f"connector threads: {threads or 'defaults (read-ahead on, 3 calls side by side)'}; the engine reads "
          + ("side A, then side B" if args.no_interleave else "both sides at once (interleaved pages)"))
    sync = ObjectSync.objects.create(connection_a=hubspot, connection_b=salesforce, object_type=CONTACTS,
                                     state=ObjectSync.State.ACTIVE)
    create_default_mappings(sync)
    print("mappings:", ", ".join(str(m) for m in sync.field_mappings.all()))

    rss_before = peak_rss_mb()
    print(f"before the initial sync: {load_average()}")
    with RateMeter(endpoint) as meter:
        initial = timed("initial two-way sync", lambda: run_sync(sync.pk))
    report_calls(meter.calls, minimum_calls(args, sync, initial))
    halves = None
    if args.no_interleave:  # HubSpot first (its searches), then Salesforce: the halves bind differently
        second = meter.phase_start(lambda app, name: app == "salesforce" and name.endswith(": changes"))
        halves = {"the HubSpot side (read by search)": (0.0, second), "the Salesforce side": (second, meter.wall)}
    meter.report(ceilings(portal), halves)
    print(f"peak memory (max RSS of this process): {peak_rss_mb():.0f} MB (was {rss_before:.0f} MB before the run)")

    # The initial run's own writes come back once as changes (no delta, nothing written).
    timed("next run (reads back the initial's writes)", lambda: run_sync(sync.pk))

    links = list(RecordLink.objects.filter(object_sync=sync, status=LinkStatus.IN_SYNC)[: 2 * args.changed])
    edit_a = {link.id_a: {"jobtitle": f"Bench title {n}"} for n, link in enumerate(links[: args.changed])}
    edit_b = {link.id_b: {"Title": f"Bench title B{n}"} for n, link in enumerate(links[args.changed:])}
    hubspot.connector().write(CONTACTS, updates=edit_a)
    salesforce.connector().write(CONTACTS, updates=edit_b)
    # Past the HubSpot connection's search-lag window (the sandbox's index lags 2 s) and the
    # Salesforce connector's one-second re-read window, so the run reads every edit.
    time.sleep(max(1.1, SEARCH_LAG_SECONDS + 0.1))
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


def endpoint(method: str, url: str, params, body=None) -> tuple[str, str]:
    """(app, endpoint) of one request: ids in paths become {id}; a SOQL query is named by its
    object and WHERE shape (changes, lookup by a field's IN list, next batch)."""
    import re
    from urllib.parse import urlsplit

    path = urlsplit(url).path
    app = "hubspot" if "/hubspot" in path else "salesforce" if "/salesforce" in path else "other"
    path = re.sub(r"^.*?/(crm|services|oauth|account-info)/", r"/\1/", path)
    if app == "salesforce" and "/query" in path:
        soql = str((params or {}).get("q") or "")
        if not soql:
            return app, "query: next batch (nextRecordsUrl)"
        sobject = re.search(r"FROM (\w+)", soql)
        lookup = re.search(r"WHERE (\w+) IN \(", soql)
        shape = (f"lookup by {lookup.group(1)} IN (...)" if lookup else "deleted" if "IsDeleted = true" in soql
                 else "changes" if "SystemModstamp" in soql else "other")
        return app, f"query {sobject.group(1) if sobject else '?'}: {shape}"
    name = f"{method} " + re.sub(r"/\d+(?=/|$)", "/{id}", path)
    if path.endswith("/batch/read") and "/v3/" in path and isinstance(body, dict):
        name += " by email" if body.get("idProperty") == "email" else " by id"
    return app, name


# The vendors' limits the minimum is computed from (../shared/reference/api-contracts.md).
HUBSPOT_BATCH = 100  # inputs per batch read/create/update (1.5)
HUBSPOT_SEARCH_PAGE = 200  # search results per page (1.6)
HUBSPOT_ASSOCIATION_BATCH = 1000  # inputs per v4 association batch read (1.10)
SALESFORCE_QUERY_BATCH = 2000  # records per query batch (2.3)
SALESFORCE_COLLECTION = 200  # records per sObject Collections call (2.6)
SALESFORCE_URI_BYTES = 16_384  # URI and headers of one REST call (a longer query URI is a 414)


def minimum_calls(args, sync, run) -> dict[tuple[str, str], int]:
    """The fewest calls the batch sizes allow for this scenario's initial two-way sync.

    HubSpot is read whole (search pages of 200, plus a contact's companies at 1,000 ids per
    association read); every HubSpot contact is looked up in Salesforce by email (as many
    emails per query as fit in the 16 KB URI besides the query's SELECT list, at most 2,000
    rows per batch); what is not found is created there (Collections of 200); the overlap is
    matched, and the records whose values differ are updated (on each side as many as the run
    updated, at the batch sizes). Then Salesforce is read whole
    (query batches of 2,000) and its contacts not yet linked are looked up in HubSpot (batch
    read by email, 100) and created there (batch create, 100). Reading back the run's own
    writes, or re-reading a record the run already holds, is never needed.
    """
    import math
    from urllib.parse import quote_plus

    from django.db.models import Count

    from connectors.base import CONTACTS
    from sandbox.hubspot.models import CrmObject
    from syncrules.models import RecordOutcome, Side

    updated = dict(RecordOutcome.objects.filter(run=run, action=RecordOutcome.Action.UPDATED)
                   .values_list("side").annotate(n=Count("pk")).values_list("side", "n"))

    hub, sf = args.hubspot, args.salesforce
    shared = int(args.overlap * min(hub, sf))
    emails = list(CrmObject.objects.filter(object_type="contacts").exclude(email="")
                  .values_list("email", flat=True)[:hub])
    connector = sync.connection_b.connector()
    fields = connector._select(CONTACTS)  # the SELECT list the app needs (every synced field)
    prefix = len(f"{sync.connection_b.base_url}/services/data/v60.0/query?q=") + len(quote_plus(
        f"SELECT {', '.join(fields)} FROM Contact WHERE Email IN ()"))
    budget = SALESFORCE_URI_BYTES - 1024 - prefix  # headers (bearer token, accept, host ...) ~1 KB
    lookups, used = 1 if emails else 0, 0
    for email in emails:
        size = len(quote_plus(f"'{email}', "))
        if used + size > budget:
            lookups, used = lookups + 1, 0
        used += size
    lookups = max(lookups, math.ceil(shared / SALESFORCE_QUERY_BATCH))
    return {
        ("hubspot", "read (search pages)"): math.ceil(hub / HUBSPOT_SEARCH_PAGE),
        ("hubspot", "read associations"): math.ceil(hub / HUBSPOT_ASSOCIATION_BATCH),
        ("salesforce", "lookup by email"): lookups,
        ("salesforce", "create"): math.ceil((hub - shared) / SALESFORCE_COLLECTION),
        ("salesforce", "update"): math.ceil(updated.get(Side.B, 0) / SALESFORCE_COLLECTION),
        ("hubspot", "update"): math.ceil(updated.get(Side.A, 0) / HUBSPOT_BATCH),
        ("salesforce", "read (query batches)"): math.ceil(sf / SALESFORCE_QUERY_BATCH),
        ("hubspot", "lookup by email"): math.ceil((sf - shared) / HUBSPOT_BATCH),
        ("hubspot", "create"): math.ceil((sf - shared) / HUBSPOT_BATCH),
    }


GROUPS = {  # our endpoints -> the minimum's rows
    ("hubspot", "POST /crm/v3/objects/contacts/search"): ("hubspot", "read (search pages)"),
    ("hubspot", "POST /crm/v4/associations/contacts/companies/batch/read"): ("hubspot", "read associations"),
    ("hubspot", "POST /crm/v3/objects/contacts/batch/create"): ("hubspot", "create"),
    ("hubspot", "POST /crm/v3/objects/contacts/batch/update"): ("hubspot", "update"),
    ("hubspot", "POST /crm/v3/objects/contacts/batch/read by email"): ("hubspot", "lookup by email"),
    ("salesforce", "query Contact: lookup by Email IN (...)"): ("salesforce", "lookup by email"),
    ("salesforce", "query Contact: changes"): ("salesforce", "read (query batches)"),
    ("salesforce", "query: next batch (nextRecordsUrl)"): ("salesforce", "read (query batches)"),
    ("salesforce", "POST /services/data/v60.0/composite/sobjects"): ("salesforce", "create"),
    ("salesforce", "PATCH /services/data/v60.0/composite/sobjects"): ("salesforce", "update"),
}


def report_calls(counts: dict[tuple[str, str], int], minimum: dict[tuple[str, str], int]) -> None:
    """Our calls per endpoint beside the minimum's, and the total ratio (goal <= 1.2)."""
    ours: dict[tuple[str, str], int] = {}
    print("HTTP calls of the initial sync, per endpoint:")
    for key, count in sorted(counts.items(), key=lambda kv: -kv[1]):
        print(f"  {key[0]:10s} {key[1]:62s} {count:5d}")
        if key in GROUPS:
            ours[GROUPS[key]] = ours.get(GROUPS[key], 0) + count
    setup = sum(counts.values()) - sum(ours.values())
    print("ours / minimum the batch sizes allow:")
    for key, least in minimum.items():
        mine = ours.get(key, 0)
        print(f"  {key[0]:10s} {key[1]:30s} ours {mine:5d}  minimum {least:5d}  ratio {mine / least if least else 0:5.2f}")
    total, least = sum(counts.values()), sum(minimum.values())
    print(f"  {'total':41s} ours {total:5d}  minimum {least:5d}  ratio {total / least:5.2f}  "
          f"(of ours, {setup} setup calls: describe, properties, ...)")


def ceilings(portal) -> list[Ceiling]:
    """The portal's limits (HubSpot's, reference 1.13): search calls count against the search
    limit only, every other call against the ten-second one."""
    per_second = portal.ten_second_limit / (portal.interval_ms / 1000)
    return [
        Ceiling("hubspot", f"ten-second limit ({portal.ten_second_limit} per {portal.interval_ms / 1000:g} s)",
                per_second, lambda _app, name: not name.endswith("/search")),
        Ceiling("hubspot", f"search limit ({portal.search_per_second} per second)", portal.search_per_second,
                lambda _app, name: name.endswith("/search")),
    ]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
