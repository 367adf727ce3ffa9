"""`python3 dev.py run` from a fresh clone, as a subprocess on a free port: the demo once.

The clone is the worktree's tracked files copied to a temporary folder (what `git clone` gives,
uncommitted edits included), its .venv a symlink to this one so nothing is reinstalled.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import dev  # noqa: E402


def fresh_clone(tmp_path: Path) -> Path:
    clone = tmp_path / "syncsite"
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, clone / name)
    (clone / ".venv").symlink_to((ROOT / ".venv").resolve())
    return clone


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(clone: Path, *args: str, timeout: float = 240) -> str:
    """Run `dev.py run` until it says it is ready, then stop it as Ctrl-C would; its output."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "SITE_URL", "DJANGO_SETTINGS_MODULE", "DEMO_ENABLED")}
    env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen([sys.executable, "dev.py", "run", *args, str(free_port())], cwd=clone, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if any("[syncsite] ready:" in line for line in list(lines)):
                break
            time.sleep(0.5)
        else:
            pytest.fail("dev.py run did not get ready:\n" + "".join(lines)[-4000:])
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        reader.join(timeout=10)
    return "".join(lines)


def query(clone: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(clone / "db.sqlite3") as db:
        return db.execute(sql).fetchall()


def state(clone: Path) -> dict:
    return {
        "connections": query(clone, "select name, status from connectors_connection order by name"),
        "hubspot": query(clone, "select object_type, count(*) from sandbox_hubspot_crmobject group by 1 order by 1"),
        "salesforce": query(clone, "select sobject, count(*) from sandbox_salesforce_record "
                                   "where sobject in ('Account', 'Contact', 'Opportunity') group by 1 order by 1"),
    }


def test_dev_py_run_from_a_fresh_clone_seeds_the_demo_once_and_connects_both_apps(tmp_path):
    clone = fresh_clone(tmp_path)
    first = start(clone)
    after = state(clone)
    assert after["connections"] == [("HubSpot (demo)", "connected"), ("Salesforce (demo)", "connected")], first
    assert dict(after["hubspot"])["contacts"] > 1000 and dict(after["hubspot"])["deals"] > 100
    assert dict(after["salesforce"])["Contact"] > 1000 and dict(after["salesforce"])["Opportunity"] > 100
    assert "Demo seeded" in first
    password = (clone / "var" / "admin-password.txt").read_text().strip()
    ready = next(line for line in first.splitlines() if "[syncsite] ready:" in line)
    port = ready.split("http://127.0.0.1:")[1].split("/")[0]
    assert f"log in at http://127.0.0.1:{port}/admin/ as 'admin' with password {password}" in ready
    assert "http://127.0.0.1:8000" not in first  # every message names the port really served
    assert "next: 'Getting started'" in first

    second = start(clone)
    assert "Demo seeded" not in second and "next: 'Getting started'" not in second
    assert state(clone) == after


def test_dev_py_run_no_demo_seeds_nothing(tmp_path):
    clone = fresh_clone(tmp_path)
    output = start(clone, "--no-demo")
    assert "Demo seeded" not in output
    assert state(clone) == {"connections": [], "hubspot": [], "salesforce": []}


@pytest.mark.parametrize(("argv", "expected"), [
    ([], ("127.0.0.1:8000", True)),
    (["8001"], ("127.0.0.1:8001", True)),
    (["--no-demo", "0.0.0.0:9000"], ("0.0.0.0:9000", False)),
])
def test_dev_py_run_reads_its_address_and_the_no_demo_flag(argv, expected):
    assert dev.parse_address(argv) == expected


def test_dev_py_run_refuses_unknown_arguments_with_a_clear_message():
    with pytest.raises(SystemExit, match="unexpected arguments --demo"):
        dev.parse_address(["--demo"])
