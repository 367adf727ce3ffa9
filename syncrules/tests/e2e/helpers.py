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


def every(connection, object_type):
    """Every record of a connection's app, by id."""
    records = {}
    for page in connection.connector().read_changes(object_type, None):
        records.update((r.id, r) for r in page.records)
    return records
