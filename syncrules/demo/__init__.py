"""The demo on the embedded default: two seeded sandboxes and two healthy connections to them.

`python3 dev.py run` calls `manage.py demo --if-empty` before starting the site and
`manage.py demo --check` once it answers: when the sandboxes are enabled, `DEMO_ENABLED` is on
and the database has no connections yet, it seeds a HubSpot portal and a Salesforce org with
overlapping data (contacts shared by email, companies and accounts, deals in two pipelines /
opportunities of two record types) and a few deliberate problems a new user meets on the health
pages, then connects both. `manage.py demo --reset` starts it over.

The sandboxes are served by the same site, so the connections' base URLs are `SITE_URL`'s.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.db import transaction

DEMO_HUB_ID = 4242
DEMO_ORG = "demo"
HUBSPOT_NAME = "HubSpot (demo)"
SALESFORCE_NAME = "Salesforce (demo)"
PARTNER_PIPELINE = "partners"
PARTNER_STAGES = [("partnerlead", "Partner lead", "0.2", False), ("partnerproposal", "Joint proposal", "0.6", False),
                  ("partnerwon", "Won with partner", "1.0", True), ("partnerlost", "Lost", "0.0", True)]
# The deliberate problems (the README and the guide point at them).
# A Salesforce contact whose address ends in "c0m" (a zero): Salesforce holds it, HubSpot refuses
# it ("Invalid email address" on the errors page); and a HubSpot contact whose address has two @,
# which no sync matches or copies ("excluded: no valid email").
INVALID_EMAIL = "pat.quinn@gmail.c0m"
UNUSABLE_EMAIL = "jordan.blake@@example"
LONG_FIRST_NAME = "Maximiliana-Alexandrina Bartholomew-Fitzgerald"  # 46 characters: Salesforce takes 40
DUPLICATE_COMPANY = "Northwind Traders"  # twice in HubSpot, once in Salesforce


@dataclass(frozen=True)
class Scale:
    companies: int = 300
    hubspot_contacts: int = 2000
    deals: int = 150
    accounts: int = 200
    salesforce_contacts: int = 1200
    opportunities: int = 120
    shared_contacts: int = 400  # Salesforce contacts given the email of a HubSpot contact


FULL = Scale()
SMALL = Scale(companies=30, hubspot_contacts=120, deals=20, accounts=20, salesforce_contacts=80,
              opportunities=15, shared_contacts=30)


@dataclass
class Result:
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    connections: list = field(default_factory=list)


class DemoRefused(Exception):
    """The demo cannot run here (sandboxes disabled): the message says why."""


def enabled() -> bool:
    return bool(settings.SANDBOX_ENABLED and getattr(settings, "DEMO_ENABLED", True))


def is_empty() -> bool:
    from connectors.models import Connection

    return not Connection.objects.exists()


def exists() -> bool:
    from connectors.models import Connection

    return Connection.objects.filter(name__in=[HUBSPOT_NAME, SALESFORCE_NAME]).exists()


def site_base(site_url: str | None = None) -> str:
    return f"{(site_url or settings.SITE_URL).rstrip('/')}/sandbox"


def remove() -> None:
    """Delete the demo's connections (their syncs, links and runs go with them) and sandboxes."""
    from connectors.models import Connection
    from sandbox.hubspot.models import Portal
    from sandbox.salesforce.models import Org
    from syncrules.models import ObjectSync

    with transaction.atomic():
        demo = Connection.objects.filter(name__in=[HUBSPOT_NAME, SALESFORCE_NAME])
        ObjectSync.objects.filter(connection_a__in=demo).delete()
        ObjectSync.objects.filter(connection_b__in=demo).delete()
        demo.delete()
        Portal.objects.filter(hub_id=DEMO_HUB_ID).delete()
        Org.objects.filter(name=DEMO_ORG).delete()


def seed(*, scale: Scale = FULL, site_url: str | None = None) -> Result:
    """Seed both sandboxes and create the two connections (not checked yet: see `check`)."""
    if not settings.SANDBOX_ENABLED:
        raise DemoRefused("the sandboxes are disabled (SANDBOX_ENABLED=false): there is nothing to demo against")
    started = time.perf_counter()
    remove()
    portal, hub_emails = _seed_hubspot(scale)
    org = _seed_salesforce(scale, hub_emails)
    connections = _connect(portal, org, site_base(site_url))
    counts = {"HubSpot companies": scale.companies + 1, "HubSpot contacts": scale.hubspot_contacts + 2,
              "HubSpot deals": scale.deals, "Salesforce accounts": scale.accounts,
              "Salesforce contacts": scale.salesforce_contacts,
              "Salesforce opportunities": scale.opportunities,
              "contacts in both apps": scale.shared_contacts}
    return Result(seconds=time.perf_counter() - started, counts=counts, connections=connections)


def check() -> list[tuple[str, bool, str]]:
    """Check the demo's connections against the running site: [(name, ok, message)]."""
    from connectors.models import Connection

    out = []
    for connection in Connection.objects.filter(name__in=[HUBSPOT_NAME, SALESFORCE_NAME]).order_by("kind"):
        result = connection.test()
        out.append((connection.name, result.ok, result.message))
    return out


def _seed_hubspot(scale: Scale):
    from sandbox.hubspot.models import CrmObject, Pipeline
    from sandbox.hubspot.seed import EPOCH, ensure_portal, move_deals, seed_records

    portal = ensure_portal(DEMO_HUB_ID, name="Demo portal", rate_limit_enabled=False)
    Pipeline.objects.get_or_create(
        portal=portal, object_type="deals", pipeline_id=PARTNER_PIPELINE,
        defaults={"label": "Partner Pipeline", "display_order": 1, "created_at": EPOCH, "updated_at": EPOCH,
                  "stages": [{"id": sid, "label": label, "displayOrder": i,
                              "metadata": {"probability": prob, "isClosed": "true" if closed else "false"}}
                             for i, (sid, label, prob, closed) in enumerate(PARTNER_STAGES)]},
    )
    seed_records(portal, contacts=scale.hubspot_contacts, companies=scale.companies, deals=scale.deals, seed=18)
    default = Pipeline.objects.get(portal=portal, object_type="deals", pipeline_id="default")
    move_deals(portal, [("default", [s["id"] for s in default.stages]),
                        (PARTNER_PIPELINE, [s[0] for s in PARTNER_STAGES])], seed=18)
    now = datetime.now(UTC)
    problems = [
        CrmObject(portal=portal, object_type="companies", email="", created_at=now, updated_at=now,
                  properties={"name": DUPLICATE_COMPANY, "domain": "northwind-traders.example", "city": "Seattle"}),
        CrmObject(portal=portal, object_type="contacts", email=UNUSABLE_EMAIL, created_at=now, updated_at=now,
                  properties={"email": UNUSABLE_EMAIL, "firstname": "Jordan", "lastname": "Blake",
                              "lifecyclestage": "lead"}),
        CrmObject(portal=portal, object_type="contacts", email="maxi.bartholomew@example.com", created_at=now,
                  updated_at=now, properties={"email": "maxi.bartholomew@example.com", "firstname": LONG_FIRST_NAME,
                                              "lastname": "Bartholomew", "lifecyclestage": "customer"}),
    ]
    # A company whose name is already taken in HubSpot: the seeder's own duplicates are others'.
    first = CrmObject.objects.filter(portal=portal, object_type="companies").order_by("pk").first()
    if first is not None:
        CrmObject.objects.filter(pk=first.pk).update(properties={**first.properties, "name": DUPLICATE_COMPANY})
    CrmObject.objects.bulk_create(problems)
    emails = list(CrmObject.objects.filter(portal=portal, object_type="contacts").exclude(email="")
                  .exclude(email=UNUSABLE_EMAIL).order_by("pk").values_list("properties", flat=True))
    return portal, emails


def _seed_salesforce(scale: Scale, hub_contacts: list[dict]):
    from sandbox.salesforce.models import Record
    from sandbox.salesforce.seed import seed_org

    org = seed_org(DEMO_ORG, contacts=scale.salesforce_contacts, accounts=scale.accounts,
                   opportunities=scale.opportunities, record_types=2, seed=18, roles=(1, 2))
    rng = random.Random(18)
    contacts = list(Record.objects.filter(org=org.org, sobject="Contact").order_by("pk"))
    shared = rng.sample(hub_contacts, min(scale.shared_contacts, len(hub_contacts), len(contacts)))
    changed = []
    for record, person in zip(contacts, shared, strict=False):
        # The same person in both apps: same email, sometimes a title that differs.
        first, last = person.get("firstname") or "", person.get("lastname") or record.data.get("LastName")
        record.data = {**record.data, "Email": person["email"], "FirstName": first[:40], "LastName": last,
                       "Name": f"{first} {last}".strip()}
        changed.append(record)
    if len(contacts) > len(changed):
        typo = contacts[-1]
        typo.data = {**typo.data, "Email": INVALID_EMAIL, "FirstName": "Pat", "LastName": "Quinn", "Name": "Pat Quinn"}
        changed.append(typo)
    Record.objects.bulk_update(changed, ["data"], batch_size=500)
    account = Record.objects.filter(org=org.org, sobject="Account").order_by("pk").first()
    if account is not None:
        account.data = {**account.data, "Name": DUPLICATE_COMPANY}
        account.save(update_fields=["data"])
    return org


def _connect(portal, org, base: str) -> list:
    from connectors.models import Connection

    hubspot = Connection.objects.create(
        kind="hubspot", name=HUBSPOT_NAME, base_url=f"{base}/hubspot",
        credentials={"access_token": portal.private_token},
        # The sandbox indexes searches at once; real HubSpot lags (the connector waits 15 s by default).
        options={"search_lag_seconds": 0, "client_rate_limit": False},
    )
    salesforce = Connection.objects.create(
        kind="salesforce", name=SALESFORCE_NAME, base_url=f"{base}/salesforce",
        credentials={"access_token": org.access_token, "refresh_token": org.refresh_token,
                     "instance_url": f"{base}/salesforce", "client_id": org.org.client_id,
                     "client_secret": org.org.client_secret},
    )
    return [hubspot, salesforce]
