"""Small builders for test rows (plain functions: the models are simple enough)."""

from connectors.models import Connection
from syncrules.models import ObjectSync


def make_connection(kind: str = "hubspot", name: str = "Portal", **kwargs) -> Connection:
    return Connection.objects.create(kind=kind, name=name, **kwargs)


def make_sync(object_type: str = "contacts", **kwargs) -> ObjectSync:
    a = kwargs.pop("connection_a", None) or make_connection("hubspot", "HubSpot portal")
    b = kwargs.pop("connection_b", None) or make_connection("salesforce", "Salesforce org")
    return ObjectSync.objects.create(connection_a=a, connection_b=b, object_type=object_type, **kwargs)
