"""HubSpot's pages are read one ahead of the engine (connectors.readahead): the same records in
the same order and the same calls as reading in turn, through the same limits and retries."""

from __future__ import annotations

import threading

import pytest

from connectors.base import CONTACTS
from sandbox.hubspot.models import Portal
from sandbox.hubspot.seed import seed_records

pytestmark = pytest.mark.django_db(transaction=True)


def _read(conn):
    return [[(r.id, r.values.get("email"), r.associations.get("companies")) for r in page.records]
            for page in conn.read_changes(CONTACTS)]


def test_it_reads_the_same_pages_in_the_same_order_with_the_same_calls_as_reading_in_turn(portal, connect):
    seed_records(portal, contacts=130, companies=6)
    ahead = connect(portal, search_page_size=20, page_records=40, read_ahead=True)
    in_turn = connect(portal, search_page_size=20, page_records=40, read_ahead=False)
    pages = _read(ahead)
    assert len(pages) >= 3 and sum(len(p) for p in pages) == 130
    assert pages == _read(in_turn)
    assert ahead.client.calls == in_turn.client.calls


def test_a_429_on_a_page_read_ahead_is_retried_as_before(make_portal, connect):
    # One search per second: each page's search, sent as soon as the engine took the page
    # before, is answered 429 once and retried after HubSpot's secondly window.
    portal = make_portal(rate_limit_enabled=True, search_per_second=1, ten_second_limit=1000)
    seed_records(portal, contacts=25)
    conn = connect(portal, search_page_size=10, page_records=10, read_ahead=True)
    pages = _read(conn)
    assert len(pages) >= 3 and sum(len(p) for p in pages) == 25
    assert conn.client.http.retries == Portal.objects.get(pk=portal.pk).rate_limited_count >= 1
    assert _read(connect(portal, search_page_size=10, page_records=10, read_ahead=False)) == pages


def test_the_usage_it_reads_ahead_is_reported_on_the_engines_thread(make_portal, connect):
    portal = make_portal(rate_limit_enabled=True, ten_second_limit=1000, search_per_second=100)
    seed_records(portal, contacts=30)
    conn = connect(portal, search_page_size=10, page_records=10, read_ahead=True)
    threads = []
    conn.on_api_usage = lambda used, allowed: threads.append(threading.current_thread())
    assert sum(len(p) for p in _read(conn)) == 30
    assert threads and set(threads) == {threading.current_thread()}
