"""HubSpot's batches of one lookup, read or write go side by side (connectors.fanout): the same
results in the same order and the same calls as one after the other. Django's live server
shares one SQLite connection between its request threads, so these run on PostgreSQL."""

from __future__ import annotations

import pytest
from django.db import connection

from sandbox.hubspot.models import CrmObject
from sandbox.hubspot.seed import seed_records

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor == "sqlite", reason="the live server serves SQLite one request at a time"),
]


def test_a_lookup_read_and_write_in_several_batches_give_what_they_give_one_after_the_other(portal, connect):
    seed_records(portal, contacts=250)
    contacts = list(CrmObject.objects.filter(portal=portal, object_type="contacts").exclude(email=""))
    emails = [c.email.upper() for c in contacts]
    ids = [str(c.pk) for c in contacts]
    side, turn = connect(portal, parallel_calls=3), connect(portal, parallel_calls=1)
    found = side.find("contacts", "email", emails)
    assert {k: [r.id for r in v] for k, v in found.items()} == {
        k: [r.id for r in v] for k, v in turn.find("contacts", "email", emails).items()}
    assert list(side.read("contacts", ids)) == list(turn.read("contacts", ids)) == ids
    results = side.write("contacts", updates={i: {"jobtitle": f"side {i}"} for i in ids})
    assert [r.ref for r in results] == ids and all(r.ok for r in results)
    assert side.client.calls == turn.client.calls + len(range(0, len(ids), 100))
