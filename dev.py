#!/usr/bin/env python3
"""Syncsite's two commands, on any machine with Python 3.11 and nothing else.

    python3 dev.py run [--no-demo] [ADDRESS]
                          set everything up, then serve http://ADDRESS/admin/ with a worker
                          (ADDRESS: 127.0.0.1:8000 unless given, e.g. 8001 or 0.0.0.0:8000)
    python3 dev.py test   set everything up, then run the whole test suite (extra args go to pytest)
    python3 dev.py screenshots
                          remake the README's screenshots (docs/img/) from the demo data

Set-up is idempotent: a virtual environment in .venv, the pinned requirements (reinstalled only
when requirements.txt changes), and for `run` the database migrations, a first admin user and,
when the sandboxes are on and the database has no connections yet, the demo (two seeded
sandboxes, connected; `--no-demo` or DEMO_ENABLED=false skips it).
Only the standard library is used here, because nothing else is installed yet.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
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


def manage_output(*args: str) -> str:
    """Run a management command, echo its output and return it."""
    done = subprocess.run([str(PYTHON), str(ROOT / "manage.py"), *args], cwd=ROOT, text=True,
                          stdout=subprocess.PIPE)
    if done.stdout:
        print(done.stdout, end="", flush=True)
    if done.returncode:
        raise subprocess.CalledProcessError(done.returncode, args)
    return done.stdout


def parse_address(argv: list[str]) -> tuple[str, bool]:
    """(host:port, demo wanted) from `run`'s arguments: `--no-demo`, then an optional address
    as runserver takes it ("8001", "0.0.0.0:8000")."""
    demo = "--no-demo" not in argv
    rest = [a for a in argv if a != "--no-demo"]
    unknown = [a for a in rest if a.startswith("-")]
    if unknown or len(rest) > 1:
        sys.exit(f"dev.py run: unexpected arguments {' '.join(unknown or rest[1:])} (usage: run [--no-demo] [ADDRESS])")
    address = rest[0] if rest else "127.0.0.1:8000"
    if address.isdigit():
        address = f"127.0.0.1:{address}"
    return address, demo


def wait_until_up(url: str, web: subprocess.Popen, timeout: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and web.poll() is None:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 (our own site)
            return True
        except urllib.error.HTTPError:
            return True  # an answer is an answer
        except OSError:
            time.sleep(0.3)
    return False


def admin_password() -> str:
    path = ROOT / "var" / "admin-password.txt"
    return path.read_text().strip() if path.exists() else ""


def _raise_interrupt(signum, frame) -> None:  # noqa: ARG001
    raise KeyboardInterrupt


def run(argv: list[str]) -> int:
    address, want_demo = parse_address(argv)
    host, _, port = address.rpartition(":")
    local = "127.0.0.1" if host in ("0.0.0.0", "", "[::]") else host  # noqa: S104 (a name, not a bind)
    site = f"http://{local}:{port}"
    # Messages, OAuth redirects and the demo's connections use SITE_URL: the port really served.
    os.environ.setdefault("SITE_URL", site)
    ensure_venv()
    manage("migrate", "--noinput")
    manage("ensure_admin")
    seeded = want_demo and "Demo seeded" in manage_output("demo", "--if-empty")
    say(f"starting the site on {site}/admin/ and a django-q2 worker (Ctrl-C stops both)")
    # Stop on Ctrl-C and on SIGTERM alike, even when started in the background (where the
    # shell makes SIGINT ignored, and the children inherit that).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    worker = subprocess.Popen([str(PYTHON), "manage.py", "qcluster"], cwd=ROOT)
    web = subprocess.Popen([str(PYTHON), "manage.py", "runserver", address], cwd=ROOT)
    try:
        if wait_until_up(f"{site}/admin/login/", web):
            if seeded:
                manage("demo", "--check")  # the connections call the sandboxes this site serves
            welcome(site, seeded)
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


def welcome(site: str, seeded: bool) -> None:
    password = admin_password()
    login = f"as 'admin' with password {password}" if password else "with your admin account"
    say(f"ready: log in at {site}/admin/ {login}")
    if seeded:
        say("next: 'Getting started' on the admin index -> Open the wizard -> HubSpot (demo) and "
            "Salesforce (demo), Contacts -> Next until Review -> Save and sync")


def screenshots(argv: list[str]) -> int:
    """Remake docs/guide.md, and docs/img/*.png from the demo data (a browser test that also
    checks each page)."""
    ensure_venv()
    manage("demo", "--write-guide")
    env = {**os.environ, "SCREENSHOTS_DIR": str(ROOT / "docs" / "img")}
    return subprocess.run([str(PYTHON), "-m", "pytest", "tests/browser/test_first_hour.py", "-q", *argv],
                          cwd=ROOT, env=env).returncode


def test(argv: list[str]) -> int:
    ensure_venv()
    return subprocess.run([str(PYTHON), "-m", "pytest", *argv], cwd=ROOT).returncode


def main() -> int:
    commands = {"run": run, "test": test, "screenshots": screenshots}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
