"""The first hour, timed: `python3 dev.py run` in a fresh clone to a logged-in admin index with
both demo apps connected. Prints figures (never asserts them).

    .venv/bin/python bench/first_hour.py              # clone, reusing this .venv (no pip install)
    .venv/bin/python bench/first_hour.py --fresh-venv # clone with a new .venv: the pip install too
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fresh-venv", action="store_true", help="create and fill a new .venv in the clone")
    parser.add_argument("--keep", action="store_true", help="keep the clone")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="first-hour-"))
    clone = workdir / "syncsite"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    if not args.fresh_venv:
        (clone / ".venv").symlink_to((ROOT / ".venv").resolve())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SITE_URL", "VIRTUAL_ENV")}
    env["PYTHONUNBUFFERED"] = "1"
    started = time.perf_counter()
    proc = subprocess.Popen(["python3", "dev.py", "run", str(port)], cwd=clone, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    marks: dict[str, float] = {}
    lines: list[str] = []

    def read() -> None:
        for line in proc.stdout:
            lines.append(line)
            now = time.perf_counter() - started
            for key, needle in (("requirements installed", "Operations to perform"),
                                ("demo seeded", "Demo seeded"), ("site answering", "[syncsite] starting"),
                                ("both apps connected", "[syncsite] ready")):
                if needle in line and key not in marks:
                    marks[key] = now

    threading.Thread(target=read, daemon=True).start()
    try:
        while "both apps connected" not in marks:
            if proc.poll() is not None:
                sys.exit("dev.py run stopped:\n" + "".join(lines)[-3000:])
            time.sleep(0.2)
        ready = next(line for line in lines if "[syncsite] ready" in line)
        password = re.search(r"with password (\S+)", ready).group(1)
        session = requests.Session()
        base = f"http://127.0.0.1:{port}"
        session.get(f"{base}/admin/login/")
        page = session.post(f"{base}/admin/login/?next=/admin/", data={
            "username": "admin", "password": password, "next": "/admin/",
            "csrfmiddlewaretoken": session.cookies["csrftoken"]}, headers={"Referer": f"{base}/admin/login/"})
        assert "Connected: HubSpot (demo), Salesforce (demo)" in page.text, page.text[:2000]
        marks["logged-in admin index, both apps connected"] = time.perf_counter() - started
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    print(f"fresh clone at {clone} ({'new .venv' if args.fresh_venv else '.venv reused'}), port {port}")
    for key, seconds in sorted(marks.items(), key=lambda kv: kv[1]):
        print(f"  {seconds:7.1f} s  {key}")
    if not args.keep:
        subprocess.run(["rm", "-rf", str(workdir)], check=False)


if __name__ == "__main__":
    main()
