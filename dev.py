#!/usr/bin/env python3
"""Syncsite's two commands, on any machine with Python 3.11 and nothing else.

    python3 dev.py run    set everything up, then serve http://127.0.0.1:8000/admin/ with a worker
    python3 dev.py test   set everything up, then run the whole test suite (extra args go to pytest)

Set-up is idempotent: a virtual environment in .venv, the pinned requirements (reinstalled only
when requirements.txt changes), and for `run` the database migrations and a first admin user.
Only the standard library is used here, because nothing else is installed yet.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
STAMP = VENV / ".requirements.sha256"


def say(message: str) -> None:
    print(f"[syncsite] {message}", flush=True)


def ensure_venv() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 (this file may be started by an older python3)
        sys.exit("Syncsite needs Python 3.11 or newer.")
    if not PYTHON.exists():
        say("creating the virtual environment in .venv")
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256((ROOT / "requirements.txt").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    say("installing the pinned requirements (first run only)")
    pip = [str(PYTHON), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "-r", str(ROOT / "requirements.txt")], check=True)
    STAMP.write_text(wanted)


def manage(*args: str, env: dict | None = None) -> None:
    subprocess.run([str(PYTHON), str(ROOT / "manage.py"), *args], check=True, cwd=ROOT, env=env)


def _raise_interrupt(signum, frame) -> None:  # noqa: ARG001
    raise KeyboardInterrupt


def run(argv: list[str]) -> int:
    ensure_venv()
    manage("migrate", "--noinput")
    manage("ensure_admin")
    address = argv[0] if argv else "127.0.0.1:8000"
    say(f"starting the site on http://{address}/admin/ and a django-q2 worker (Ctrl-C stops both)")
    # Stop on Ctrl-C and on SIGTERM alike, even when started in the background (where the
    # shell makes SIGINT ignored, and the children inherit that).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    worker = subprocess.Popen([str(PYTHON), "manage.py", "qcluster"], cwd=ROOT)
    web = subprocess.Popen([str(PYTHON), "manage.py", "runserver", address], cwd=ROOT)
    try:
        while True:
            for proc in (worker, web):
                code = proc.poll()
                if code is not None:
                    say(f"{'worker' if proc is worker else 'web server'} stopped (exit {code})")
                    return code
            try:
                web.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
    except KeyboardInterrupt:
        return 0
    finally:
        for proc in (web, worker):
            if proc.poll() is None:
                proc.terminate()  # SIGTERM: qcluster finishes its tasks, runserver exits
        for proc in (web, worker):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def test(argv: list[str]) -> int:
    ensure_venv()
    return subprocess.run([str(PYTHON), "-m", "pytest", *argv], cwd=ROOT).returncode


def main() -> int:
    commands = {"run": run, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
