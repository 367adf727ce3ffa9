"""Engine fixtures: in-memory apps standing in for the connections of a sync."""

import pytest

from connectors.models import Connection
from syncrules.tests.memory_connector import REGISTRY, Apps


@pytest.fixture
def memory_connections(monkeypatch):
    """Connections attached to memory apps (make_memory_sync) reach them through connector()."""
    monkeypatch.setattr(Connection, "connector", lambda self: REGISTRY[self.pk].connector())
    yield REGISTRY
    REGISTRY.clear()


@pytest.fixture
def apps(memory_connections):
    """Two memory apps on one clock, as sides A and B."""
    return Apps()
