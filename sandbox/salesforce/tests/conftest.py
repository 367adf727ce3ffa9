"""Fixtures: a seeded org and a client that calls the sandbox the way an API client would."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from sandbox.salesforce.seed import seed_org

BASE = "/sandbox/salesforce"
DATA = f"{BASE}/services/data/v60.0"


class Api:
    """Django's test client with the org's bearer token; returns (status, json, response)."""

    def __init__(self, token: str) -> None:
        self.client = Client()
        self.token = token

    def call(self, method: str, path: str, body=None, **extra):
        url = path if path.startswith("/") else f"{DATA}/{path}"
        headers = {"Authorization": f"Bearer {self.token}", **extra.pop("headers", {})}
        kwargs = {"headers": headers, **extra}
        if body is not None:
            kwargs.update(data=json.dumps(body), content_type="application/json")
        response = getattr(self.client, method.lower())(url, **kwargs)
        data = json.loads(response.content) if response.content else None
        return response.status_code, data, response

    def get(self, path, **extra):
        return self.call("GET", path, **extra)

    def query(self, soql: str, *, all_rows: bool = False, **extra):
        return self.call("GET", "queryAll/" if all_rows else "query/", data={"q": soql}, **extra)


@pytest.fixture
def org(db):
    return seed_org("acme", contacts=12, accounts=4, opportunities=8, record_types=2)


@pytest.fixture
def api(org):
    return Api(org.access_token)
