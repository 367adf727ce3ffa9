"""Benchmark the sync health pages on PostgreSQL at 10k, 100k and 1M record links (5M outcomes).

    .venv/bin/python bench/health_pages.py [--scales 10000,100000,1000000] [--outcomes-per-link 5]
        [--database postgres://postgres@127.0.0.1:5432/health_bench]

Creates (and at the end drops) its own PostgreSQL database, migrates it, and seeds rows directly
with SQL (generate_series): 3 connection pairs, 9 object syncs, links spread over them in every
status (85% in sync, 5% failing in several categories, 1% waiting, 5% excluded, 2% deleted on
each side), 200 runs per sync, and `--outcomes-per-link` outcomes per link over 30 days. Then,
at each scale, it VACUUM ANALYZEs (as autovacuum would) and renders each page through Django's
test client as a superuser: the median of 5 timed requests after one warm-up, and the number
of SQL queries. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import time
from urllib.parse import urlsplit

from harness import ROOT, bench_database  # noqa: F401 (ROOT puts the project on sys.path)

SYNCS_PER_PAIR = ("companies", "contacts", "deals")
PAIRS = 3
RUNS_PER_SYNC = 200
REPEAT = 5


def admin_database(url: str, action: str) -> None:
    """CREATE or DROP the benchmark's database, from the server's maintenance database."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = parts._replace(path="/postgres").geturl()
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if action == "create":
            conn.execute(f'CREATE DATABASE "{name}"')


def seed_syncs() -> list[int]:
    from connectors.models import Connection
    from syncrules.models import ObjectSync

    ids = []
    for n in range(PAIRS):
        hub = Connection.objects.create(kind="hubspot", name=f"HubSpot portal {n + 1}",
                                        api_usage={"used": 120_000 + n, "allowed": 500_000, "at": "2026-12-03T08:00:00+00:00"})
        sf = Connection.objects.create(kind="salesforce", name=f"Salesforce org {n + 1}",
                                       api_usage={"used": 40_000, "allowed": 100_000, "at": "2026-12-03T08:00:00+00:00"})
        for kind in SYNCS_PER_PAIR:
            sync = ObjectSync.objects.create(connection_a=hub, connection_b=sf, object_type=kind, state="active",
                                             name=f"{kind.title()} {n + 1}", initial_sync_done_at="2026-11-01T00:00:00Z")
            ids.append(sync.pk)
    return ids


RUNS_SQL = """
INSERT INTO syncrules_syncrun (object_sync_id, kind, trigger, status, started_at, finished_at, processed,
    estimated_total, created, updated, matched, skipped, excluded, failed, deleted, associated, waiting,
    http_calls, error, warned, lease_token, waiting_for)
SELECT s.id, 'incremental', 'schedule', CASE WHEN r %% 17 = 0 THEN 'partial' ELSE 'succeeded' END,
    now() - (r * interval '5 minutes'), now() - (r * interval '5 minutes') + interval '40 seconds',
    100 + r %% 50, NULL, 3, 90, 0, 5, 2, r %% 7, 0, 1, 0, 12, '', 0, '', ''
FROM syncrules_objectsync s, generate_series(1, %(runs)s) AS r
"""

# Links %(start)s..%(stop)s-1, spread round-robin over the syncs; statuses by n modulo 200.
LINKS_SQL = """
INSERT INTO syncrules_recordlink (object_sync_id, id_a, id_b, status, last_values, associations, modified_a,
    modified_b, last_synced_at, error_category, last_error, fail_count, next_retry_at, updated_at, name_a, name_b,
    match_key, warnings, has_warnings)
SELECT syncs.ids[1 + n %% array_length(syncs.ids, 1)],
    'a' || n, CASE WHEN m BETWEEN 180 AND 189 THEN NULL ELSE '00Q' || lpad(n::text, 12, '0') END,
    CASE WHEN m < 170 THEN 'in_sync' WHEN m < 182 THEN 'failing' WHEN m < 192 THEN 'excluded'
         WHEN m < 196 THEN 'deleted_a' ELSE 'deleted_b' END,
    '{}'::jsonb, '{}'::jsonb, now() - (n %% 43200) * interval '1 minute', now() - (n %% 43200) * interval '1 minute',
    CASE WHEN m < 170 THEN now() - (n %% 43200) * interval '1 minute' END,
    CASE WHEN m BETWEEN 170 AND 181 THEN (ARRAY['invalid_property_value', 'duplicate_record', 'value_too_long',
        'waiting_for_dependency', 'missing_required_field', 'waiting_for_dependency'])[1 + m %% 6] ELSE '' END,
    CASE WHEN m BETWEEN 170 AND 181 THEN 'Property values were not valid: ' || n ELSE '' END,
    CASE WHEN m BETWEEN 170 AND 181 THEN 1 ELSE 0 END, NULL,
    now() - (n %% 43200) * interval '1 minute',
    'Contact number ' || n, 'Contact number ' || n, 'contact' || n || '@example.com', '[]'::jsonb, false
FROM generate_series(%(start)s, %(stop)s - 1) AS n, LATERAL (SELECT n %% 200 AS m) AS mm,
    (SELECT array_agg(id ORDER BY id) AS ids FROM syncrules_objectsync) AS syncs
"""

OUTCOMES_SQL = """
INSERT INTO syncrules_recordoutcome (run_id, object_sync_id, link_id, id_a, id_b, side, action, category, message,
    hint, created_at, details, warnings)
SELECT runs.ids[1 + (l.id * 7 + k) %% array_length(runs.ids, 1)], l.object_sync_id, l.id, l.id_a, coalesce(l.id_b, ''),
    'b', (ARRAY['updated', 'updated', 'skipped', 'created', 'failed', 'matched'])[1 + (l.id + k) %% 6],
    '', 'Wrote fields.', '', now() - ((l.id * 13 + k * 977) %% 43200) * interval '1 minute', '{}'::jsonb,
    '[]'::jsonb
FROM syncrules_recordlink l, generate_series(1, %(per_link)s) AS k,
    LATERAL (SELECT array_agg(id) AS ids FROM syncrules_syncrun r WHERE r.object_sync_id = l.object_sync_id) AS runs
WHERE l.id > %(after)s
"""


def seed(start: int, stop: int, per_link: int) -> float:
    from django.db import connection

    began = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM syncrules_recordlink")
        after = cursor.fetchone()[0]
        cursor.execute(LINKS_SQL, {"start": start, "stop": stop})
        cursor.execute(OUTCOMES_SQL, {"per_link": per_link, "after": after})
        cursor.execute("UPDATE syncrules_objectsync SET next_run_at = now() + interval '4 minutes'")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return time.perf_counter() - began


def measure(client, url: str) -> tuple[float, float, int, int]:
    """Median milliseconds of REPEAT requests after a warm-up (in all, and in SQL), the query
    count and the status."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)
    times, sql = [], []
    for _ in range(REPEAT):
        began = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        times.append((time.perf_counter() - began) * 1000)
        sql.append(sum(float(q["time"]) for q in queries.captured_queries) * 1000)
    return statistics.median(times), statistics.median(sql), len(queries.captured_queries), response.status_code


def pages(sync_id: int, link_id: int) -> list[tuple[str, str]]:
    return [
        ("overview", "/admin/health/"),
        ("admin index (summary)", "/admin/"),
        ("errors of one sync", f"/admin/health/sync/{sync_id}/errors/"),
        ("records, newest", "/admin/health/records/"),
        ("records, errors of one category", "/admin/health/records/?status=errors&category=duplicate_record"),
        ("records, one sync, last day", f"/admin/health/records/?sync={sync_id}&frame=day"),
        ("records, search by email", "/admin/health/records/?q=contact777%40example.com"),
        ("story", f"/admin/health/records/{link_id}/"),
        ("activity charts", f"/admin/health/sync/{sync_id}/activity/"),
        ("object sync list (count columns)", "/admin/syncrules/objectsync/"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="10000,100000,1000000")
    parser.add_argument("--outcomes-per-link", type=int, default=5)
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/health_bench")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards (to EXPLAIN queries)")
    parser.add_argument("--measure-only", action="store_true",
                        help="measure the pages again on a database kept by --keep, seeding nothing")
    args = parser.parse_args()
    scales = [int(s) for s in args.scales.split(",")]
    import os

    os.environ["DATABASE_URL"] = args.database
    if args.measure_only:
        with bench_database("health-bench-"):
            remeasure()
        return
    admin_database(args.database, "create")
    try:
        with bench_database("health-bench-"):
            run(scales, args.outcomes_per_link)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            admin_database(args.database, "drop")


def remeasure() -> None:
    import django

    django.setup()
    from django.test import Client

    from syncrules.models import ObjectSync, RecordLink, RecordOutcome

    client = Client(SERVER_NAME="localhost")
    client.force_login(bench_user())
    sync_ids = list(ObjectSync.objects.order_by("pk").values_list("pk", flat=True))
    link = RecordLink.objects.filter(object_sync=sync_ids[1], status="failing").order_by("-pk").first()
    print(f"{RecordLink.objects.count():,} links, {RecordOutcome.objects.count():,} outcomes (kept database)")
    for label, url in pages(sync_ids[1], link.pk):
        ms, sql_ms, queries, status = measure(client, url)
        print(f"  {label:<34} {ms:8.1f} ms  (SQL {sql_ms:6.1f} ms)  {queries:3d} queries  (HTTP {status})")


def bench_user():
    """The superuser the pages are measured as."""
    from django.contrib.auth.models import User

    return User.objects.get_or_create(username="bench", defaults={"is_superuser": True, "is_staff": True})[0]


def run(scales: list[int], per_link: int) -> None:
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    from syncrules.models import RecordLink, SyncRun

    sync_ids = seed_syncs()
    with connection.cursor() as cursor:
        cursor.execute(RUNS_SQL, {"runs": RUNS_PER_SYNC})
    client = Client(SERVER_NAME="localhost")
    client.force_login(bench_user())
    print(f"PostgreSQL, {len(sync_ids)} object syncs, {SyncRun.objects.count()} runs; median of {REPEAT} requests")
    done = 0
    for scale in scales:
        took = seed(done, scale, per_link)
        done = scale
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM syncrules_recordoutcome")
            outcomes = cursor.fetchone()[0]
        print(f"\n{scale:,} links, {outcomes:,} outcomes (seeded in {took:.0f} s)")
        link = RecordLink.objects.filter(object_sync=sync_ids[1], status="failing").order_by("-pk").first()
        for label, url in pages(sync_ids[1], link.pk):
            ms, sql_ms, queries, status = measure(client, url)
            print(f"  {label:<34} {ms:8.1f} ms  (SQL {sql_ms:6.1f} ms)  {queries:3d} queries  (HTTP {status})")


if __name__ == "__main__":
    main()
