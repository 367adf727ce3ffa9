"""The engine takes both sides' pages interleaved (engine.runner, connectors.readahead.interleave):
whichever order the pages come in, and however long before their turn they were read, a run
ends with the same links and the same records as one that reads side A, then side B.

The order is forced here by replacing the runner's `interleave` with `scheduled`, which takes
the sides in a given order and reads each side's pages `ahead` pages before their turn (as the
read-ahead threads do, so a page may hold copies older than what the other side's pages wrote).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal

import pytest
from django.db import transaction
from django.test import override_settings
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from connectors.base import COMPANIES, CONTACTS
from connectors.errors import ConnectorError, ErrorCategory
from syncrules.engine import run_sync, runner
from syncrules.models import LinkStatus, ObjectSync, RecordLink, RecordOutcome, SyncRun
from syncrules.tests.factories import make_memory_sync, make_sync
from syncrules.tests.memory_connector import Apps

pytestmark = pytest.mark.django_db
C = CONTACTS
FIELDS = ("first", "last", "score", "vip")
VALUES = {
    "first": st.sampled_from(["Ann", "Bo", None]),
    "last": st.sampled_from(["Lee", "Ray", "Doe"]),
    "score": st.sampled_from([None, Decimal("1"), Decimal("2.5")]),
    "vip": st.sampled_from([None, True, False]),
}


def scheduled(order: Sequence[str], ahead: int):
    """An `interleave` that takes the side named next in `order` (the other one once that side
    is done; in turn once `order` is used up), each side's pages read `ahead` before their turn."""

    def mix(sources: Mapping[str, Iterator], weight: object = None) -> Iterator[tuple[str, object]]:
        read = {side: deque() for side in sources}
        done: set[str] = set()

        def fill(side: str, count: int) -> None:
            while side not in done and len(read[side]) < count:
                try:
                    read[side].append(next(sources[side]))
                except StopIteration:
                    done.add(side)

        for side in sources:
            fill(side, ahead)
        picks, last = iter(order), "b"
        while True:
            live = [s for s in sources if read[s] or s not in done]
            if not live:
                return
            wanted = next(picks, "b" if last == "a" else "a")
            side = wanted if wanted in live else live[0]
            fill(side, 1)
            if not read[side]:
                continue
            page = read[side].popleft()
            fill(side, ahead)  # the next pages are read before the engine works on this one
            last = side
            yield side, page

    return mix


def world(records: Sequence[tuple], page_size: int = 3) -> tuple[Apps, ObjectSync]:
    """Memory apps holding `records`: (where, values on A, values on B), where "a", "b" or
    "both" (the same email, in other letter case on B); emails are unique on each side."""
    apps = Apps()
    for app in (apps.a, apps.b):
        app.page_size, app.batch_size = page_size, 2
    for number, (where, values_a, values_b) in enumerate(records):
        email = f"p{number}@example.com"
        if where in ("a", "both"):
            apps.a.create(C, email=email, **values_a)
        if where in ("b", "both"):
            apps.b.create(C, email=email.upper() if where == "both" else email, **values_b)
    return apps, make_memory_sync(apps)


def state(apps: Apps, sync: ObjectSync) -> dict:
    """Each side's records by email with their values, and the links by email: what must not
    depend on the order of the pages."""
    counts, found, emails = Counter(), {}, {}
    for side, app in (("a", apps.a), ("b", apps.b)):
        for record_id, values in app.all(C).items():
            email = emails[(side, record_id)] = (values.get(f"{app.prefix}email") or "").lower()
            counts[(side, email)] += 1
            found[(side, email)] = {k: app.get(C, record_id, k) for k in FIELDS}
    links = sorted((link.status, emails.get(("a", link.id_a)), emails.get(("b", link.id_b)))
                   for link in RecordLink.objects.filter(object_sync=sync))
    return {"records": {key: (counts[key], values) for key, values in found.items()}, "links": links}


def run(sync: ObjectSync) -> SyncRun:
    result = run_sync(sync.pk)
    assert result.status == SyncRun.Status.SUCCEEDED, result.error
    return result


def values() -> st.SearchStrategy:
    return st.fixed_dictionaries({k: v for k, v in VALUES.items()})


records_strategy = st.lists(st.tuples(st.sampled_from(["a", "b", "both", "both"]), values(), values()),
                            min_size=1, max_size=14)
edits_strategy = st.lists(st.tuples(st.integers(0, 30), st.sampled_from(["a", "b"]), st.sampled_from(FIELDS),
                                    st.sampled_from(["Zed", "Ray", None])), max_size=6)


def edit(apps: Apps, edits: Sequence[tuple]) -> None:
    apps.clock.advance(minutes=30)
    for pick, side, key, value in edits:
        app = apps.a if side == "a" else apps.b
        ids = sorted(app.all(C))
        if key in ("score", "vip"):
            value = {"Zed": Decimal("7"), "Ray": True}.get(value) if key == "score" else value == "Ray"
        app.edit(C, ids[pick % len(ids)], **{key: value})


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records_strategy, edits_strategy, st.lists(st.sampled_from(["a", "b"]), max_size=12), st.integers(0, 4))
@example([("both", {"first": "Ann", "last": "Lee", "score": None, "vip": None},
           {"first": "Bo", "last": "Ray", "score": Decimal("1"), "vip": True})] * 4, [], ["a"] * 4, 4)
@example([("b", {"first": None, "last": "Doe", "score": None, "vip": None},
           {"first": "Bo", "last": "Ray", "score": None, "vip": None})] * 5, [(0, "a", "last", "Zed")], ["a"], 0)
def test_the_final_links_and_records_are_the_same_whichever_order_the_pages_come_in(
    memory_connections, monkeypatch, records, edits, order, ahead
):
    with transaction.atomic():
        with override_settings(SYNC_INTERLEAVE_SIDES=False):
            apps, sync = world(records)
            run(sync)
            edit(apps, edits)
            run(sync)
            expected = state(apps, sync)
        monkeypatch.setattr(runner, "interleave", scheduled(order, ahead))
        apps, sync = world(records)
        run(sync)
        edit(apps, edits)
        run(sync)
        assert state(apps, sync) == expected
        assert all(count == 1 for count, _ in expected["records"].values())  # nothing duplicated
        written = apps.written
        quiet = run(sync)  # nothing left to write, nothing written back and forth
        assert apps.written == written and quiet.created == quiet.updated == 0
        transaction.set_rollback(True)


def test_an_older_copy_read_before_the_other_side_wrote_is_not_synced_back(memory_connections, monkeypatch):
    # Side B's pages are all read before side A's page merges the pair and writes A's values to B.
    apps, sync = world([("both", {"first": "Ann", "last": "Lee"}, {"first": "Bo", "last": "Ray"})] + [
        ("b", {}, {"first": "Cy", "last": "Doe"})] * 3, page_size=2)
    sync.conflict_winner = "a"
    sync.save()
    monkeypatch.setattr(runner, "interleave", scheduled(["a", "b", "b", "a"], ahead=5))
    first = run(sync)
    pair = RecordLink.objects.get(object_sync=sync, id_a=next(iter(apps.a.all(C))))
    assert (apps.a.get(C, pair.id_a, "first"), apps.b.get(C, pair.id_b, "first")) == ("Ann", "Ann")
    assert first.matched == 1 and first.created == 3 and first.failed == 0
    assert written_to_a(first) == []  # A's values won: nothing is written to A
    written = apps.written
    assert run(sync).updated == 0 and apps.written == written


def test_without_the_older_copy_rule_the_same_order_would_write_the_old_values_back(memory_connections, monkeypatch):
    """What the rule prevents, shown: the same scenario with the rule off reverts the merge."""
    apps, sync = world([("both", {"first": "Ann", "last": "Lee"}, {"first": "Bo", "last": "Ray"})], page_size=2)
    sync.conflict_winner = "a"
    sync.save()
    monkeypatch.setattr(runner, "interleave", scheduled(["a", "b"], ahead=5))
    monkeypatch.setattr(runner.Engine, "older_copy", lambda *args: False)
    result = run(sync)
    # B's old copy is written over A's value (and then back, when B is read once more).
    assert written_to_a(result)


def written_to_a(result: SyncRun) -> list[str]:
    return list(RecordOutcome.objects.filter(run=result, side="a", action=RecordOutcome.Action.UPDATED)
                .values_list("message", flat=True))


def test_a_record_created_by_one_sides_page_and_read_in_the_others_is_recognised_as_ours(
    memory_connections, monkeypatch
):
    apps, sync = world([("a", {"first": "Ann", "last": "Lee"}, {})] * 4, page_size=2)
    # A's pages first, then B's read afterwards: B's pages hold the records A's pages created.
    monkeypatch.setattr(runner, "interleave", scheduled(["a", "a", "b", "b", "b"], ahead=0))
    first = run(sync)
    assert first.created == 4 and first.processed == 8  # the four created ones read back on B
    assert first.updated == 0 and len(apps.b.all(C)) == 4
    assert RecordLink.objects.filter(object_sync=sync, status=LinkStatus.IN_SYNC).count() == 4


def test_a_pair_seen_from_both_sides_is_matched_once_whichever_side_comes_first(memory_connections, monkeypatch):
    for order in (["a", "b"], ["b", "a"]):
        apps, sync = world([("both", {"first": "Ann", "last": "Lee"}, {"first": "Ann", "last": "Lee"})] * 3)
        monkeypatch.setattr(runner, "interleave", scheduled(order, ahead=3))
        result = run(sync)
        assert result.matched == 3 and result.created == 0, order
        assert len(apps.a.all(C)) == len(apps.b.all(C)) == 3
        links = RecordLink.objects.filter(object_sync=sync)
        assert links.count() == 3 and all(link.id_a and link.id_b for link in links)


def test_a_read_error_on_one_sides_page_fails_the_run_with_the_cursors_at_the_saved_pages(memory_connections):
    apps, sync = world([("a", {"last": "Lee"}, {})] * 6 + [("b", {}, {"last": "Ray"})] * 6, page_size=2)
    original = apps.b.call
    reads = Counter()

    def failing(method=""):
        if method == "read_changes":
            reads[method] += 1
            if reads[method] == 2:
                raise ConnectorError(ErrorCategory.APP_UNAVAILABLE, "Salesforce answered 503")
        return original(method)

    apps.b.call = failing
    failed = run_sync(sync.pk)  # in turn (threads off): A1, B1, A2, B2 fails
    assert failed.status == SyncRun.Status.FAILED and "503" in failed.error
    sync.refresh_from_db()
    assert sync.cursor_a is not None and sync.cursor_b is not None  # A's first pages, B's first page
    assert failed.processed == 6
    apps.b.call = original
    again = run(sync)
    assert again.status == SyncRun.Status.SUCCEEDED
    assert len(apps.a.all(C)) == len(apps.b.all(C)) == 12
    assert RecordLink.objects.filter(object_sync=sync, status=LinkStatus.IN_SYNC).count() == 12


def test_turning_interleaving_off_reads_side_a_then_side_b(memory_connections, monkeypatch):
    apps, sync = world([("a", {"last": "Lee"}, {})] * 4 + [("b", {}, {"last": "Ray"})] * 4, page_size=2)
    sides = []
    original = runner.Engine.process

    def noted(engine, side, records, **kwargs):
        if not kwargs.get("forced"):
            sides.append(side)
        return original(engine, side, records, **kwargs)

    monkeypatch.setattr(runner.Engine, "process", noted)
    with override_settings(SYNC_INTERLEAVE_SIDES=False):
        run(sync)
    assert sides[:2] == ["a", "a"] and sides.index("b") >= 2 and "a" not in sides[sides.index("b"):]
    sides.clear()
    apps.a.create(C, email="new@example.com", last="Lee")
    apps.b.create(C, email="other@example.com", last="Ray")
    run(sync)  # on (the default): in turn
    assert sides[:2] == ["a", "b"]


def test_associations_read_with_an_older_copy_are_read_again(memory_connections, monkeypatch):
    """B's contact page is read before A's page syncs the contact's company to B: the page's
    "no company" is old, and must not remove the company from A."""
    apps = Apps()
    for app in (apps.a, apps.b):
        app.page_size, app.batch_size = 2, 2
    contacts = make_memory_sync(apps, state=ObjectSync.State.ACTIVE)
    companies = make_sync(COMPANIES, connection_a=contacts.connection_a, connection_b=contacts.connection_b,
                          state=ObjectSync.State.ACTIVE)
    from syncrules.engine.mappings import create_default_mappings

    create_default_mappings(companies, apps.a.connector(), apps.b.connector())
    acme = apps.a.create(COMPANIES, name="Acme", domain="acme.example")
    apps.b.create(COMPANIES, name="Acme", domain="acme.example")
    ann_a = apps.a.create(C, email="ann@example.com", first="Ann", last="Lee")
    apps.a.associate(C, ann_a, COMPANIES, acme, primary=True)
    ann_b = apps.b.create(C, email="ANN@example.com", first="Ann", last="Lee")
    run(companies)
    monkeypatch.setattr(runner, "interleave", scheduled(["a", "b"], ahead=5))
    first = run(contacts)
    acme_b = RecordLink.objects.get(object_sync=companies, id_a=acme).id_b
    assert apps.b.associations(C, ann_b, COMPANIES) == [acme_b]
    assert apps.a.associations(C, ann_a, COMPANIES) == [acme]
    assert first.associated == 1


def test_side_b_is_read_once_more_so_its_cursor_ends_past_the_runs_own_writes(memory_connections, monkeypatch):
    apps, sync = world([("a", {"first": "Ann", "last": "Lee"}, {})] * 4 + [("b", {}, {"last": "Ray"})] * 2,
                       page_size=2)
    monkeypatch.setattr(runner, "interleave", scheduled(["b", "a"], ahead=5))  # B wholly read before A writes
    first = run(sync)
    assert first.created == 6
    sync.refresh_from_db()
    left = [r for page in apps.b.connector().read_changes(C, sync.cursor_b) for r in page.records]
    assert left == []  # the four records A's pages created on B were read back in this run
    assert run(sync).processed == 2  # next time only B's writes to A come back (as before)
