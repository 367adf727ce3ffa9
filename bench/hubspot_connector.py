"""Benchmark the HubSpot connector against the sandbox served on its own port.

    .venv/bin/python bench/hubspot_connector.py [--contacts 10000] [--changed 100] [--port 8772]

Uses its own SQLite file (or DATABASE_URL if set): migrates it, seeds a portal with
`manage.py sandbox_seed hubspot` (with the default rate limits of a Professional private app:
190 requests per 10 s, search 5 per second), starts `manage.py sandbox_serve` in a subprocess,
then measures over real HTTP: a full read of every contact, an incremental read after
`--changed` updates, and creating `--contacts` new contacts. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import subprocess
import time

from harness import MANAGE, ROOT, bench_database, sandbox_server


def measure(label: str, conn, action):
    calls, retries, started = conn.client.calls, conn.client.http.retries, time.perf_counter()
    result = action()
    seconds = time.perf_counter() - started
    print(f"{label:<44} {conn.client.calls - calls:>6} HTTP calls {seconds:>8.1f} s"
          f"   ({conn.client.http.retries - retries} retried)")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--changed", type=int, default=100)
    parser.add_argument("--port", type=int, default=8772)
    args = parser.parse_args()

    with bench_database("hs-bench-") as env:
        hub_id, token = 4_000_000 + int(time.time()) % 100_000, f"pat-na1-bench-{int(time.time())}"
        started = time.perf_counter()
        subprocess.run([*MANAGE, "sandbox_seed", "hubspot", "--portal", str(hub_id), "--contacts",
                        str(args.contacts), "--companies", "200", "--token", token], env=env, check=True,
                       cwd=ROOT, stdout=subprocess.DEVNULL)
        print(f"seeded {args.contacts} contacts and 200 companies in {time.perf_counter() - started:.1f}s "
              f"({env['DATABASE_URL']})")
        with sandbox_server(env, args.port, "/hubspot/crm/v3/objects/contacts") as base:
            run(f"{base}/hubspot", token, args)


def run(base: str, token: str, args) -> None:
    from connectors.hubspot.connector import HubSpotConnector

    # Default client limits (190/10 s, search 5/s). The sandbox's search has no indexing lag, so
    # the incremental read need not wait for changes to settle (search_lag_seconds=0).
    conn = HubSpotConnector(base, {"access_token": token}, options={"search_lag_seconds": 0})
    print("portal limits: 190 requests / 10 s, search 5 / s (sandbox defaults); client limiters on")
    conn.fields("contacts")  # one properties call, cached for the rest of the run

    def full_read():
        pages = list(conn.read_changes("contacts"))
        return pages, sum(len(p.records) for p in pages)

    pages, count = measure(f"full read of {args.contacts} contacts", conn, full_read)
    cursor = pages[-1].cursor
    print(f"  -> {count} records in {len(pages)} pages")
    ids = [r.id for p in pages for r in p.records][:: max(1, count // args.changed)][: args.changed]
    measure(f"update {len(ids)} contacts (batch)", conn,
            lambda: conn.write("contacts", updates={i: {"jobtitle": "Changed by bench"} for i in ids}))

    def incremental():
        return sum(len(p.records) for p in conn.read_changes("contacts", cursor))

    changed = measure(f"incremental read ({args.changed} changed)", conn, incremental)
    print(f"  -> {changed} records")
    creates = [{"email": f"bench{i}@bench.example", "firstname": "Bench", "lastname": f"Contact {i}",
                "jobtitle": "Tester"} for i in range(args.contacts)]
    results = measure(f"create {args.contacts} contacts", conn, lambda: conn.write("contacts", creates=creates))
    failed = [r for r in results if not r.ok]
    print(f"  -> {len(results) - len(failed)} created, {len(failed)} failed")
    print(f"total HTTP calls {conn.client.calls}, retried {conn.client.http.retries} "
          "(a retry after a 429 would mean the client went over the limit)")


if __name__ == "__main__":
    main()
