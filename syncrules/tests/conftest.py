"""Engine fixtures: in-memory apps standing in for the connections of a sync."""

import pytest

from connectors.models import Connection
from syncrules.tests.memory_connector import REGISTRY, Apps
from syncrules.webhooks import debounce


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


@pytest.fixture
def queued(monkeypatch):
    """The sync ids of the change-triggered runs handed to django-q2, in order."""
    calls: list[int] = []
    monkeypatch.setattr(debounce, "_enqueue", calls.append)
    return calls
