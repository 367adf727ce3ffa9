"""How long a sync stays stopped after its worker is SIGKILLed mid-run, with the real schedule:
a django-q2 cluster (ORM broker, SQLite) runs the dispatcher every minute; the cluster is
SIGKILLed during a run (a deploy, an OOM kill, a power cut) and started again at once.
Prints the seconds from the kill to the sync's next successful run. Asserts nothing.

    .venv/bin/python bench/killed_worker.py [--contacts 3000] [--lease 120] [--interval 300]

Defaults are the product's: SYNC_LEASE_SECONDS=120, SYNC_INTERVAL_SECONDS=300.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def manage(env, *args) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr)
    return done.stdout.strip()


def query(database: Path, sql: str):
    with sqlite3.connect(database, timeout=30) as db:
        return db.execute(sql).fetchall()


def cluster(env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=3000)
    parser.add_argument("--lease", type=int, default=120)
    parser.add_argument("--interval", type=int, default=300)
    args = parser.parse_args()
    database = Path(tempfile.mkdtemp()) / "killed.sqlite3"
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL"}}
    env.update(DATABASE_URL=f"sqlite:///{database}", SYNC_LEASE_SECONDS=str(args.lease), DEBUG="1",
               SANDBOX_ENABLED="1", SYNC_INTERVAL_SECONDS=str(args.interval), LOG_LEVEL="WARNING",
               DJANGO_SETTINGS_MODULE="syncsite.settings", Q_WORKERS="1")
    manage(env, "migrate", "--noinput")
    manage(env, "ensure_schedules")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "manage.py", "sandbox_serve", "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(3)
    sync_id = int(manage(env, "shell", "-c", "from syncrules.tests.e2e.killed_worker import setup; from syncrules.models "
                         "import ObjectSync; from django.utils import timezone; "
                         f"pk = setup('http://127.0.0.1:{port}', {args.contacts}); "
                         "ObjectSync.objects.filter(pk=pk).update(next_run_at=timezone.now()); print(pk)").splitlines()[-1])
    workers = cluster(env)
    try:
        while not query(database, "select 1 from syncrules_syncrun where status='running' and processed > 0"):
            time.sleep(0.1)
        os.killpg(workers.pid, signal.SIGKILL)
        workers.wait()
        killed = time.monotonic()
        killed_run = query(database, "select id, processed from syncrules_syncrun where status='running'")[0]
        print(f"killed the cluster during run {killed_run[0]} after {killed_run[1]} records; restarted it at once")
        workers = cluster(env)
        while True:
            done = query(database, f"select id from syncrules_syncrun where status='succeeded' and id > {killed_run[0]}")
            if done:
                break
            time.sleep(0.5)
        took = time.monotonic() - killed
        status = query(database, f"select status from syncrules_syncrun where id = {killed_run[0]}")[0][0]
        print(f"killed run closed as {status}; next successful run {done[0][0]} ended {took:.0f}s after the kill "
              f"(lease {args.lease}s, interval {args.interval}s, dispatcher every 60s; sync {sync_id})")
    finally:
        os.killpg(workers.pid, signal.SIGKILL)
        workers.wait()
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
