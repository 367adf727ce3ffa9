"""Connector kinds: a dict from kind to a dotted path, imported lazily.

A new app is one package under connectors/ plus one line here; Connection.kind takes its
choices from this dict, so adding a kind needs no migration.
"""

from __future__ import annotations

from django.utils.module_loading import import_string

from connectors.base import Connector

CONNECTORS: dict[str, str] = {
    "hubspot": "connectors.hubspot.connector.HubSpotConnector",
    "salesforce": "connectors.salesforce.connector.SalesforceConnector",
}


class UnknownConnectorKind(LookupError):
    """A connection names a kind this installation has no connector for."""

    def __init__(self, kind: str) -> None:
        known = ", ".join(sorted(CONNECTORS)) or "none"
        super().__init__(f"Unknown connector kind {kind!r} (known kinds: {known}).")
        self.kind = kind


def get_class(kind: str) -> type[Connector]:
    """The connector class for `kind`, or UnknownConnectorKind."""
    try:
        path = CONNECTORS[kind]
    except KeyError:
        raise UnknownConnectorKind(kind) from None
    try:
        return import_string(path)
    except ImportError as exc:
        raise UnknownConnectorKind(kind) from exc


def kind_choices() -> list[tuple[str, str]]:
    """Choices for Connection.kind: (kind, label) of every connector that imports."""
    choices = []
    for kind in CONNECTORS:
        try:
            choices.append((kind, get_class(kind).label or kind))
        except UnknownConnectorKind:
            continue
    return choices
