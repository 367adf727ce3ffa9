"""What every benchmark shares: a throwaway database, and the sandboxes served on their own port.

    with bench_database("hs-bench-") as env, sandbox_server(env, port, "/hubspot/...") as base:
        ...  # base is http://127.0.0.1:<port>/sandbox
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANAGE = [sys.executable, str(ROOT / "manage.py")]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@contextmanager
def bench_database(prefix: str) -> Iterator[dict[str, str]]:
    """A migrated database of its own (SQLite in a temporary folder unless DATABASE_URL is set);
    yields the environment the sandbox server and Django in this process both use."""
    workdir = tempfile.mkdtemp(prefix=prefix)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "syncsite.settings", "SANDBOX_ENABLED": "true",
           "LOG_LEVEL": "WARNING"}
    env.setdefault("DATABASE_URL", f"sqlite:///{workdir}/bench.sqlite3")
    os.environ.update(env)
    try:
        subprocess.run([*MANAGE, "migrate", "--noinput", "-v", "0"], env=env, check=True, cwd=ROOT)
        yield env
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def sandbox_server(env: dict[str, str], port: int, probe: str) -> Iterator[str]:
    """`manage.py sandbox_serve` in a subprocess; yields its /sandbox base URL once `probe` answers."""
    server = subprocess.Popen([*MANAGE, "sandbox_serve", "--port", str(port)], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/sandbox"
    try:
        wait_until_up(base + probe)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


def wait_until_up(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)  # noqa: S310 (our own loopback server)
            return
        except urllib.error.HTTPError:
            return  # an answer, even a 401 without a token, means the server is up
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the sandbox did not start at {url}")


# The HubSpot connections' search-lag window in the benches: past the sandbox's 2-second index lag.
SEARCH_LAG_SECONDS = 2.5


def sandbox_connections(base: str, portal, org, *, rate_limits: bool):
    """A HubSpot and a Salesforce Connection to the sandbox portal and org served at `base`."""
    from connectors.models import Connection

    hubspot = Connection.objects.create(
        kind="hubspot", name="HubSpot sandbox", base_url=f"{base}/hubspot",
        credentials={"access_token": portal.private_token},
        # The sandbox's search index lags writes by 2 s (SANDBOX_HUBSPOT_SEARCH_DELAY_SECONDS), real
        # HubSpot's by more (the connector leaves the last 15 s to the next run by default): a window
        # shorter than the index's lag would lose the changes not yet indexed when a run reads.
        options={"search_lag_seconds": SEARCH_LAG_SECONDS, **({} if rate_limits else {"client_rate_limit": False})},
    )
    salesforce = Connection.objects.create(
        kind="salesforce", name="Salesforce sandbox", base_url=f"{base}/salesforce",
        credentials={"access_token": org.access_token, "refresh_token": org.refresh_token,
                     "instance_url": f"{base}/salesforce", "client_id": org.org.client_id,
                     "client_secret": org.org.client_secret},
        options={"api_budget_share": 1.0},
    )
    return hubspot, salesforce
