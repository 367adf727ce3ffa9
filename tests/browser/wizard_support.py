"""Helpers of the wizard's browser tests: sandbox connections, a counting page, screenshots."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

from connectors.models import Connection
from sandbox.hubspot import gate
from sandbox.hubspot.seed import ensure_portal, seed_records
from sandbox.salesforce.seed import seed_org

_hub_ids = itertools.count(880_001)
_orgs = itertools.count(1)


def connect_sandboxes(live_server, *, contacts=0, companies=0, deals=0, sf_contacts=0, sf_accounts=0, **org_options):
    """A seeded HubSpot portal and Salesforce org, connected: where a new user starts the wizard."""
    gate.reset_rate_limits()
    portal = ensure_portal(next(_hub_ids), rate_limit_enabled=False)
    seed_records(portal, contacts=contacts, companies=companies, deals=deals, seed=7)
    org = seed_org(f"wizard{next(_orgs)}", contacts=sf_contacts, accounts=sf_accounts, **org_options)
    sandbox = f"{live_server.url}/sandbox"
    hubspot = Connection.objects.create(
        kind="hubspot", name="HubSpot Marketing", base_url=f"{sandbox}/hubspot",
        credentials={"access_token": portal.private_token},
        options={"client_rate_limit": False, "search_lag_seconds": 0},
    )
    salesforce = Connection.objects.create(
        kind="salesforce", name="Salesforce Sales", base_url=f"{sandbox}/salesforce",
        credentials={"access_token": org.access_token, "refresh_token": org.refresh_token,
                     "instance_url": f"{sandbox}/salesforce", "client_id": org.org.client_id,
                     "client_secret": org.org.client_secret},
        options={"backoff_base": 0.01},
    )
    return hubspot, salesforce


class Counter:
    """Counts what a person does: pages loaded, clicks (dropdown choices among them), typing."""

    def __init__(self, page, shots: Path) -> None:
        self.page, self.shots = page, shots
        self.pages = self.clicks = self.choices = self.typed = 0
        page.on("load", self._loaded)
        extra = os.environ.get("WIZARD_SHOTS")
        self.extra = Path(extra) if extra else None

    def _loaded(self, _page) -> None:
        self.pages += 1

    def click(self, selector: str, **kwargs) -> None:
        self.clicks += 1
        self.page.click(selector, **kwargs)

    def check(self, selector: str) -> None:
        self.clicks += 1
        self.page.check(selector)

    def choose(self, selector: str, **kwargs) -> None:
        self.clicks += 1
        self.choices += 1
        self.page.select_option(selector, **kwargs)

    def type(self, selector: str, text: str) -> None:
        self.typed += 1
        self.page.fill(selector, text)

    def shot(self, name: str) -> None:
        for folder in filter(None, (self.shots, self.extra)):
            folder.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    def report(self) -> str:
        return (f"pages loaded: {self.pages}, clicks: {self.clicks} (of which {self.choices} dropdown choices), "
                f"typed fields: {self.typed}")


def login(page, live_server, username: str, password: str = "pw") -> None:
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")


def ensure_roles() -> None:
    """The role groups of the role table (a transactional test flushes them)."""
    from syncrules.permissions import restore_role_groups

    restore_role_groups()


def select_object(me: Counter, object_type: str = "contacts", *, start: bool = True) -> None:
    """Step 1 for the two sandbox connections: from the admin index's button, or on the page."""
    if start:
        me.click("text=Set up a sync")
    me.choose("select[name=connection_a]", label="HubSpot Marketing (HubSpot)")
    me.choose("select[name=connection_b]", label="Salesforce Sales (Salesforce)")
    me.check(f"input[name=object_type][value={object_type}]")
    me.click("input[name=_next]")
