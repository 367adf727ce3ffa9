"""The queries a run makes whatever changed read through an index, so that a run's cost does not
grow with the number of links (issue 13: an incremental run at 1,000,000 links)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from syncrules.engine import store
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


# --- links saved: an UPDATE sets the indexed columns that changed only ------------------------
def saved_columns(links) -> list[str]:
    """The SET clauses of the UPDATEs that update_rows makes for `links`, one string each."""
    with CaptureQueriesContext(connection) as queries:
        store.update_rows(links, store.LINK_FIELDS)
    updates = [q["sql"] for q in queries if "UPDATE " in q["sql"]]  # executemany logs "N times: UPDATE ..."
    return [sql.split(" SET ", 1)[1].split(" WHERE ")[0] for sql in updates]


def test_an_update_of_values_leaves_the_indexed_columns_out_and_saves_the_values(sync_with_links):
    link = RecordLink.objects.get(object_sync=sync_with_links, id_a="a0")
    link.last_values = {"k": ["1", "1"]}
    [columns] = saved_columns([link])
    assert '"last_values"' in columns and '"updated_at"' in columns
    assert '"status"' not in columns and '"id_a"' not in columns and '"match_key"' not in columns
    assert RecordLink.objects.get(pk=link.pk).last_values == {"k": ["1", "1"]}


def test_an_indexed_column_changed_and_changed_back_reaches_the_database_both_times(sync_with_links):
    link = RecordLink.objects.get(object_sync=sync_with_links, id_a="a0")
    link.status = LinkStatus.FAILING
    [columns] = saved_columns([link])
    assert '"status"' in columns and '"has_warnings"' not in columns
    assert RecordLink.objects.get(pk=link.pk).status == LinkStatus.FAILING
    link.status = LinkStatus.IN_SYNC  # the value it was loaded with: still a change to save
    saved_columns([link])
    assert RecordLink.objects.get(pk=link.pk).status == LinkStatus.IN_SYNC


def test_links_changing_different_columns_are_saved_each_with_its_own(sync_with_links):
    moved, renamed, kept = (RecordLink.objects.get(object_sync=sync_with_links, id_a=i) for i in ("a0", "a2", "a4"))
    moved.status, renamed.match_key, kept.last_error = LinkStatus.EXCLUDED, "new@example.com", "note"
    assert len(saved_columns([moved, renamed, kept])) == 3
    rows = {r.id_a: r for r in RecordLink.objects.filter(pk__in=[moved.pk, renamed.pk, kept.pk])}
    assert rows["a0"].status == LinkStatus.EXCLUDED and rows["a2"].match_key == "new@example.com"
    assert rows["a4"].last_error == "note" and rows["a4"].status == LinkStatus.IN_SYNC


def test_a_link_whose_stored_state_is_unknown_sets_every_column(sync_with_links):
    loaded = RecordLink.objects.get(object_sync=sync_with_links, id_a="a0")
    built = RecordLink(pk=loaded.pk, object_sync=sync_with_links, id_a="a0", id_b="b0", status=LinkStatus.FAILING,
                       updated_at=timezone.now())
    loaded.refresh_from_db()
    for link in (built, loaded):
        [columns] = saved_columns([link])
        assert all(f'"{name}"' in columns for name in RecordLink.INDEXED_FIELDS)
    assert RecordLink.objects.get(pk=loaded.pk).status == LinkStatus.IN_SYNC


def test_a_link_loaded_without_its_indexed_columns_reads_nothing_more_and_sets_them(sync_with_links):
    link = RecordLink.objects.only("pk", "last_values").get(object_sync=sync_with_links, id_a="a0")
    with CaptureQueriesContext(connection) as queries:
        changed = link.changed_indexed_fields()
    assert changed == RecordLink.INDEXED_FIELDS and not queries
