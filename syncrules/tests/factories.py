"""Small builders for test rows (plain functions: the models are simple enough)."""

from connectors.models import Connection
from syncrules.models import ObjectSync


def make_connection(kind: str = "hubspot", name: str = "Portal", **kwargs) -> Connection:
    return Connection.objects.create(kind=kind, name=name, **kwargs)


def make_sync(object_type: str = "contacts", **kwargs) -> ObjectSync:
    a = kwargs.pop("connection_a", None) or make_connection("hubspot", "HubSpot portal")
    b = kwargs.pop("connection_b", None) or make_connection("salesforce", "Salesforce org")
    return ObjectSync.objects.create(connection_a=a, connection_b=b, object_type=object_type, **kwargs)


def make_memory_sync(apps, object_type: str = "contacts", mappings: bool = True, **kwargs) -> ObjectSync:
    """An object sync between the two memory apps of `apps` (see memory_connector.Apps)."""
    from syncrules.engine.mappings import create_default_mappings

    sync = make_sync(
        object_type,
        connection_a=make_connection("hubspot", f"Memory A {id(apps.a)}"),
        connection_b=make_connection("salesforce", f"Memory B {id(apps.b)}"),
        **kwargs,
    )
    apps.attach(sync.connection_a, sync.connection_b)
    if mappings:
        create_default_mappings(sync, apps.a.connector(), apps.b.connector())
    return sync
