"""How many calls a full read takes: search pages joined into pages of `page_records`, each
with one association read for all its records (not one per search page)."""

from __future__ import annotations

from collections import Counter
from urllib.parse import urlsplit

import pytest
import requests

from sandbox.hubspot.models import Association, CrmObject
from sandbox.hubspot.seed import seed_records

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def paths(monkeypatch):
    """Method and path of every request the connector sends, counted."""
    sent: Counter[str] = Counter()
    original = requests.Session.send

    def send(session, prepared, **kwargs):
        sent[f"{prepared.method} {urlsplit(prepared.url).path.split('/sandbox/hubspot')[-1]}"] += 1
        return original(session, prepared, **kwargs)

    monkeypatch.setattr(requests.Session, "send", send)
    return sent


SEARCH = "POST /crm/v3/objects/contacts/search"
ASSOCIATIONS = "POST /crm/v4/associations/contacts/companies/batch/read"


def test_a_full_read_joins_search_pages_and_reads_associations_once_per_joined_page(portal, connect, paths):
    seed_records(portal, contacts=450, companies=20)
    conn = connect(portal, search_page_size=100, page_records=200)
    conn.field_map("contacts")
    paths.clear()
    pages = list(conn.read_changes("contacts"))
    assert all(len(p.records) <= 200 for p in pages) and len(pages) == 3
    # 5 search pages of 100, plus one when a page ends inside a run of records sharing one
    # modification timestamp (seeding is fast: ties happen); association reads: 3, not 5 or 6.
    assert 5 <= paths[SEARCH] <= 6 and paths[ASSOCIATIONS] == 3
    records = [r for p in pages for r in p.records]
    assert len({r.id for r in records}) == 450
    expected = {str(a.from_id): str(a.to_id) for a in Association.objects.filter(
        portal=portal, from_type="contacts", to_type="companies", type_id=1)}
    assert expected and all(r.associations["companies"][:1] == ([expected[r.id]] if r.id in expected else [])
                            for r in records)
    assert pages[-1].cursor == list(conn.read_changes("contacts", pages[1].cursor))[-1].cursor


def test_3000_contacts_take_at_most_4_association_reads(portal, connect, paths):
    seed_records(portal, contacts=3000, companies=50)
    conn = connect(portal)  # the defaults: search pages of 200, joined pages of up to 1,000
    conn.field_map("contacts")
    paths.clear()
    pages = list(conn.read_changes("contacts"))
    assert sum(len(p.records) for p in pages) == 3000 and all(len(p.records) <= 1000 for p in pages)
    # One association read per search page before (16 or more); the searches are reads.py's.
    assert paths[ASSOCIATIONS] == len(pages) <= 4
    assert paths.total() == paths[SEARCH] + len(pages)


def test_reads_between_two_pages_still_bring_their_associations(portal, connect):
    seed_records(portal, contacts=30, companies=5, contact_company_share=1.0)
    conn = connect(portal, search_page_size=10, page_records=10)
    pages = conn.read_changes("contacts")
    first = next(pages)
    assert all(r.associations["companies"] for r in first.records)
    ids = [str(pk) for pk in CrmObject.objects.filter(portal=portal, object_type="contacts").values_list("pk", flat=True)]
    between = conn.read("contacts", ids)  # what the engine does while processing a page
    assert len(between) == 30 and all(r.associations["companies"] for r in between.values())
    assert all(r.associations["companies"] for p in pages for r in p.records)
