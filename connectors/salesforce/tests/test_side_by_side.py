"""Salesforce's queries of one lookup and Collections calls of one write go side by side
(connectors.fanout): the same results in the same order and the same calls as one after the
other. Django's live server shares one SQLite connection between its request threads, so these
run on PostgreSQL."""

from __future__ import annotations

import pytest
from django.db import connection

from connectors.base import CONTACTS
from sandbox.salesforce.models import Record
from sandbox.salesforce.seed import seed_org

pytestmark = pytest.mark.skipif(connection.vendor == "sqlite",
                                reason="the live server serves SQLite one request at a time")


def test_a_lookup_and_a_write_in_several_calls_give_what_they_give_one_after_the_other(
        transactional_db, make_connector):
    seeded = seed_org("side", contacts=900, accounts=2)
    rows = Record.objects.filter(org=seeded.org, sobject="Contact").exclude(data__Email=None)
    emails = [r.data["Email"] for r in rows if r.data.get("Email")]
    side, turn = make_connector(seeded, parallel_calls=3), make_connector(seeded, parallel_calls=1)
    found = side.find(CONTACTS, "Email", emails)
    assert len(found) > 600
    assert {k: [r.id for r in v] for k, v in found.items()} == {
        k: [r.id for r in v] for k, v in turn.find(CONTACTS, "Email", emails).items()}
    assert side.client.http.calls == turn.client.http.calls > 2  # several queries each
    ids = [r.sf_id for r in rows][:450]
    results = side.write(CONTACTS, updates={i: {"Title": f"side {i}"} for i in ids})
    assert [r.ref for r in results] == ids and all(r.ok for r in results)
