"""A seeded site for the security tests: one user per role, connections holding known secrets,
syncs that have run (links, runs, outcomes in every state), and seeded sandboxes.

The secrets are distinctive strings so a test can look for them in any page, message, log
record, stored error or export.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth.models import Group, User
from django.utils import timezone

from connectors.models import Connection
from sandbox.hubspot.models import CrmObject, Portal
from sandbox.hubspot.seed import ensure_portal, seed_records
from sandbox.salesforce.models import Record
from sandbox.salesforce.seed import seed_org
from syncrules.models import (
    FieldMapping,
    LinkStatus,
    ObjectSync,
    PipelineMapping,
    RecordLink,
    RecordOutcome,
    StageMapping,
    SyncFilter,
    SyncRun,
)

# Credentials of the connections (never the sandboxes' own tokens).
HUBSPOT_OAUTH = {
    "access_token": "sbx-leak-ACCESS-7f3a9c1e5b2d4068a1b2",
    "refresh_token": "leak-REFRESH-0c9e8d7f6a5b4c3d2e1f",
    "client_id": "leak-client-id-hubspot",
    "client_secret": "leak-CLIENTSECRET-hs-5e4d3c2b1a09",
}
HUBSPOT_PRIVATE = {"access_token": "pat-na1-leak-PRIVATE-11112222-3333-4444"}
SALESFORCE = {
    "access_token": "00Dleak!SFACCESS.a8b7c6d5e4f3g2h1",
    "refresh_token": "5Aep861leakSFREFRESH9q8w7e6r5t4y",
    "client_id": "3MVG9leakconsumerkey",
    "client_secret": "leakSFCONSUMERSECRET0987654321",
}
SECRETS = tuple(
    value for creds in (HUBSPOT_OAUTH, HUBSPOT_PRIVATE, SALESFORCE)
    for key, value in creds.items() if key != "client_id"
)

ROLE_USERS = {
    "superuser": None,
    "Sync admins": "Sync admins",
    "Sync editors": "Sync editors",
    "Support": "Support",
    "staff without group": "",
    "anonymous": None,
}
UNREACHABLE = "http://127.0.0.1:9"  # the discard port: a vendor call fails at once


@dataclass
class World:
    users: dict[str, User | None]
    connections: list[Connection]
    syncs: list[ObjectSync]
    ids: dict[str, list[str]] = field(default_factory=dict)  # real values per URL parameter name
    portal: Portal | None = None
    sf_token: str = ""


def make_users() -> dict[str, User | None]:
    users: dict[str, User | None] = {"anonymous": None}
    users["superuser"] = User.objects.create_superuser("root", "root@example.com", "pw")
    for role, group in ROLE_USERS.items():
        if role in users:
            continue
        user = User.objects.create_user(role.replace(" ", "-").lower(), password="pw", is_staff=True)
        if group:
            user.groups.add(Group.objects.get(name=group))
        users[role] = user
    return users


def make_connections(base_url: str = UNREACHABLE) -> list[Connection]:
    expires = time.time() + 3600
    return [
        Connection.objects.create(kind="hubspot", name="HubSpot OAuth <script>x</script>", base_url=base_url,
                                  credentials={**HUBSPOT_OAUTH, "expires_at": expires, "hub_id": 900001},
                                  options={"client_rate_limit": False, "max_attempts": 1}),
        Connection.objects.create(kind="hubspot", name="HubSpot private app", base_url=base_url,
                                  credentials=dict(HUBSPOT_PRIVATE),
                                  options={"client_rate_limit": False, "max_attempts": 1}),
        Connection.objects.create(kind="salesforce", name="Salesforce =HYPERLINK(\"x\")", base_url=base_url,
                                  credentials={**SALESFORCE, "instance_url": base_url},
                                  options={"max_attempts": 1, "backoff_base": 0}),
    ]


def make_syncs(connections: list[Connection]) -> list[ObjectSync]:
    hub, private, sf = connections
    contacts = ObjectSync.objects.create(name="=HYPERLINK(\"http://evil\",\"Contacts\")", connection_a=hub,
                                         connection_b=sf, object_type="contacts", state="active",
                                         next_run_at=timezone.now() + timedelta(hours=1))
    deals = ObjectSync.objects.create(connection_a=private, connection_b=sf, object_type="deals", state="off")
    draft = ObjectSync.objects.create(connection_a=hub, connection_b=private, object_type="companies")
    for sync in (contacts, deals, draft):
        FieldMapping.objects.create(object_sync=sync, field_a="email", field_b="Email", is_default=True,
                                    value_map={"a_to_b": {"Gold": "gold"}})
        SyncFilter.objects.create(object_sync=sync, side="a", field="lifecyclestage", operator="eq", value="lead")
    pipeline = PipelineMapping.objects.create(object_sync=deals, pipeline_a="default", pipeline_b="012A")
    StageMapping.objects.create(pipeline_mapping=pipeline, stage_a="closedwon", stage_b="Closed Won")
    run = SyncRun.objects.create(object_sync=contacts, kind="initial", processed=4, estimated_total=10,
                                 failed=1, error="")
    links = [
        RecordLink.objects.create(object_sync=contacts, id_a="101", id_b="003A", status=LinkStatus.FAILING,
                                  error_category="value_too_long", last_error="-2+3+cmd|' /C calc'!A0"),
        RecordLink.objects.create(object_sync=contacts, id_a="102", id_b="003B", status=LinkStatus.DELETED_A),
        RecordLink.objects.create(object_sync=contacts, id_a="103", id_b="003C", status=LinkStatus.IN_SYNC),
        RecordLink.objects.create(object_sync=deals, id_a="201", id_b=None, status=LinkStatus.DELETED_B),
    ]
    for link in links:
        RecordOutcome.objects.create(run=run, object_sync=contacts, link=link, action="failed",
                                     category="value_too_long", message="@SUM(1+1)")
    return [contacts, deals, draft]


def seed_sandboxes(world: World) -> None:
    world.portal = ensure_portal(900001, rate_limit_enabled=False)
    seed_records(world.portal, contacts=4, companies=2, deals=2, seed=3)
    org = seed_org("fuzzorg", contacts=3, accounts=2, opportunities=2)
    world.sf_token = org.access_token
    world.ids["hubspot_object_id"] = [str(pk) for pk in CrmObject.objects.values_list("pk", flat=True)[:6]]
    world.ids["sf_id"] = list(Record.objects.values_list("sf_id", flat=True)[:6])


def build_world(*, sandboxes: bool = True, base_url: str = UNREACHABLE) -> World:
    connections = make_connections(base_url)
    world = World(users=make_users(), connections=connections, syncs=make_syncs(connections))
    if sandboxes:
        seed_sandboxes(world)
    return world
