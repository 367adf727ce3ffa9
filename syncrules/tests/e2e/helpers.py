"""Helpers of the end-to-end tests."""

from __future__ import annotations

from syncrules.engine.mappings import create_default_mappings
from syncrules.models import ObjectSync


def new_sync(hubspot, salesforce, object_type, **kwargs) -> ObjectSync:
    sync = ObjectSync.objects.create(
        connection_a=hubspot, connection_b=salesforce, object_type=object_type, state=ObjectSync.State.ACTIVE, **kwargs
    )
    create_default_mappings(sync)
    return sync


def connect_sandboxes(site_url: str, portal, org):
    """A HubSpot and a Salesforce Connection to a seeded sandbox portal and org served at
    `site_url`, without client rate limits or search lag (the test sandbox indexes at once)."""
    from connectors.models import Connection

    hubspot = Connection.objects.create(
        kind="hubspot", name="HubSpot sandbox", base_url=f"{site_url}/sandbox/hubspot",
        credentials={"access_token": portal.private_token},
        options={"client_rate_limit": False, "search_lag_seconds": 0},
    )
    salesforce = Connection.objects.create(
        kind="salesforce", name="Salesforce sandbox", base_url=f"{site_url}/sandbox/salesforce",
        credentials={
            "access_token": org.access_token, "refresh_token": org.refresh_token,
            "instance_url": f"{site_url}/sandbox/salesforce",
            "client_id": org.org.client_id, "client_secret": org.org.client_secret,
        },
        options={"backoff_base": 0.01},
    )
    return hubspot, salesforce


def every(connection, object_type):
    """Every record of a connection's app, by id."""
    records = {}
    for page in connection.connector().read_changes(object_type, None):
        records.update((r.id, r) for r in page.records)
    return records
