"""End to end: a worker running `manage.py sync_run` against the sandboxes is SIGKILLed mid-run;
once its lease expires the next run takes the sync over, closes the killed run as Interrupted
and finishes, with nothing lost or duplicated.

Everything runs in processes of its own (the sandbox server, the worker, the next run) on a
scratch SQLite file: the test database cannot be shared with another process."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
LEASE = 3  # seconds: SYNC_LEASE_SECONDS in the worker's environment
CONTACTS = 1500


def manage(env, *args, **kwargs):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, **kwargs)


def shell(env, code: str) -> str:
    done = manage(env, "shell", "-c", code)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def scratch(tmp_path):
    database = tmp_path / "killed.sqlite3"
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(DATABASE_URL=f"sqlite:///{database}", SYNC_LEASE_SECONDS=str(LEASE), DEBUG="1",
               SANDBOX_ENABLED="1", DJANGO_SETTINGS_MODULE="syncsite.settings", LOG_LEVEL="WARNING")
    migrated = manage(env, "migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr
    port = free_port()
    server = subprocess.Popen([sys.executable, "manage.py", "sandbox_serve", "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    yield env, database, f"http://127.0.0.1:{port}"
    server.kill()
    server.wait()


def processed(database: Path) -> int:
    with sqlite3.connect(database, timeout=30) as db:
        row = db.execute("select max(processed) from syncrules_syncrun").fetchone()
    return row[0] or 0


def test_a_sync_whose_worker_was_killed_runs_again_once_its_lease_expires(scratch):
    env, database, url = scratch
    sync_id = int(shell(env, f"from syncrules.tests.e2e.killed_worker import setup; print(setup({url!r}, {CONTACTS}))"))
    worker = subprocess.Popen([sys.executable, "manage.py", "sync_run", str(sync_id)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    while processed(database) == 0 and worker.poll() is None:
        time.sleep(0.05)
    assert worker.poll() is None, "the run ended before it could be killed: seed more contacts"
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    killed_at = time.monotonic()

    # Within the lease the killed worker's claim still holds: nothing runs twice.
    # Past it, the next run takes the sync over (one lease length, plus a second of slack).
    attempts = []
    while True:
        attempts.append(manage(env, "sync_run", str(sync_id)))
        if attempts[-1].returncode == 0 or time.monotonic() - killed_at > LEASE + 1:
            break
        assert "already running" in attempts[-1].stderr, attempts[-1].stderr
        time.sleep(0.5)
    assert attempts[-1].returncode == 0, attempts[-1].stderr

    result = json.loads(shell(env, "import json; from syncrules.tests.e2e.killed_worker import report; "
                                   f"print(json.dumps(report({sync_id})))"))
    killed, *later = result["runs"]
    assert killed["status"] == "interrupted" and killed["error"].startswith("Interrupted: the worker stopped after")
    assert later[-1]["status"] == "succeeded"
    assert not result["claimed"]
    # Nothing lost or duplicated: every HubSpot contact is in Salesforce once.
    hubspot = {email for email in result["hs_emails"] if email}
    assert {email for email in result["sf_emails"] if email} == hubspot
    assert max(result["sf_emails"].values()) == 1
