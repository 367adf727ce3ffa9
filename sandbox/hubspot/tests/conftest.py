"""Fixtures for the HubSpot sandbox's contract tests (Django's test client, no network)."""

from __future__ import annotations

import json

import pytest

from sandbox.hubspot import gate
from sandbox.hubspot.seed import ensure_portal

BASE = "/sandbox/hubspot"


class Api:
    def __init__(self, client, token: str) -> None:
        self.client = client
        self.token = token

    def __call__(self, method: str, path: str, body=None, *, token: str | None = None, **extra):
        headers = {"Authorization": f"Bearer {token if token is not None else self.token}"}
        kwargs = {"headers": headers}
        if body is not None:
            kwargs.update(data=json.dumps(body), content_type="application/json")
        response = getattr(self.client, method.lower())(BASE + path, **kwargs, **extra)
        response.data = json.loads(response.content) if response.content and "json" in response.get(
            "Content-Type", "") else None
        return response


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    gate.reset_rate_limits()
    yield
    gate.reset_rate_limits()


@pytest.fixture
def portal(db):
    return ensure_portal(5001, rate_limit_enabled=False)


@pytest.fixture
def api(client, portal):
    return Api(client, portal.private_token)
