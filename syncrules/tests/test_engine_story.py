"""A scripted history on two memory apps: every decision a record's story tells is in its outcomes."""

from datetime import datetime

import pytest

from connectors.base import COMPANIES, CONTACTS, DEALS
from connectors.errors import ConnectorError, ErrorCategory
from syncrules.engine import details
from syncrules.engine.api import resync_deleted
from syncrules.models import LinkStatus, RecordLink, RecordOutcome, Side, SyncFilter
from syncrules.tests.test_engine_deals import World, make_world

pytestmark = pytest.mark.django_db
Action = RecordOutcome.Action


@pytest.fixture
def world(memory_connections) -> World:
    world = make_world()
    world.syncs[CONTACTS].conflict_winner = Side.B
    world.syncs[CONTACTS].save()
    return world


def link_of(world: World, kind: str, side: str, record_id: str) -> RecordLink:
    return RecordLink.objects.get(object_sync=world.syncs[kind], **{f"id_{side}": record_id})


def latest(link: RecordLink, action: str, side: str | None = None) -> RecordOutcome:
    rows = link.outcomes.filter(action=action)
    return (rows.filter(side=side) if side else rows).order_by("-created_at", "-pk").first()


def changes(link: RecordLink, side: str) -> list[tuple[str, object, object, str]]:
    outcome = latest(link, Action.UPDATED, side)
    return [(c["field_a"], c["old"], c["new"], c["reason"]) for c in outcome.details["changes"]]


def test_exclusions_say_whether_the_email_or_which_filter_kept_a_record_out(world):
    SyncFilter.objects.create(object_sync=world.syncs[CONTACTS], side="a", field="ha_last", operator="neq", value="Spam")
    nobody = world.apps.a.create(CONTACTS, first="No", last="Email")
    spam = world.apps.a.create(CONTACTS, email="spam@x.example", first="S", last="Spam")
    world.run(CONTACTS)
    no_email = latest(link_of(world, CONTACTS, "a", nobody), Action.EXCLUDED).details
    assert no_email == {"excluded_by": {"reason": details.NO_EMAIL, "detail": "No email address"}}
    filtered = latest(link_of(world, CONTACTS, "a", spam), Action.EXCLUDED)
    assert filtered.details["excluded_by"] == {"reason": details.FILTER, "detail": "Last name is not equal to Spam"}
    assert "Last name is not equal to Spam" in filtered.message


def test_matches_say_which_key_and_value_paired_the_records(world):
    acme_a = world.apps.a.create(COMPANIES, name="Acme", domain="acme.example")
    world.apps.b.create(COMPANIES, name="Acme Corporation", domain="www.ACME.example")
    zed_a = world.apps.a.create(COMPANIES, name="Zed Ltd")
    world.apps.b.create(COMPANIES, name="ZED LTD", domain="zed.example")
    ann_a = world.contact("a", "Ann@X.example")
    world.contact("b", "ann@x.example")
    world.run(COMPANIES, CONTACTS)
    by_domain = latest(link_of(world, COMPANIES, "a", acme_a), Action.MATCHED).details
    assert by_domain == {"matched_by": {"key": "domain", "value": "acme.example"}}
    assert latest(link_of(world, COMPANIES, "a", zed_a), Action.MATCHED).details["matched_by"] == {
        "key": "name", "value": "zed ltd"}
    assert latest(link_of(world, CONTACTS, "a", ann_a), Action.MATCHED).details["matched_by"] == {
        "key": "email", "value": "ann@x.example"}


def test_field_changes_say_what_changed_where_and_why(world):
    ann = world.apps.a.create(CONTACTS, email="ann@x.example", first="Ann", last="Lee", score=1)
    world.run(CONTACTS)
    link = link_of(world, CONTACTS, "a", ann)
    created = latest(link, Action.CREATED, "b").details["changes"]
    assert {(c["field_b"], c["new"], c["reason"]) for c in created} >= {("sf_first", "Ann", details.CREATED)}
    ann_b = link.id_b

    world.apps.a.edit(CONTACTS, ann, first="Anna")  # one side only
    edited_at = world.apps.clock.now
    world.run(CONTACTS)
    assert changes(link, "b") == [("ha_first", "Ann", "Anna", details.ONE_SIDED)]
    assert datetime.fromisoformat(latest(link, Action.UPDATED, "b").details["source_modified_at"]) == edited_at

    world.apps.a.edit(CONTACTS, ann, first="Annie")  # both within 5 minutes: B, the conflict winner
    world.apps.clock.advance(minutes=2)
    world.apps.b.edit(CONTACTS, ann_b, first="Anne")
    world.run(CONTACTS)
    assert changes(link, "a") == [("ha_first", "Annie", "Anne", details.CONFLICT_WINNER)]

    world.apps.b.edit(CONTACTS, ann_b, last="Li")  # both further apart: the most recent edit
    world.apps.clock.advance(minutes=10)
    world.apps.a.edit(CONTACTS, ann, last="Lea")
    world.run(CONTACTS)
    assert changes(link, "b") == [("ha_last", "Li", "Lea", details.MOST_RECENT)]

    world.apps.a.edit(CONTACTS, ann, score=None)  # B wins the conflict, but A's value is kept over empty
    world.apps.b.edit(CONTACTS, ann_b, score=None)
    world.apps.a.edit(CONTACTS, ann, score=7)
    world.apps.b.edit(CONTACTS, ann_b, first="Anne")
    run = world.run(CONTACTS)[CONTACTS]
    assert run.updated == 1
    assert changes(link, "b") == [("ha_score", None, "7", details.EMPTY_KEPT)]


def test_a_failure_that_will_be_retried_says_when(world):
    ann = world.apps.a.create(CONTACTS, email="ann@x.example", first="Ann", last="Lee")
    world.run(CONTACTS)
    world.apps.b.fail_when = lambda rid, values: ConnectorError(ErrorCategory.RATE_LIMITED, "Too many requests")
    world.apps.a.edit(CONTACTS, ann, first="Anna")
    world.run(CONTACTS)
    link = link_of(world, CONTACTS, "a", ann)
    failed = latest(link, Action.FAILED)
    assert failed.category == ErrorCategory.RATE_LIMITED.code and link.status == LinkStatus.FAILING
    assert datetime.fromisoformat(failed.details["next_retry_at"]) == link.next_retry_at
    world.apps.b.fail_when = lambda rid, values: ConnectorError(ErrorCategory.VALUE_TOO_LONG, "too long")
    world.apps.a.edit(CONTACTS, ann, first="Annabel")
    world.run(CONTACTS)
    assert "next_retry_at" not in latest(link, Action.FAILED).details  # permanent: waits for a change


def test_association_changes_list_the_ids_added_and_removed(world):
    acme = world.company("a", "Acme")
    zed = world.company("a", "Zed")
    ann = world.contact("a", "ann@x.example", company=acme)
    world.run(COMPANIES, CONTACTS)
    link = link_of(world, CONTACTS, "a", ann)
    acme_b, zed_b = (world.other_id(COMPANIES, "a", c) for c in (acme, zed))
    added = latest(link, Action.ASSOCIATED, "b").details["associations"]
    assert added == {"object_type": COMPANIES, "added": [acme_b], "removed": []}
    world.apps.a.associate(CONTACTS, ann, COMPANIES, zed, primary=True)
    world.apps.a.dissociate(CONTACTS, ann, COMPANIES, acme)
    world.apps.a.edit(CONTACTS, ann, first="Ann")
    world.run(CONTACTS)
    moved = latest(link, Action.ASSOCIATED, "b").details["associations"]
    assert moved == {"object_type": COMPANIES, "added": [zed_b], "removed": [acme_b]}


def test_a_deletion_and_its_resync_are_told_and_deals_keep_names(world):
    deal = world.deal("a", "Big deal", "closedwon")
    world.run(DEALS)
    link = link_of(world, DEALS, "a", deal)
    assert (link.name_a, link.name_b, link.match_key) == ("Big deal", "Big deal", "")
    stage = next(c for c in latest(link, Action.CREATED, "b").details["changes"] if c["field_a"] == "ha_stage")
    assert stage["field_b"] == "sf_stage" and stage["label"] == "Pipeline and stage"
    assert stage["new"] == "stage 'Closed Won' of pipeline 'Standard pipeline'" and stage["reason"] == details.CREATED
    world.apps.b.remove(DEALS, link.id_b)
    world.run(DEALS)
    gone = latest(link, Action.FAILED)
    assert gone.category == ErrorCategory.RECORD_DELETED.code and "next_retry_at" not in gone.details
    run = resync_deleted(world.syncs[DEALS].pk, "b")
    link.refresh_from_db()
    recreated = latest(link, Action.CREATED, "b")
    assert recreated.run_id == run.pk and recreated.run.kind == "resync" and link.status == LinkStatus.IN_SYNC
    assert {c["reason"] for c in recreated.details["changes"]} == {details.CREATED}
    assert link.name_b == "Big deal"


def test_companies_are_named_with_their_domain_and_keyed_by_it(world):
    acme = world.apps.b.create(COMPANIES, name="Acme", domain="www.Acme.example")
    bare = world.apps.a.create(COMPANIES, name="Bare Inc")
    world.run(COMPANIES)
    acme_link = link_of(world, COMPANIES, "b", acme)
    assert (acme_link.name_a, acme_link.name_b, acme_link.match_key) == (
        "Acme (www.Acme.example)", "Acme (www.Acme.example)", "acme.example")
    bare_link = link_of(world, COMPANIES, "a", bare)
    assert (bare_link.name_a, bare_link.match_key) == ("Bare Inc", "bare inc")


def test_a_duplicate_and_a_match_in_one_page_each_say_why(world):
    world.contact("a", "ann@x.example")
    world.contact("b", "ann@x.example")
    world.run(CONTACTS)
    twin = world.contact("a", "ANN@x.example")  # its only match is taken: a duplicate
    bob_b = world.contact("b", "bob@x.example")
    bob_a = world.contact("a", "bob@x.example")
    world.run(CONTACTS)
    assert latest(link_of(world, CONTACTS, "a", twin), Action.FAILED).category == ErrorCategory.DUPLICATE_RECORD.code
    bob = link_of(world, CONTACTS, "a", bob_a)
    assert bob.id_b == bob_b and latest(bob, Action.MATCHED).details["matched_by"]["value"] == "bob@x.example"
