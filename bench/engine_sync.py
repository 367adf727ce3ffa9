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
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hubspot", type=int, default=2000, help="contacts seeded in the HubSpot portal")
    parser.add_argument("--salesforce", type=int, default=1000, help="contacts seeded in the Salesforce org")
    parser.add_argument("--changed", type=int, default=100, help="contacts edited on each side before the incremental run")
    parser.add_argument("--port", type=int, default=8772)
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="engine-bench-")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "syncsite.settings", "SANDBOX_ENABLED": "true", "LOG_LEVEL": "WARNING"}
    env.setdefault("DATABASE_URL", f"sqlite:///{workdir}/bench.sqlite3")
    os.environ.update(env)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, check=True, cwd=ROOT)

    import django

    django.setup()
    from django.db import connection

    started = time.perf_counter()
    portal, org = seed(args)
    print(f"seeded {args.hubspot} HubSpot and {args.salesforce} Salesforce contacts in "
          f"{time.perf_counter() - started:.1f}s ({env['DATABASE_URL']})")
    connection.close()

    server = subprocess.Popen([*manage, "sandbox_serve", "--port", str(args.port)], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{args.port}/sandbox"
        wait_for(base + "/salesforce/services/data/")
        run(base, portal, org, args)
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


def seed(args):
    from django.utils import timezone

    from sandbox.hubspot.seed import ensure_portal, seed_records
    from sandbox.salesforce.models import Record
    from sandbox.salesforce.seed import seed_org

    portal = ensure_portal(int(time.time()) % 1_000_000 + 1_000_000, rate_limit_enabled=False)
    seed_records(portal, contacts=args.hubspot)
    org = seed_org(f"bench{int(time.time())}", contacts=args.salesforce, accounts=20, api_max=10_000_000)
    # Existing data is older than the sync: age it so the first cursor is exact.
    Record.objects.filter(org=org.org).update(system_modstamp=timezone.now().replace(microsecond=0) - timedelta(hours=1))
    return portal, org


def wait_for(url: str) -> None:
    for _ in range(100):
        try:
            urllib.request.urlopen(url, timeout=1)  # noqa: S310 (our own loopback URL)
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the sandbox did not come up at {url}")


def run(base: str, portal, org, args) -> None:
    from connectors.base import CONTACTS
    from connectors.models import Connection
    from syncrules.engine import run_sync
    from syncrules.engine.mappings import create_default_mappings
    from syncrules.models import LinkStatus, ObjectSync, RecordLink

    hubspot = Connection.objects.create(
        kind="hubspot", name="HubSpot sandbox", base_url=f"{base}/hubspot",
        credentials={"access_token": portal.private_token},
        # The sandbox indexes searches at once; real HubSpot lags (the connector waits 15 s by default).
        options={"client_rate_limit": False, "search_lag_seconds": 0},
    )
    salesforce = Connection.objects.create(
        kind="salesforce", name="Salesforce sandbox", base_url=f"{base}/salesforce",
        credentials={"access_token": org.access_token, "refresh_token": org.refresh_token,
                     "instance_url": f"{base}/salesforce", "client_id": org.org.client_id,
                     "client_secret": org.org.client_secret},
        options={"api_budget_share": 1.0},
    )
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
    del initial


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
