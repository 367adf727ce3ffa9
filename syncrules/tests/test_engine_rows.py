"""engine.rows: links and outcomes written by prepared statements store what bulk_create would."""

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, connection, transaction

from syncrules.engine import rows
from syncrules.models import LinkStatus, RecordLink, RecordOutcome, SyncRun
from syncrules.tests.factories import make_sync

pytestmark = pytest.mark.django_db
WHEN = datetime(2026, 3, 1, 12, 30, 15, 250000, tzinfo=UTC)


def stored(sync):
    """Every column of the sync's links but the keys and updated_at (auto_now: the time of the write)."""
    skip = ("id", "object_sync_id", "updated_at")
    names = [f.attname for f in RecordLink._meta.concrete_fields if f.attname not in skip]
    return list(RecordLink.objects.filter(object_sync=sync).order_by("id_a").values_list(*names))


def a_link(sync, n, **values):
    return RecordLink(
        object_sync=sync, id_a=f"a{n}", id_b=f"b{n}", status=LinkStatus.IN_SYNC, modified_a=WHEN,
        last_values={"email": [f"p{n}@example.com", f"p{n}@example.com"]}, name_a=f"Person {n}", **values,
    )


def test_inserted_links_get_their_keys_and_hold_what_bulk_create_stores():
    ours, theirs = make_sync(), make_sync()
    extra = {"warnings": [{"field": "x"}], "has_warnings": True, "error_category": "", "fail_count": 1}
    mine = [a_link(ours, n, **extra) for n in range(3)] + [RecordLink(object_sync=ours, id_b="b9")]
    rows.insert_objects(mine)
    RecordLink.objects.bulk_create([a_link(theirs, n, **extra) for n in range(3)] + [RecordLink(object_sync=theirs, id_b="b9")])
    assert all(link.pk and not link._state.adding for link in mine)
    assert len({link.pk for link in mine}) == 4
    assert stored(ours) == stored(theirs) and len(stored(ours)) == 4


def test_a_link_reads_back_its_json_datetimes_and_text_as_written():
    sync = make_sync()
    link = a_link(sync, 1, last_error="The record ha_1 no longer exists.")
    rows.insert_objects([link])
    again = RecordLink.objects.get(pk=link.pk)
    assert again.last_values == {"email": ["p1@example.com", "p1@example.com"]}
    assert again.associations == {} and again.warnings == []
    assert again.modified_a == WHEN and again.modified_b is None
    assert again.status == LinkStatus.IN_SYNC and again.last_error == "The record ha_1 no longer exists."
    assert again.updated_at is not None and link.updated_at == again.updated_at


def test_a_value_of_another_type_goes_through_its_field_as_save_would():
    sync = make_sync()
    link = RecordLink(object_sync=sync, id_a=12345, status=LinkStatus.EXCLUDED, fail_count=2)
    rows.insert_objects([link])
    assert RecordLink.objects.filter(pk=link.pk).values_list("id_a", "id_b", "fail_count").get() == ("12345", None, 2)


def test_a_duplicate_link_fails_the_insert_and_its_transaction_keeps_nothing():
    sync = make_sync()
    rows.insert_objects([a_link(sync, 1)])
    with pytest.raises(IntegrityError), transaction.atomic():
        rows.insert_objects([a_link(sync, 2), a_link(sync, 1)])
    assert list(RecordLink.objects.values_list("id_a", flat=True)) == ["a1"]


def test_outcome_rows_are_inserted_with_their_json_and_time():
    sync = make_sync()
    run = SyncRun.objects.create(object_sync=sync)
    link = a_link(sync, 1)
    rows.insert_objects([link])
    columns = ("run_id", "object_sync_id", "link_id", "id_a", "id_b", "side", "action", "category", "message", "hint",
               "created_at", "details", "warnings")
    rows.insert(RecordOutcome, columns, [
        (run.pk, sync.pk, link.pk, "a1", "b1", "b", RecordOutcome.Action.CREATED, "", "Wrote email.", "", WHEN,
         {"changes": [{"field_a": "email", "new": "p1@example.com"}]}, []),
        (run.pk, sync.pk, None, "a2", "", "", RecordOutcome.Action.EXCLUDED, "", "Excluded.", "", WHEN, {}, []),
    ])
    first, second = RecordOutcome.objects.order_by("pk")
    assert (first.link_id, first.action, first.created_at) == (link.pk, "created", WHEN)
    assert first.details == {"changes": [{"field_a": "email", "new": "p1@example.com"}]}
    assert second.link_id is None and second.details == {} and second.warnings == []


def test_nothing_to_insert_sends_no_statement(django_assert_num_queries):
    with django_assert_num_queries(0):
        rows.insert_objects([])
        rows.insert(RecordOutcome, ("run_id",), [])
        rows.update(RecordLink, ("status",), [])


def test_update_writes_the_named_fields_of_each_link_by_key():
    sync = make_sync()
    links = [a_link(sync, n) for n in range(3)]
    rows.insert_objects(links)
    links[0].status, links[0].last_values, links[0].next_retry_at = LinkStatus.FAILING, {}, WHEN
    links[2].name_a = "Renamed"
    rows.update(RecordLink, ("status", "last_values", "next_retry_at", "name_a"), links)
    got = {link.id_a: link for link in RecordLink.objects.all()}
    assert (got["a0"].status, got["a0"].last_values, got["a0"].next_retry_at) == (LinkStatus.FAILING, {}, WHEN)
    assert got["a1"].status == LinkStatus.IN_SYNC and got["a2"].name_a == "Renamed"


def test_text_that_arrays_would_have_to_escape_and_columns_of_nulls_round_trip():
    sync = make_sync()
    awkward = ["NULL", "", '{a,b}', 'say "hi"', "back\\slash", "tab\tand\nnewline", "émoji 🙂"]
    links = [RecordLink(object_sync=sync, id_a=f"a{n}", name_b=text, last_error=text, last_values={"f": [text, None]})
             for n, text in enumerate(awkward)]
    rows.insert_objects(links)
    got = {link.id_a: link for link in RecordLink.objects.filter(object_sync=sync)}
    assert [(got[f"a{n}"].name_b, got[f"a{n}"].last_error) for n in range(len(awkward))] == [(t, t) for t in awkward]
    assert [got[f"a{n}"].last_values for n in range(len(awkward))] == [{"f": [t, None]} for t in awkward]
    assert all(link.id_b is None and link.next_retry_at is None and link.modified_a is None for link in got.values())


def test_an_update_naming_one_link_twice_leaves_its_last_values():
    sync = make_sync()
    link = a_link(sync, 1)
    rows.insert_objects([link])
    first, second = RecordLink.objects.get(pk=link.pk), RecordLink.objects.get(pk=link.pk)
    first.name_a, second.name_a = "First", "Second"
    rows.update(RecordLink, ("name_a",), [first, second])
    assert RecordLink.objects.get(pk=link.pk).name_a == "Second"


def test_an_update_that_breaks_a_constraint_fails_and_changes_nothing():
    sync = make_sync()
    links = [a_link(sync, 1), a_link(sync, 2)]
    rows.insert_objects(links)
    links[0].name_a, links[1].id_a = "Renamed", "a1"  # a2 takes a1's id on side A
    with pytest.raises(IntegrityError), transaction.atomic():
        rows.update(RecordLink, ("name_a", "id_a"), links)
    assert sorted(RecordLink.objects.values_list("id_a", "name_a")) == [("a1", "Person 1"), ("a2", "Person 2")]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite takes a page in as many statements as its parameters allow")
def test_on_postgresql_a_page_of_links_and_outcomes_takes_one_statement_each(django_assert_num_queries):
    sync = make_sync()
    run = SyncRun.objects.create(object_sync=sync)
    links = [a_link(sync, n) for n in range(5000)]  # 5,000 x 17 values: past the 65,535 parameters of one statement
    with django_assert_num_queries(1):
        rows.insert_objects(links)
    for link in links:
        link.status = LinkStatus.FAILING
    with django_assert_num_queries(1):
        rows.update(RecordLink, ("status",), links)
    columns = ("run_id", "object_sync_id", "link_id", "id_a", "id_b", "side", "action", "category", "message", "hint",
               "created_at", "details", "warnings")
    with django_assert_num_queries(1):
        rows.insert(RecordOutcome, columns, [(run.pk, sync.pk, link.pk, link.id_a, link.id_b, "", "failed", "", "",
                                              "", WHEN, {}, []) for link in links])
    assert RecordLink.objects.filter(object_sync=sync, status=LinkStatus.FAILING).count() == 5000
    assert RecordOutcome.objects.filter(run=run, link__isnull=False).count() == 5000


def test_load_gives_the_links_the_orm_gives_with_every_value_and_time_zone():
    sync = make_sync()
    extra = {"warnings": [{"field": "x"}], "has_warnings": True, "next_retry_at": WHEN, "fail_count": 3}
    rows.insert_objects([a_link(sync, n, **extra) for n in range(3)] + [RecordLink(object_sync=sync, id_b="b9")])
    names = [f.attname for f in RecordLink._meta.concrete_fields]
    loaded = {link.pk: link for link in rows.load(RecordLink, {"object_sync": sync}, "id_b", ["b0", "b1", "b2", "b9"])}
    orm = {link.pk: link for link in RecordLink.objects.filter(object_sync=sync)}
    assert loaded.keys() == orm.keys() and len(loaded) == 4
    for pk, link in loaded.items():
        assert [getattr(link, n) for n in names] == [getattr(orm[pk], n) for n in names]
        assert link.updated_at.tzinfo == orm[pk].updated_at.tzinfo and not link._state.adding


def test_load_leaves_out_the_ids_not_asked_for_and_other_syncs_links():
    ours, theirs = make_sync(), make_sync()
    rows.insert_objects([a_link(ours, n) for n in range(3)] + [a_link(theirs, n) for n in range(3)])
    found = rows.load(RecordLink, {"object_sync": ours}, "id_a", ["a0", "a2", "a7"])
    assert sorted((link.object_sync_id, link.id_a) for link in found) == [(ours.pk, "a0"), (ours.pk, "a2")]
    assert rows.load(RecordLink, {"object_sync": ours}, "id_a", []) == []
