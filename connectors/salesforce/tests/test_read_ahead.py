"""Salesforce's query batches are read one ahead of the engine (connectors.readahead): the same
records in the same order and the same calls as reading in turn."""

from __future__ import annotations

import threading

from connectors.base import CONTACTS, DEALS
from sandbox.salesforce.seed import seed_org


def _read(connector, object_type=CONTACTS):
    return [[(r.id, r.values.get("Email"), r.associations) for r in page.records]
            for page in connector.read_changes(object_type)]


def test_it_reads_the_same_batches_in_the_same_order_with_the_same_calls_as_reading_in_turn(
        transactional_db, make_connector):
    seeded = seed_org("ahead", contacts=450, accounts=3, opportunities=30)
    ahead = make_connector(seeded, query_batch_size=200, read_ahead=True)
    in_turn = make_connector(seeded, query_batch_size=200, read_ahead=False)
    pages = _read(ahead)
    assert [len(p) for p in pages] == [200, 200, 50]
    assert pages == _read(in_turn)
    assert _read(ahead, DEALS) == _read(in_turn, DEALS)
    assert ahead.client.http.calls == in_turn.client.http.calls


def test_the_usage_it_reads_ahead_is_reported_on_the_engines_thread(transactional_db, make_connector):
    threads = []
    seeded = seed_org("usage", contacts=450, accounts=2)
    connector = make_connector(seeded, query_batch_size=200, read_ahead=True,
                               on_api_usage=lambda used, allowed: threads.append(threading.current_thread()))
    assert sum(len(p) for p in _read(connector)) == 450
    assert len(threads) >= 4 and set(threads) == {threading.current_thread()}
