"""Engine fixtures: two in-memory apps standing in for the connections of a sync."""

import pytest

from connectors.models import Connection
from syncrules.tests.memory_connector import Apps


@pytest.fixture
def apps(monkeypatch):
    """Two memory apps on one clock; connections made by make_memory_sync reach them."""
    pair = Apps()
    monkeypatch.setattr(Connection, "connector", lambda self: pair.connector_for(self))
    return pair
