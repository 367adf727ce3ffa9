"""The queries a run makes whatever changed read through an index, so that a run's cost does not
grow with the number of links (issue 13: an incremental run at 1,000,000 links)."""

from __future__ import annotations

import pytest
from django.db import connection

from syncrules.engine.values import with_warnings
from syncrules.models import LinkStatus, RecordLink
from syncrules.tests.factories import make_sync

pytestmark = pytest.mark.django_db


def plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return " ".join(str(row[-1]) for row in cursor.fetchall())


@pytest.fixture
def sync_with_links():
    sync = make_sync()
    RecordLink.objects.bulk_create(
        RecordLink(object_sync=sync, id_a=f"a{n}", id_b=f"b{n}", has_warnings=n % 3 == 0,
                   status=LinkStatus.FAILING if n % 2 else LinkStatus.IN_SYNC, warnings=[{"field": "x"}] if n % 3 == 0 else [])
        for n in range(30)
    )
    return sync


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's planner, which has no statistics to go by")
def test_it_reads_the_links_with_warnings_through_their_index_and_not_every_link_of_the_sync(sync_with_links):
    query = plan(with_warnings(sync_with_links, LinkStatus.IN_SYNC).filter(pk__gt=0)[:1000])
    assert "recordlink_warnings_idx" in query
    assert "object_sync_id=? AND status=? AND has_warnings=?" in query


def test_it_finds_exactly_the_links_of_that_status_carrying_warnings_in_key_order(sync_with_links):
    other = make_sync()
    RecordLink.objects.create(object_sync=other, id_a="x", id_b="y", has_warnings=True)
    found = list(with_warnings(sync_with_links, LinkStatus.IN_SYNC))
    assert [link.id_a for link in found] == ["a0", "a6", "a12", "a18", "a24"]
    assert [link.pk for link in found] == sorted(link.pk for link in found)
    assert [link.id_a for link in with_warnings(sync_with_links, LinkStatus.FAILING)] == ["a3", "a9", "a15", "a21", "a27"]
