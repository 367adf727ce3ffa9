"""Chaos benchmark: contact and company syncs between the HubSpot and Salesforce sandboxes with
every fault injected, the worker SIGKILLed at random moments, records edited on both sides
between runs; then runs to the end with the faults still on, then until quiet with the faults
off, and checks record by record.

    .venv/bin/python bench/chaos.py [--contacts 5000] [--companies 1000] [--kills 10] [--fault-share 0.005]
    DATABASE_URL=postgres://... REDIS_URL=redis://... .venv/bin/python bench/chaos.py --workers 2 [--hubspot-limit 40]

One worker (default): each run is a `manage.py sync_run` subprocess, SIGKILLed after a random
delay (uniform in [0.5, --kill-window] s) if still running. Two workers (`--workers 2`, needs
PostgreSQL and Redis): two `manage.py qcluster` processes take the runs the bench queues for both
syncs every few seconds; one of them, chosen at random, is SIGKILLed (with its children) and
restarted at each kill; --hubspot-limit lowers HubSpot's 10-second limit so that the two must
share a scarce budget. Reports double runs (two runs of one sync overlapping in time), runs that
lost their lease while their worker lived (from the workers' logs), the requests the sandboxes
refused for a real vendor limit, by policy, and the most requests one account sent in any 10
seconds (HubSpot's searches apart: the most in any second), from the sandboxes' own counters
(sandbox/faults.py); and the time from a kill to the sync's next run starting (what the lease
governs) and to its next successful run.

Seeding: both apps get --contacts contacts and --companies companies; --overlap of them share an
email (contacts) or a name and domain (companies) with the other app, and the other companies
get names of their own; 1% of each app's contacts duplicate another's email, 1% have an invalid
email, 1% of companies share a name.

A killed worker keeps its sync claimed until its lease expires (SYNC_LEASE_SECONDS, 120 s by
default without a heartbeat; `SYNC_LEASE_SECONDS=10` keeps the bench from waiting 2 minutes
per kill); a sync whose lease is still live at the end counts as stuck.
`--unsafe-clear-claims-after-kill` clears the claim right after each kill instead (it measured
the rest before leases existed): the bench's default does not.

Companies are checked by domain (HubSpot's domain, Salesforce's Website), or by name when they
have none: distinct companies share names, seldom domains.

Prints figures and asserts nothing. Last line:
chaos: N records, K kills, F faults injected, lost L, duplicated D, disagreeing X, unexplained failures U, stuck S
where lost/duplicated/disagreeing count records and fields (an edit not carried is a lost field),
unexplained failures count failing links whose category is transient after the final quiet runs,
and stuck counts syncs still claimed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections import Counter
from datetime import timedelta
from pathlib import Path

from harness import MANAGE, ROOT, bench_database, sandbox_connections, wait_until_up

CONTACT_FIELDS = (("email", "Email"), ("firstname", "FirstName"), ("lastname", "LastName"), ("jobtitle", "Title"))
COMPANY_FIELDS = (("name", "Name"), ("city", "BillingCity"))
READ_TIMEOUT = 15.0
LOST_LEASE = "was taken over by another worker: this run stops"  # syncrules.lease's log line
TIMEOUT_HOLD = 17


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=5000, help="contacts seeded in each app")
    parser.add_argument("--companies", type=int, default=1000, help="companies (accounts) seeded in each app")
    parser.add_argument("--overlap", type=float, default=0.3, help="share of records that exist in both apps")
    parser.add_argument("--kills", type=int, default=10, help="SIGKILLs of a worker")
    parser.add_argument("--kill-window", type=float, default=20.0, help="a kill comes 0.5 to this many s into a run")
    parser.add_argument("--fault-share", type=float, default=0.005,
                        help="share of API requests given each of the 10 kinds of fault")
    parser.add_argument("--edits", type=int, default=10, help="records edited on each side between runs")
    parser.add_argument("--workers", type=int, choices=(1, 2), default=1)
    parser.add_argument("--unsafe-clear-claims-after-kill", action="store_true",
                        help="clear a killed worker's claim at once (stands in for an expired lease)")
    parser.add_argument("--faulty-runs", type=int, default=2,
                        help="runs per sync to the end with faults still on, after the kills")
    parser.add_argument("--quiet-runs", type=int, default=8, help="most final runs per sync, faults off")
    parser.add_argument("--hubspot-limit", type=int, default=None,
                        help="the HubSpot portal's 10-second limit (the sandbox's default: 190); a low one makes "
                             "two workers share a scarce budget")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--port", type=int, default=18781)
    args = parser.parse_args()
    if args.workers == 2 and not (os.environ.get("REDIS_URL") and os.environ.get("DATABASE_URL", "").startswith("post")):
        raise SystemExit("--workers 2 needs DATABASE_URL=postgres://... and REDIS_URL=redis://...")

    with bench_database("chaos-bench-") as env:
        import django

        django.setup()
        from django.db import connection

        started = time.perf_counter()
        portal, org = seed(args)
        print(f"seeded {args.contacts} contacts and {args.companies} companies per app in "
              f"{time.perf_counter() - started:.0f}s ({env['DATABASE_URL'].split('@')[-1]})")
        connection.close()
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", args.port)) == 0:
                raise SystemExit(f"port {args.port} is taken by another server: choose another with --port")
        server = subprocess.Popen(
            [*MANAGE, "sandbox_serve", "--port", str(args.port), "--fault-seed", str(args.seed),
             "--timeout-seconds", str(TIMEOUT_HOLD), "--slow-seconds", "0.5", "--retry-after", "1"],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{args.port}/sandbox"
        try:
            wait_until_up(base + "/salesforce/services/data/")
            Chaos(args, env, base, portal, org).run()
        finally:
            server.terminate()
            server.wait(timeout=10)


# --- seeding ---------------------------------------------------------------------------------
def seed(args):
    from django.utils import timezone

    from sandbox.hubspot.models import CrmObject
    from sandbox.hubspot.seed import ensure_portal, seed_records
    from sandbox.salesforce.models import Record
    from sandbox.salesforce.seed import seed_org

    rng = random.Random(args.seed)
    limit = {"ten_second_limit": args.hubspot_limit} if args.hubspot_limit else {}
    portal = ensure_portal(int(time.time()) % 1_000_000 + 2_000_000, rate_limit_enabled=True, **limit)
    seed_records(portal, contacts=args.contacts, companies=args.companies, seed=args.seed)
    org = seed_org(f"chaos{int(time.time())}", contacts=args.contacts, accounts=args.companies, api_max=10_000_000)

    hub_contacts = list(CrmObject.objects.filter(portal=portal, object_type="contacts").order_by("pk"))
    sf_contacts = list(Record.objects.filter(org=org.org, sobject="Contact").order_by("pk"))
    shared = int(args.overlap * min(len(hub_contacts), len(sf_contacts)))
    for source, target in zip(hub_contacts[:shared], sf_contacts[:shared], strict=False):
        props = source.properties
        if props.get("email"):
            target.data = {**target.data, "Email": props["email"].upper(), "FirstName": props.get("firstname"),
                           "LastName": props.get("lastname") or "Unknown"}
    one_percent = max(1, len(sf_contacts) // 100)
    tail = sf_contacts[shared:]
    for record in rng.sample(tail, min(len(tail), one_percent)):  # invalid values
        record.data = {**record.data, "Email": "not-an-email"}
    for record in rng.sample(tail, min(len(tail), one_percent)):  # deliberate duplicates
        record.data = {**record.data, "Email": rng.choice(sf_contacts[:shared] or sf_contacts).data.get("Email")}
    Record.objects.bulk_update(sf_contacts, ["data"], batch_size=500)
    hub_tail = hub_contacts[shared:]
    for record in rng.sample(hub_tail, min(len(hub_tail), one_percent)):
        record.properties = {**record.properties, "email": "still not an email"}
        record.email = ""
    CrmObject.objects.bulk_update(hub_contacts, ["properties", "email"], batch_size=500)

    hub_companies = list(CrmObject.objects.filter(portal=portal, object_type="companies").order_by("pk"))
    accounts = list(Record.objects.filter(org=org.org, sobject="Account").order_by("pk"))
    distinct_company_names(hub_companies, accounts, args.seed)
    CrmObject.objects.bulk_update(hub_companies, ["properties"], batch_size=500)
    shared = int(args.overlap * min(len(hub_companies), len(accounts)))
    for source, target in zip(hub_companies[:shared], accounts[:shared], strict=False):
        props = source.properties
        target.data = {**target.data, "Name": props.get("name"), "Website": props.get("domain")}
    for record in rng.sample(accounts[shared:], min(len(accounts) - shared, max(1, len(accounts) // 100))):
        record.data = {**record.data, "Name": accounts[0].data.get("Name")}  # a duplicate name
    Record.objects.bulk_update(accounts, ["data"], batch_size=500)
    # Existing data is older than the syncs: age it so the first cursors are exact.
    hour_ago = timezone.now().replace(microsecond=0) - timedelta(hours=1)
    Record.objects.filter(org=org.org).update(system_modstamp=hour_ago)
    return portal, org


def distinct_company_names(hub_companies, accounts, seed: int) -> None:
    """Give distinct companies distinct names (in place). Both sandboxes' seeders draw names from
    one seeded Faker, so nearly every company of one app had a namesake in the other, and the
    engine, which matches companies by name or domain, paired companies that differ (their
    domains then converged): --overlap was not the share of companies in both apps. A seeder's
    deliberate duplicate (same name and domain) keeps its twin's new name."""
    from faker import Faker

    from syncrules.engine.match import normalize_name

    fake = Faker()
    fake.seed_instance(seed + 1)
    taken: set[str] = set()

    def fresh(name: str) -> str:
        while not name or normalize_name(name) in taken:
            name = fake.company()
        taken.add(normalize_name(name))
        return name

    renamed: dict[tuple, str] = {}
    for company in hub_companies:
        key = (company.properties.get("name"), company.properties.get("domain"))
        if key not in renamed:
            renamed[key] = fresh(key[0] or "")
        company.properties = {**company.properties, "name": renamed[key]}
    for record in accounts:
        record.data = {**record.data, "Name": fresh(record.data.get("Name") or "")}


# --- the bench -------------------------------------------------------------------------------
class Chaos:
    def __init__(self, args, env, base, portal, org) -> None:
        from connectors.base import COMPANIES, CONTACTS
        from syncrules.engine.mappings import create_default_mappings
        from syncrules.models import ObjectSync

        self.args, self.env, self.base = args, env, base
        self.rng = random.Random(args.seed)
        self.hubspot, self.salesforce = sandbox_connections(base, portal, org, rate_limits=True)
        for connection in (self.hubspot, self.salesforce):
            # Read timeouts shorter than the default 60 s, so an injected timeout (the sandbox holds
            # the answer TIMEOUT_HOLD s) costs seconds, yet long enough for a 2,000-record query under load.
            connection.options = {**connection.options, "read_timeout": READ_TIMEOUT, "timeout": READ_TIMEOUT,
                                  "backoff_base": 0.2, "max_attempts": 6}
            connection.save()
        self.syncs = {}
        for object_type in (COMPANIES, CONTACTS):  # companies first, as the dispatcher orders them
            sync = ObjectSync.objects.create(connection_a=self.hubspot, connection_b=self.salesforce,
                                             object_type=object_type, state=ObjectSync.State.ACTIVE)
            create_default_mappings(sync)
            self.syncs[object_type] = sync
        self.portal_limit, self.search_limit = portal.ten_second_limit, portal.search_per_second
        self.kills = 0
        self.kill_times: dict[int, float] = {}
        self.killed_syncs: list[tuple] = []  # one worker: (when, sync) of each kill
        self.killed_runs: list[tuple] = []  # two workers: (when, the victim's runs) of each kill
        self.lost_leases = 0  # runs whose worker lived on but lost its lease to another (from the logs)
        self.recoveries: list[float] = []
        self.edits: dict[tuple[str, int], tuple[str, str, str]] = {}  # (type, link pk) -> (field a, field b, value)
        self.created: dict[str, list[tuple[str, str]]] = {CONTACTS: []}  # (side, email)
        self.round = 0
        self.before = self.snapshot()

    # --- the sandboxes' fault control ---------------------------------------------------------
    def faults(self, config: dict | None = None) -> dict:
        url = f"{self.base}/faults/?keep_counters=1"
        data = None if config is None else json.dumps(config).encode()
        request = urllib.request.Request(url, data=data, method="GET" if data is None else "POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (our loopback server)
            return json.loads(response.read())

    def faults_on(self) -> None:
        from sandbox.faults import KINDS

        self.faults({"seed": self.args.seed + self.round, "timeout_seconds": TIMEOUT_HOLD, "slow_seconds": 0.5,
                     "retry_after": 1, **dict.fromkeys(KINDS, self.args.fault_share)})

    def faults_off(self) -> None:
        self.faults({})

    def run(self) -> None:
        self.faults_on()
        started = time.perf_counter()
        if self.args.workers == 1:
            self.one_worker()
        else:
            self.two_workers()
        print(f"chaos phase: {time.perf_counter() - started:.0f}s, {self.kills} kills, {self.round} edit rounds")
        self.faulty_runs()
        self.faults_off()
        self.until_quiet()
        self.report()

    # --- one worker: sync_run subprocesses, killed at random -----------------------------------
    def one_worker(self) -> None:
        from django.utils import timezone

        from syncrules.models import ObjectSync

        attempts = 0
        while self.kills < self.args.kills and attempts < self.args.kills * 6:
            attempts += 1
            for sync in self.syncs.values():
                process = subprocess.Popen([*MANAGE, "sync_run", str(sync.pk)], env=self.env, cwd=ROOT,
                                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                delay = self.rng.uniform(0.5, self.args.kill_window)
                try:
                    output, _ = process.communicate(timeout=delay)
                    self.lost_leases += output.decode(errors="replace").count(LOST_LEASE)
                    tail = output.decode(errors="replace").strip().splitlines()[-1:] if output else []
                    print(f"  {sync.object_type} run ended ({process.returncode}) {tail[0][:160] if tail else ''}")
                    if process.returncode == 0 and sync.pk in self.kill_times:
                        self.recoveries.append(time.monotonic() - self.kill_times.pop(sync.pk))
                except subprocess.TimeoutExpired:
                    process.send_signal(signal.SIGKILL)
                    process.communicate()
                    self.kills += 1
                    self.kill_times.setdefault(sync.pk, time.monotonic())
                    self.killed_syncs.append((timezone.now(), sync.pk))
                    print(f"  kill {self.kills}: {sync.object_type} run SIGKILLed after {delay:.1f}s")
                    if self.args.unsafe_clear_claims_after_kill:
                        ObjectSync.objects.filter(pk=sync.pk).update(running_since=None)
                self.edit_round()
                if self.kills >= self.args.kills:
                    break

    def faulty_runs(self) -> None:
        """Runs to the end with every fault still on (the kills mostly cut runs short)."""
        from django.utils import timezone

        from syncrules.models import ObjectSync

        for n in range(self.args.faulty_runs):
            for sync in self.syncs.values():
                started = time.monotonic()
                for _ in range(3):
                    done = subprocess.run([*MANAGE, "sync_run", str(sync.pk)], env=self.env, cwd=ROOT,
                                          capture_output=True, text=True)
                    if "is already running" not in done.stdout + done.stderr:
                        break
                    # A killed run's claim lasts until its lease expires: wait for it, so that
                    # every run under faults is a run (it was refused right after the last kill).
                    expires = ObjectSync.objects.filter(pk=sync.pk).values_list("lease_expires_at", flat=True).first()
                    wait = (expires - timezone.now()).total_seconds() + 1 if expires else 1.0
                    print(f"  run {n + 1} under faults, {sync.object_type}: refused, a killed run's lease "
                          f"has {wait:.0f}s left; waiting")
                    time.sleep(max(1.0, wait))
                tail = (done.stdout + done.stderr).strip().splitlines()[-1:] or [""]
                self.lost_leases += (done.stdout + done.stderr).count(LOST_LEASE)
                print(f"  run {n + 1} under faults, {sync.object_type}: {time.monotonic() - started:.0f}s "
                      f"({done.returncode}) {tail[0][:160]}")
                if done.returncode == 0 and sync.pk in self.kill_times:
                    self.recoveries.append(time.monotonic() - self.kill_times.pop(sync.pk))

    # --- two workers: qcluster processes on the same syncs ------------------------------------
    def two_workers(self) -> None:
        from django.conf import settings
        from django.db import transaction
        from django.db.models import F
        from django.utils import timezone

        from syncrules.models import ObjectSync, SyncRun
        from syncrules.tasks import enqueue_run

        logs = Path(tempfile.mkdtemp(prefix="chaos-workers-"))

        def start():
            log = open(logs / f"worker-{len(list(logs.iterdir())) + 1}.log", "wb")  # noqa: SIM115 (the child's)
            with log:
                return subprocess.Popen([*MANAGE, "qcluster"], env={**self.env, "Q_WORKERS": "1"}, cwd=ROOT,
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

        def live_runs():
            """(run, sync, lease token, lease expiry) of each run whose worker holds a live lease."""
            return [(run_pk, sync_pk, token, expires) for run_pk, sync_pk, token, expires in SyncRun.objects.filter(
                object_sync__in=self.syncs.values(), status=SyncRun.Status.RUNNING,
                object_sync__lease_token=F("lease_token"), object_sync__lease_expires_at__gt=timezone.now(),
            ).values_list("pk", "object_sync_id", "lease_token", "object_sync__lease_expires_at")]

        # The victim of a kill is known once the other worker had time to renew its lease: the
        # victim's runs are those still holding the lease they held at the kill, never renewed.
        pending: list[tuple] = []
        beat = settings.SYNC_LEASE_SECONDS / 4 + 2

        def settle(done: bool) -> None:
            while pending and (done or time.monotonic() - pending[0][1] >= beat):
                killed_at, at, runs = pending.pop(0)
                if done:
                    time.sleep(max(0.0, at + beat - time.monotonic()))
                now = {(pk, token): expires for pk, token, expires in ObjectSync.objects.filter(
                    pk__in=[sync for _, sync, _, _ in runs]).values_list("pk", "lease_token", "lease_expires_at")}
                self.killed_runs.append((killed_at, [run for run, sync, token, expires in runs
                                                     if now.get((sync, token)) == expires]))

        workers = [start(), start()]
        try:
            next_kill = time.monotonic() + self.rng.uniform(0.5, self.args.kill_window)
            while self.kills < self.args.kills:
                with transaction.atomic():
                    for sync in self.syncs.values():
                        enqueue_run(sync.pk)  # both workers may take one: the claim must let one through
                        enqueue_run(sync.pk)
                time.sleep(3)
                settle(done=False)
                if time.monotonic() >= next_kill:
                    victim = self.rng.randrange(2)
                    pending.append((timezone.now(), time.monotonic(), live_runs()))
                    os.killpg(workers[victim].pid, signal.SIGKILL)
                    workers[victim].wait()
                    self.kills += 1
                    print(f"  kill {self.kills}: worker {victim + 1} SIGKILLed")
                    if self.args.unsafe_clear_claims_after_kill:
                        ObjectSync.objects.filter(pk__in=[s.pk for s in self.syncs.values()]).update(running_since=None)
                    workers[victim] = start()
                    next_kill = time.monotonic() + self.rng.uniform(0.5, self.args.kill_window)
                self.edit_round()
            time.sleep(5)
            settle(done=True)
        finally:
            for worker in workers:
                try:
                    os.killpg(worker.pid, signal.SIGTERM)
                    worker.wait(timeout=20)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    os.killpg(worker.pid, signal.SIGKILL)
            if self.args.unsafe_clear_claims_after_kill:  # a run cut short by stopping its worker
                ObjectSync.objects.filter(pk__in=[s.pk for s in self.syncs.values()]).update(running_since=None)
            for path in sorted(logs.iterdir()):
                self.lost_leases += path.read_text(errors="replace").count(LOST_LEASE)
            print(f"workers' logs: {logs}")

    # --- people editing both apps between runs --------------------------------------------------
    def edit_round(self) -> None:
        """Edit a few linked records on each side (each pair once in the whole bench, so no edit
        meets a conflicting one) and create a contact on each side; faults paused meanwhile."""
        from connectors.base import COMPANIES, CONTACTS
        from syncrules.models import LinkStatus, RecordLink

        self.round += 1
        self.faults_off()
        try:
            for object_type, (field_a, field_b) in ((CONTACTS, ("jobtitle", "Title")),
                                                    (COMPANIES, ("city", "BillingCity"))):
                sync = self.syncs[object_type]
                links = list(RecordLink.objects.filter(object_sync=sync, status=LinkStatus.IN_SYNC)
                             .exclude(pk__in=[pk for (t, pk) in self.edits if t == object_type])
                             .order_by("?")[: 2 * self.args.edits])
                on_a, on_b = links[: self.args.edits], links[self.args.edits:]
                updates_a = {link.id_a: {field_a: f"Chaos A{self.round}.{n}"} for n, link in enumerate(on_a)}
                updates_b = {link.id_b: {field_b: f"Chaos B{self.round}.{n}"} for n, link in enumerate(on_b)}
                for connection, updates, side_links in ((self.hubspot, updates_a, on_a), (self.salesforce, updates_b, on_b)):
                    if not updates:
                        continue
                    results = connection.connector().write(object_type, updates=updates)
                    done = {r.ref for r in results if r.ok}
                    for link in side_links:
                        record_id = link.id_a if connection is self.hubspot else link.id_b
                        if record_id in done:
                            self.edits[(object_type, link.pk)] = (field_a, field_b, updates[record_id][
                                field_a if connection is self.hubspot else field_b])
            email = f"chaos-new-{self.round}@example.com"
            made = self.hubspot.connector().write(CONTACTS, creates=[{"email": email, "lastname": "Chaos"}])
            if made[0].ok:
                self.created[CONTACTS].append(("a", email))
            email_b = f"chaos-new-b-{self.round}@example.com"
            made = self.salesforce.connector().write(CONTACTS, creates=[{"Email": email_b, "LastName": "Chaos"}])
            if made[0].ok:
                self.created[CONTACTS].append(("b", email_b))
        finally:
            self.faults_on()

    # --- the end: quiet runs, then the record-by-record check ---------------------------------
    def until_quiet(self) -> None:
        from django.utils import timezone

        from syncrules.engine import run_sync
        from syncrules.models import ObjectSync, RecordLink

        stuck_before = ObjectSync.objects.filter(running_since__isnull=False).count()
        print(f"quiet phase (faults off): {stuck_before} syncs still claimed by a killed worker")
        for n in range(self.args.quiet_runs):
            busy = False
            for sync in self.syncs.values():
                # Time passes: every retry is due.
                RecordLink.objects.filter(object_sync=sync).exclude(next_retry_at=None).update(
                    next_retry_at=timezone.now() - timedelta(seconds=1))
                run = run_sync(sync.pk)
                if run is None:
                    print(f"  quiet run {n + 1} {sync.object_type}: refused, the sync is still claimed")
                    continue
                if sync.pk in self.kill_times and run.status != "failed":
                    self.recoveries.append(time.monotonic() - self.kill_times.pop(sync.pk))
                print(f"  quiet run {n + 1} {sync.object_type}: {run.status} created {run.created} updated "
                      f"{run.updated} matched {run.matched} failed {run.failed}")
                busy |= bool(run.created or run.updated or run.matched)
            if not busy:
                break

    def snapshot(self) -> dict:
        """Every record of both apps, read through the connectors (faults off), by type and side."""
        from connectors.base import COMPANIES, CONTACTS
        from connectors.errors import ConnectorError

        state = {}
        for object_type in (CONTACTS, COMPANIES):
            for side, connection in (("a", self.hubspot), ("b", self.salesforce)):
                for attempt in range(3):  # a machine under load may still time a read out
                    try:
                        records = {}
                        for page in connection.connector().read_changes(object_type, None):
                            records.update((r.id, r.values) for r in page.records)
                        break
                    except ConnectorError:
                        if attempt == 2:
                            raise
                state[(object_type, side)] = records
        return state

    def report(self) -> None:
        from connectors.base import COMPANIES, CONTACTS
        from connectors.errors import ErrorCategory
        from syncrules.engine.filters import is_valid_email, normalize_email
        from syncrules.engine.match import normalize_domain, normalize_name
        from syncrules.models import LinkStatus, ObjectSync, RecordLink, SyncRun

        after = self.snapshot()
        stats = self.faults()
        transient = {c.code for c in ErrorCategory if c.transient}
        lost = duplicated = disagreeing = explained = 0
        keys = {CONTACTS: ("email", "Email"), COMPANIES: ("domain", "Website")}

        def key_of(object_type, values, field):
            """A contact by its valid email; a company by its domain (distinct companies share
            names, seldom domains), or by its name when it has no domain."""
            if object_type == CONTACTS:
                value = values.get(field)
                return normalize_email(value) if is_valid_email(value) else None
            domain = normalize_domain(values.get(field))
            if domain:
                return domain
            name = normalize_name(values.get("name" if field == "domain" else "Name"))
            return f"name:{name}" if name else None

        for object_type, (key_a, key_b) in keys.items():
            sync = self.syncs[object_type]
            links = list(RecordLink.objects.filter(object_sync=sync))
            status_of = {("a", link.id_a): link for link in links if link.id_a}
            status_of.update({("b", link.id_b): link for link in links if link.id_b})
            counts, before = {}, {}
            for side, key in (("a", key_a), ("b", key_b)):
                counts[side] = Counter(key_of(object_type, v, key) for v in after[(object_type, side)].values())
                before[side] = Counter(key_of(object_type, v, key) for v in self.before[(object_type, side)].values())
                counts[side].pop(None, None)
                before[side].pop(None, None)
            for side in ("a", "b"):
                for value, n in counts[side].items():
                    allowed = max(1, before[side][value])
                    if object_type == COMPANIES:
                        # Distinct companies may (seldom) share a domain: a side may hold as many
                        # of a domain as the other side does.
                        allowed = max(allowed, counts["b" if side == "a" else "a"][value])
                    extra = max(0, n - allowed)
                    if extra:
                        print(f"  duplicated: {object_type} on side {side}: {value!r} {n} times "
                              f"(before: {before[side][value]}; on the other side: {counts['b' if side == 'a' else 'a'][value]})")
                    duplicated += extra
            wanted = set(before["a"]) | set(before["b"]) | {e for _, e in self.created.get(object_type, [])}
            for value in wanted:
                missing = [side for side in ("a", "b") if not counts[side][value]]
                if not missing:
                    continue
                holders = [(side, rid) for side, key in (("a", key_a), ("b", key_b))
                           for rid, v in after[(object_type, side)].items() if key_of(object_type, v, key) == value]
                held = [status_of.get(h) for h in holders]
                # Not lost: a record waiting for a person (duplicate, invalid value) or excluded by a filter.
                if held and all(link is not None and (link.status == LinkStatus.EXCLUDED or (
                        link.status == LinkStatus.FAILING and link.error_category not in transient)) for link in held):
                    explained += 1
                else:
                    lost += 1
            fields = CONTACT_FIELDS if object_type == CONTACTS else COMPANY_FIELDS
            for link in links:
                if link.status != LinkStatus.IN_SYNC:
                    continue
                a, b = after[(object_type, "a")].get(link.id_a), after[(object_type, "b")].get(link.id_b)
                if a is None or b is None:
                    lost += 1
                    continue
                for field_a, field_b in fields:
                    value_a, value_b = (str(v or "").strip() for v in (a.get(field_a), b.get(field_b)))
                    if field_a == "email":
                        value_a, value_b = value_a.lower(), value_b.lower()
                    if value_a != value_b:
                        disagreeing += 1
                edit = self.edits.get((object_type, link.pk))
                if edit and (a.get(edit[0]) != edit[2] or b.get(edit[1]) != edit[2]):
                    lost += 1  # an edit not carried (or overwritten)
        failing = RecordLink.objects.filter(object_sync__in=self.syncs.values(), status=LinkStatus.FAILING)
        unexplained = failing.filter(error_category__in=transient).count()
        stuck = ObjectSync.objects.filter(pk__in=[s.pk for s in self.syncs.values()]).exclude(ObjectSync.claim_is_free()).count()
        by_category = Counter(failing.values_list("error_category", flat=True))
        records = sum(len(v) for v in after.values())
        runs = SyncRun.objects.filter(object_sync__in=self.syncs.values()).order_by("started_at")
        double = 0
        for sync in self.syncs.values():
            spans = [(r.started_at, r.finished_at) for r in runs if r.object_sync_id == sync.pk
                     and r.finished_at and "nterrupted" not in (r.error or "")]
            double += sum(1 for (s1, f1), (s2, _) in zip(spans, spans[1:], strict=False) if s2 < f1)
        killed = list(self.killed_syncs)
        for killed_at, victims in self.killed_runs:  # two workers: from the runs' own times
            for run in runs.filter(pk__in=victims, status=SyncRun.Status.INTERRUPTED):
                killed.append((killed_at, run.object_sync_id))
                ok = runs.filter(object_sync_id=run.object_sync_id, finished_at__gt=killed_at,
                                 status__in=(SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL)).first()
                if ok:  # (ordered by start: the first to start after the kill and succeed)
                    self.recoveries.append((ok.finished_at - killed_at).total_seconds())
        print(f"runs: {runs.count()} ({Counter(runs.values_list('status', flat=True))}), double runs {double}, "
              f"runs that lost their lease while their worker lived: {self.lost_leases}")
        print(f"failing links by category: {dict(by_category)}; not lost but waiting for a person: {explained}")
        print(f"edits made: {len(self.edits)} fields, contacts created between runs: {len(self.created[CONTACTS])}")
        print(f"faults injected: {stats['injected']}")
        print(f"requests: {stats['requests']}; refused for a real vendor limit: {stats['refused_for_limit']} "
              f"{stats.get('refused_by_policy', {})}; "
              f"most in 10 s per account: {stats['max_requests_per_10s']} (HubSpot's limit {self.portal_limit}; "
              f"its searches apart: at most {stats.get('max_searches_per_1s', {}).get('hubspot')} in 1 s, "
              f"limit {self.search_limit})")
        if stats.get("refusals_arrived_in_window"):
            print("  each refusal (vendor, policy, that account's requests in the window as it arrived, itself "
                  f"included): {stats['refusals_arrived_in_window']}")
        restarts = [(run.started_at - killed_at).total_seconds() for killed_at, sync_pk in killed
                    for run in runs.filter(object_sync_id=sync_pk, started_at__gt=killed_at)[:1]]
        if restarts:
            print(f"time from a kill to the sync's next run starting: median "
                  f"{sorted(restarts)[len(restarts) // 2]:.0f}s, max {max(restarts):.0f}s ({len(restarts)} measured)")
        if self.recoveries:
            print(f"time from a kill to the sync's next successful run: median "
                  f"{sorted(self.recoveries)[len(self.recoveries) // 2]:.0f}s, max {max(self.recoveries):.0f}s "
                  f"({len(self.recoveries)} measured)")
        if self.args.unsafe_clear_claims_after_kill:
            print("note: --unsafe-clear-claims-after-kill cleared each killed worker's claim at once")
        print(f"chaos: {records} records, {self.kills} kills, {stats['injected_total']} faults injected, lost {lost}, "
              f"duplicated {duplicated}, disagreeing {disagreeing}, unexplained failures {unexplained}, stuck {stuck}")


if __name__ == "__main__":
    main()
