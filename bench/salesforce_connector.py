"""Benchmark the Salesforce connector against the sandbox served on its own port.

    .venv/bin/python bench/salesforce_connector.py [--contacts 10000] [--changed 100] [--port 8771]

Uses its own SQLite file (or DATABASE_URL if set): migrates it, seeds an org directly in the
database, starts `manage.py sandbox_serve` in a subprocess, then times over real HTTP:
a full read of every contact, an incremental read after `--changed` updates, and creating
`--contacts` new contacts. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta

from harness import bench_database, sandbox_server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=10000)
    parser.add_argument("--changed", type=int, default=100)
    parser.add_argument("--port", type=int, default=8771)
    args = parser.parse_args()

    with bench_database("sf-bench-") as env:
        import django

        django.setup()
        from django.db import connection
        from django.utils import timezone

        from sandbox.salesforce.models import Record
        from sandbox.salesforce.seed import seed_org

        started = time.perf_counter()
        seeded = seed_org(f"bench{int(time.time())}", contacts=args.contacts, accounts=100, api_max=10_000_000)
        # Existing data is older than the sync: age it so the full read's cursor is exact.
        Record.objects.filter(org=seeded.org).update(
            system_modstamp=timezone.now().replace(microsecond=0) - timedelta(hours=1)
        )
        print(f"seeded {args.contacts} contacts in {time.perf_counter() - started:.1f}s ({env['DATABASE_URL']})")
        connection.close()
        with sandbox_server(env, args.port, "/salesforce/services/data/") as base:
            run(f"{base}/salesforce", seeded, args)


def run(base: str, seeded, args) -> None:
    from connectors.base import CONTACTS
    from connectors.salesforce.connector import SalesforceConnector

    credentials = {
        "access_token": seeded.access_token,
        "refresh_token": seeded.refresh_token,
        "instance_url": base,
        "client_id": seeded.org.client_id,
        "client_secret": seeded.org.client_secret,
    }

    def connector() -> SalesforceConnector:
        made = SalesforceConnector(base, credentials, options={"api_budget_share": 1.0})
        made.describe("Contact")  # discovery is cached per connector; time the data calls alone
        made.calls_before = made.client.http.calls
        return made

    full = connector()
    started = time.perf_counter()
    pages = list(full.read_changes(CONTACTS))
    report("full read", sum(len(p.records) for p in pages), full, started)

    writer = connector()
    ids = [r.id for r in pages[0].records[: args.changed]]
    results = writer.write(CONTACTS, updates={i: {"Title": "Changed by the benchmark"} for i in ids})
    assert all(r.ok for r in results), results[:3]

    incremental = connector()
    started = time.perf_counter()
    changed = list(incremental.read_changes(CONTACTS, pages[-1].cursor))
    report(
        f"incremental read ({args.changed} changed)",
        sum(len(p.records) for p in changed),
        incremental,
        started,
    )

    creator = connector()
    creates = [
        {"LastName": f"Bench {i}", "FirstName": "Load", "Email": f"load{i}@bench.example"}
        for i in range(args.contacts)
    ]
    started = time.perf_counter()
    results = creator.write(CONTACTS, creates)
    report("create", sum(r.ok for r in results), creator, started)
    used, allowed = creator.api_usage
    print(f"org API usage after the run: {used} of {allowed}")


def report(label: str, count: int, connector, started: float) -> None:
    seconds = time.perf_counter() - started
    calls = connector.client.http.calls - connector.calls_before
    rate = count / seconds if seconds else 0
    print(f"{label:34s} {count:6d} records  {calls:4d} HTTP calls  {seconds:6.2f}s  {rate:8.0f} records/s")


if __name__ == "__main__":
    main()
