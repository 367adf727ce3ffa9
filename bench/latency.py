"""Benchmark change latency: from an edit in one app to its arrival in the other, with a worker.

    .venv/bin/python bench/latency.py [--contacts 300] [--edits 100] [--seconds 60] [--port 8781]

Uses its own SQLite file (or DATABASE_URL if set). Serves the whole site (sandboxes included) with
`manage.py runserver` in a subprocess, so the HubSpot sandbox's signed webhooks reach the site's
endpoint; starts `manage.py qcluster` (the embedded default: ORM broker) in another; runs the
initial two-way contacts sync; waits for the poll loop; then edits `--edits` random linked
contacts per side over `--seconds` (each a new last name) and prints p50/p95/max of the time
from each edit to the new value being in the other app, the runs started during the edits (and
those that found nothing to do: our own writes coming back, if not filtered) and how long each
poll task held a worker. HubSpot -> Salesforce goes by webhook, Salesforce -> HubSpot by polling
(CHANGE_POLL_SECONDS, default 15). `--edits 20 --seconds 120` spaces the edits so that runs do
not coalesce. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import threading
import time

from harness import MANAGE, ROOT, bench_database, sandbox_connections, wait_until_up


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=300, help="contacts seeded on each side (no overlap)")
    parser.add_argument("--edits", type=int, default=100, help="records edited per side")
    parser.add_argument("--seconds", type=float, default=60, help="the edits are spread over this long")
    parser.add_argument("--port", type=int, default=8781)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("Q_WORKERS", 2)),
                        help="django-q2 workers")
    args = parser.parse_args()

    with bench_database("latency-bench-") as env:
        env["Q_WORKERS"] = str(args.workers)
        import django

        django.setup()
        from django.db import connection

        site = f"http://127.0.0.1:{args.port}"
        log = open(os.path.join(os.path.dirname(env["DATABASE_URL"].split("///")[-1]), "site.log"), "w")  # noqa: SIM115
        server = subprocess.Popen([*MANAGE, "runserver", f"127.0.0.1:{args.port}", "--noreload"], env=env, cwd=ROOT,
                                  stdout=log, stderr=log)
        worker = None
        try:
            wait_until_up(f"{site}/sandbox/salesforce/services/data/")
            sync, pairs = prepare(site, args)
            connection.close()
            worker = subprocess.Popen([*MANAGE, "qcluster"], env=env, cwd=ROOT,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_for_poller()
            measure(sync, pairs, args)
        finally:
            for process in (worker, server):
                if process is not None:
                    process.terminate()
                    try:
                        process.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        process.kill()  # runserver may linger on a thread still delivering webhooks
                        process.wait(timeout=15)


def prepare(site: str, args):
    """Seed both apps, connect them (webhooks to the site), run the initial sync; the sync and its
    linked pairs (HubSpot id, Salesforce id)."""
    from sandbox.hubspot.models import Portal
    from sandbox.hubspot.seed import ensure_portal, seed_records
    from sandbox.salesforce.seed import seed_org
    from syncrules.engine import run_sync
    from syncrules.engine.mappings import create_default_mappings
    from syncrules.models import LinkStatus, ObjectSync, RecordLink

    portal = ensure_portal(int(time.time()) % 1_000_000 + 2_000_000, rate_limit_enabled=False)
    seed_records(portal, contacts=args.contacts)
    org = seed_org(f"latency{int(time.time())}", contacts=args.contacts, accounts=10, api_max=10_000_000)
    Portal.objects.filter(pk=portal.pk).update(webhook_url=f"{site}/webhooks/hubspot/")
    hubspot, salesforce = sandbox_connections(f"{site}/sandbox", portal, org, rate_limits=False)
    # Webhooks: the portal's id and the app's secret; HubSpot's search lag as the connector assumes.
    hubspot.credentials = {**hubspot.credentials, "hub_id": portal.hub_id, "client_secret": portal.client_secret}
    hubspot.options = {k: v for k, v in hubspot.options.items() if k != "search_lag_seconds"}
    hubspot.save()
    sync = ObjectSync.objects.create(connection_a=hubspot, connection_b=salesforce, object_type="contacts",
                                     state=ObjectSync.State.ACTIVE)
    create_default_mappings(sync)
    started = time.perf_counter()
    run = run_sync(sync.pk, initial=True)
    run_sync(sync.pk)  # reads the initial run's writes back
    pairs = list(RecordLink.objects.filter(object_sync=sync, id_a__gt="", id_b__gt="", status=LinkStatus.IN_SYNC)
                 .values_list("id_a", "id_b"))
    print(f"initial sync: {run.status}, {len(pairs)} linked pairs in {time.perf_counter() - started:.1f}s")
    return ObjectSync.objects.get(pk=sync.pk), pairs


def wait_for_poller(timeout: float = 150) -> None:
    """The schedule starts the poll loop within a minute or so of the worker's start."""
    from django.utils import timezone

    from syncrules.webhooks.models import PollLease

    started = time.monotonic()
    while time.monotonic() - started < timeout:
        lease = PollLease.objects.filter(name="changes").exclude(holder="").first()
        if lease and lease.renewed_at and (timezone.now() - lease.renewed_at).total_seconds() < 60:
            print(f"poll loop running after {time.monotonic() - started:.0f}s")
            return
        time.sleep(1)
    print(f"the poll loop did not start within {timeout:.0f}s: Salesforce changes wait for the dispatcher")


def measure(sync, pairs, args) -> None:
    random.shuffle(pairs)
    to_sf, to_hs = pairs[: args.edits], pairs[args.edits: 2 * args.edits]
    hubspot, salesforce = sync.connection_a.connector(), sync.connection_b.connector()
    waiting: dict[tuple[str, str, str], float] = {}  # (direction, target id, value) -> edited at
    arrived: dict[str, list[float]] = {"HubSpot -> Salesforce": [], "Salesforce -> HubSpot": []}
    lock, done = threading.Lock(), threading.Event()
    watcher = threading.Thread(target=watch, args=(waiting, arrived, lock, done), daemon=True)
    watcher.start()
    gap = args.seconds / max(1, 2 * args.edits)
    began = time.monotonic()
    from django.utils import timezone

    args.began = timezone.now()
    for n in range(args.edits):
        for direction, (hs_id, sf_id) in (("HubSpot -> Salesforce", to_sf[n]), ("Salesforce -> HubSpot", to_hs[n])):
            value = f"Latency{n}{direction[0]}{random.randrange(10**6)}"
            if direction.startswith("HubSpot"):
                hubspot.write("contacts", [], {hs_id: {"lastname": value}})
                key = (direction, sf_id, value)
            else:
                salesforce.write("contacts", [], {sf_id: {"LastName": value}})
                key = (direction, hs_id, value)
            with lock:
                waiting[key] = time.monotonic()
            time.sleep(max(0.0, began + gap * (2 * n + 1 + direction.startswith("Sales")) - time.monotonic()))
    print(f"{2 * args.edits} edits in {time.monotonic() - began:.1f}s")
    poll = float(os.environ.get("CHANGE_POLL_SECONDS", 15))
    deadline = time.monotonic() + poll + 90
    while time.monotonic() < deadline:
        with lock:
            if not waiting:
                break
        time.sleep(0.5)
    done.set()
    watcher.join()
    report(arrived, waiting, args, poll, sync)


def watch(waiting, arrived, lock, done) -> None:
    """Look for the edited values in the other app's storage (the sandbox's tables, no HTTP)."""
    from django.db import connection

    from sandbox.hubspot.models import CrmObject
    from sandbox.salesforce.models import Record

    while not done.is_set():
        with lock:
            todo = dict(waiting)
        to_sf = {k: t for k, t in todo.items() if k[0].startswith("HubSpot")}
        to_hs = {k: t for k, t in todo.items() if k[0].startswith("Sales")}
        values = dict(Record.objects.filter(sf_id__in=[k[1] for k in to_sf]).values_list("sf_id", "data__LastName"))
        values.update({str(pk): props.get("lastname") for pk, props in
                       CrmObject.objects.filter(pk__in=[int(k[1]) for k in to_hs]).values_list("pk", "properties")})
        now = time.monotonic()
        with lock:
            for key in todo:
                if values.get(key[1]) == key[2] and key in waiting:
                    arrived[key[0]].append(now - waiting.pop(key))
        time.sleep(0.25)
    connection.close()


def report(arrived, waiting, args, poll, sync) -> None:
    from syncrules.models import SyncRun
    from syncrules.webhooks.models import SyncTrigger

    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; poll interval {poll:.0f}s, "
          f"{args.workers} workers (measured under load: timings are noisy)")
    for direction, times in arrived.items():
        missing = sum(1 for key in waiting if key[0] == direction)
        if not times:
            print(f"{direction}: nothing arrived ({missing} missing)")
            continue
        times.sort()
        print(f"{direction}: {len(times)} arrived, {missing} missing; p50 {quantile(times, 0.5):.1f}s  "
              f"p95 {quantile(times, 0.95):.1f}s  "
              f"max {times[-1]:.1f}s")
    runs = SyncRun.objects.filter(object_sync=sync)
    trigger = SyncTrigger.objects.filter(pk=sync.pk).first()
    for direction, target, value in list(waiting)[:5]:
        print(f"  missing {direction} {target}: wanted {value!r}, {where_is(sync, direction, target)}")
    failed = runs.exclude(status=SyncRun.Status.SUCCEEDED).values_list("pk", "status", "error")[:3]
    for pk, status, error in failed:
        print(f"  run {pk} {status}: {(error or '')[:200]}")
    print(f"runs: {runs.filter(trigger=SyncRun.Trigger.CHANGE).count()} triggered by changes, "
          f"{runs.exclude(trigger=SyncRun.Trigger.CHANGE).count()} others; "
          f"webhook events received {trigger.webhook_events if trigger else 0}")
    during = runs.filter(started_at__gte=args.began)
    triggered = during.filter(trigger=SyncRun.Trigger.CHANGE)
    idle = triggered.filter(created=0, updated=0, deleted=0, matched=0, associated=0, failed=0)
    edits = 2 * args.edits
    from django_q.models import Task

    polls = [(t.stopped - t.started).total_seconds() for t in Task.objects.filter(func="syncrules.tasks.poll_for_changes")]
    if polls:
        print(f"poll tasks finished: {len(polls)}, each held a worker {sum(polls) / len(polls):.3f}s on average "
              f"(max {max(polls):.3f}s)")
    print(f"runs started from the first edit on: {during.count()}, {triggered.count()} triggered by changes "
          f"({100 * triggered.count() / edits:.0f} per 100 edits), of which {idle.count()} found nothing to do "
          f"({100 * idle.count() / edits:.0f} per 100 edits)")


def where_is(sync, direction: str, target: str) -> str:
    """What a missing edit's two records hold now, and their link's state."""
    from sandbox.hubspot.models import CrmObject
    from sandbox.salesforce.models import Record
    from syncrules.models import RecordLink

    side = "id_b" if direction.startswith("HubSpot") else "id_a"
    link = RecordLink.objects.filter(object_sync=sync, **{side: target}).first()
    if link is None:
        return "no link"
    hs = CrmObject.objects.filter(pk=int(link.id_a)).values_list("properties", flat=True).first() or {}
    sf = Record.objects.filter(sf_id=link.id_b).values_list("data", flat=True).first() or {}
    return (f"HubSpot has {hs.get('lastname')!r}, Salesforce {sf.get('LastName')!r}; link {link.status} "
            f"{link.error_category or ''}")


def quantile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


if __name__ == "__main__":
    main()
