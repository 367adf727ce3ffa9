"""How many calls lookups and reads by id take: IN lists as long as the 16 KB URI allows.

Pinned counts, so a change back to small fixed chunks (100 emails per query: 10 queries for
1,000) shows up as a failing test rather than as a slower sync.
"""

from __future__ import annotations

from urllib.parse import quote_plus

import pytest
import requests

from connectors.base import CONTACTS
from connectors.salesforce import soql
from sandbox.salesforce.models import Record
from sandbox.salesforce.seed import seed_org


@pytest.fixture
def thousand(transactional_db):
    """An org with 1,000 contacts whose emails look like a real list's (~40 characters)."""
    seeded = seed_org("lookups", contacts=1000, accounts=2)
    rows = list(Record.objects.filter(org=seeded.org, sobject="Contact").order_by("pk"))
    for n, row in enumerate(rows):
        row.data = {**row.data, "Email": f"firstname.lastname{n:04d}@example-company.com"}
    Record.objects.bulk_update(rows, ["data"], batch_size=500)
    return seeded


@pytest.fixture
def uris(monkeypatch):
    """The full URI of every request the connector sends."""
    sent: list[str] = []
    original = requests.Session.send

    def send(session, prepared, **kwargs):
        sent.append(prepared.url)
        return original(session, prepared, **kwargs)

    monkeypatch.setattr(requests.Session, "send", send)
    return sent


def test_a_lookup_of_1000_emails_takes_4_queries_each_under_the_uri_limit(thousand, make_connector, uris):
    connector = make_connector(thousand)
    connector.fields(CONTACTS)  # the describe, not counted below
    emails = [f"FIRSTNAME.LASTNAME{n:04d}@example-company.com" for n in range(1000)]
    before = len(uris)
    found = connector.find(CONTACTS, "Email", emails)
    queries = uris[before:]
    assert len(queries) == 4  # 10 with the former fixed chunks of 100
    assert all(len(uri) <= soql.URI_BUDGET for uri in queries)
    assert len(found) == 1000 and all(len(records) == 1 for records in found.values())


def test_a_read_of_1000_ids_takes_2_queries(thousand, make_connector, uris):
    connector = make_connector(thousand)
    ids = [r.id for page in connector.read_changes(CONTACTS) for r in page.records]
    assert len(ids) == 1000
    before = len(uris)
    found = connector.read(CONTACTS, ids)
    assert len(uris) - before == 2  # 4 with the former fixed chunks of 300
    assert set(found) == set(ids)


def test_in_chunks_fill_each_query_up_to_the_budget_and_keep_every_value():
    values = [f"value{n:03d}" for n in range(200)]
    build = lambda in_: f"SELECT Id FROM Contact WHERE Name IN {in_}"  # noqa: E731
    parts = list(soql.in_chunks(values, build, budget=1000))
    assert [v for chunk, _ in parts for v in chunk] == values
    assert all(len(quote_plus(text)) <= 1000 for _, text in parts)
    # Each query but the last is full: one more value would not have fitted.
    for (chunk, text), (following, _) in zip(parts, parts[1:], strict=False):
        assert len(quote_plus(build(soql.in_list([*chunk, following[0]])))) > 1000
        assert text == build(soql.in_list(chunk))


def test_in_chunks_leave_out_a_value_no_query_could_carry():
    build = lambda in_: f"SELECT Id FROM Contact WHERE Email IN {in_}"  # noqa: E731
    too_long = "x" * (soql.STRING_MAX + 1)
    parts = list(soql.in_chunks(["a@example.com", too_long, "b@example.com"], build))
    assert parts == [(["a@example.com", "b@example.com"], build("('a@example.com', 'b@example.com')"))]
    assert list(soql.in_chunks([], build)) == []
