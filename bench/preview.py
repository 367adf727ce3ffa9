"""Benchmark the dry-run preview of an initial contact sync: HubSpot sandbox <-> Salesforce sandbox.

    .venv/bin/python bench/preview.py [--contacts 10000] [--overlap 0.5] [--run] [--port 8773]

Seeds `--contacts` contacts on each side (`--overlap` of them sharing an email), then times the
preview over real HTTP: wall time, this process's CPU (engine and connectors; the sandboxes run
in their own process), HTTP calls per app. With `--run`, the real initial run follows and its
figures are printed beside the preview's, with whether they are equal. Asserts nothing.
"""

from __future__ import annotations

import argparse
import time

from engine_sync import peak_rss_mb, seed
from harness import bench_database, sandbox_connections, sandbox_server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=10_000, help="contacts seeded on each side")
    parser.add_argument("--overlap", type=float, default=0.5, help="share of them with an email on both sides")
    parser.add_argument("--run", action="store_true", help="then run the real initial sync and compare")
    parser.add_argument("--rate-limits", action="store_true", help="keep HubSpot's default rate limits")
    parser.add_argument("--port", type=int, default=8773)
    args = parser.parse_args()
    args.hubspot = args.salesforce = args.contacts

    with bench_database("preview-bench-") as env:
        import django

        django.setup()
        from django.db import connection

        started = time.perf_counter()
        portal, org = seed(args)
        print(f"seeded {args.contacts} contacts on each side in {time.perf_counter() - started:.1f}s "
              f"({env['DATABASE_URL']})")
        connection.close()
        with sandbox_server(env, args.port, "/salesforce/services/data/") as base:
            bench(base, portal, org, args)


def bench(base: str, portal, org, args) -> None:
    from connectors.base import CONTACTS
    from syncrules.engine import run_sync
    from syncrules.engine.api import preview_sync
    from syncrules.engine.helpers import http_calls
    from syncrules.engine.mappings import create_default_mappings
    from syncrules.engine.preview import comparable, run_figures
    from syncrules.models import ObjectSync

    hubspot, salesforce = sandbox_connections(base, portal, org, rate_limits=args.rate_limits)
    sync = ObjectSync.objects.create(connection_a=hubspot, connection_b=salesforce, object_type=CONTACTS)
    create_default_mappings(sync)

    def measured(label, action):
        connectors = {"a": hubspot.connector(), "b": salesforce.connector()}
        started, cpu = time.perf_counter(), time.process_time()
        outcome = action(connectors)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        calls = {side: http_calls(c) for side, c in connectors.items()}
        print(f"{label:8s} wall {seconds:7.2f}s  engine CPU {cpu:6.2f}s  HTTP calls HubSpot {calls['a']:5d} "
              f"Salesforce {calls['b']:5d} (total {sum(calls.values())})  peak RSS {peak_rss_mb():.0f} MB")
        for connector in connectors.values():
            connector.close()
        return outcome

    result = measured("preview", lambda c: preview_sync(sync.pk, connectors=c))
    figures = comparable(result)
    show("preview", figures, result)
    if not args.run:
        return
    run = measured("run", lambda c: run_sync(sync.pk, initial=True, connectors=c))
    actual = run_figures(run)
    show("run", actual, None)
    print("preview == initial run:", "yes" if actual == figures else f"NO\n  preview {figures}\n  run     {actual}")


def show(label: str, figures: dict, result: dict | None) -> None:
    for side, app in (("a", "HubSpot"), ("b", "Salesforce")):
        part = figures[side]
        read = f"read {result[side]['read']:6d} " if result else ""
        print(f"  {label:8s} in {app:10s} {read}create {part['create']:6d}  update {part['update']:6d}  "
              f"excluded {part['excluded']}  failed {part['failures']}")
    print(f"  {label:8s} matched {figures['matched']}")


if __name__ == "__main__":
    main()
