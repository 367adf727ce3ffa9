"""Deals, associations and deletions in the engine, on two in-memory apps.

Side A is HubSpot-like (an explicit pipeline field, stage ids), side B Salesforce-like (one
implicit pipeline, stage names). Companies, contacts and deals sync between the same two
connections, so associations go through the company and contact syncs' links.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from connectors.base import COMPANIES, CONTACTS, DEALS
from connectors.errors import ConnectorError, ErrorCategory
from syncrules.deals import map_pipelines
from syncrules.engine import run_sync
from syncrules.engine.api import resync_deleted, wake_dependents
from syncrules.engine.mappings import create_default_mappings
from syncrules.models import LinkStatus, ObjectSync, RecordLink, SyncRun
from syncrules.tests.factories import make_memory_sync, make_sync
from syncrules.tests.memory_connector import HUBSPOT_PIPELINE, SALESFORCE_PIPELINE, Apps, MemoryApp

pytestmark = pytest.mark.django_db


@dataclass
class World:
    apps: Apps
    syncs: dict[str, ObjectSync]

    def run(self, *kinds: str) -> dict[str, SyncRun]:
        runs = {}
        for kind in kinds or (COMPANIES, CONTACTS, DEALS):
            runs[kind] = run_sync(self.syncs[kind].pk)
            assert runs[kind].status != SyncRun.Status.FAILED, runs[kind].error
        return runs

    def other_id(self, kind: str, side: str, record_id: str) -> str | None:
        link = RecordLink.objects.filter(object_sync=self.syncs[kind], **{f"id_{side}": record_id}).first()
        return getattr(link, f"id_{'b' if side == 'a' else 'a'}") if link else None

    def company(self, side: str, name: str) -> str:
        app = self.app(side)
        return app.create(COMPANIES, name=name, domain=f"{name.lower()}.example")

    def contact(self, side: str, email: str, company: str | None = None) -> str:
        app = self.app(side)
        contact = app.create(CONTACTS, email=email, first=email.split("@")[0], last="Doe")
        if company:
            app.associate(CONTACTS, contact, COMPANIES, company, primary=True)
        return contact

    def deal(self, side: str, name: str, stage: str, contacts=(), company: str | None = None) -> str:
        app = self.app(side)
        deal = app.create(DEALS, deal_name=name, amount=100, stage=stage)
        for contact in contacts:
            app.associate(DEALS, deal, CONTACTS, contact)
        if company:
            app.associate(DEALS, deal, COMPANIES, company, primary=True)
        return deal

    def app(self, side: str) -> MemoryApp:
        return self.apps.a if side == "a" else self.apps.b


def make_world(apps: Apps | None = None, *, kinds=(COMPANIES, CONTACTS, DEALS), **deal_options) -> World:
    apps = apps or Apps()
    first = make_memory_sync(apps, kinds[0], state=ObjectSync.State.ACTIVE)
    syncs = {kinds[0]: first}
    for kind in kinds[1:]:
        sync = make_sync(kind, connection_a=first.connection_a, connection_b=first.connection_b,
                         state=ObjectSync.State.ACTIVE, **(deal_options if kind == DEALS else {}))
        create_default_mappings(sync, apps.a.connector(), apps.b.connector())
        syncs[kind] = sync
    if DEALS in syncs:
        map_pipelines(syncs[DEALS], apps.a.pipelines[0], apps.b.pipelines[0])
        syncs[DEALS].options = {"association_sweep_seconds": 0, **syncs[DEALS].options}
        syncs[DEALS].save()
    return World(apps, syncs)


@pytest.fixture
def world(memory_connections):
    return make_world()


def test_stage_auto_map_pairs_hubspot_and_salesforce_like_stages(world):
    pairs = {(s.stage_a, s.stage_b) for m in world.syncs[DEALS].pipeline_mappings.all() for s in m.stage_mappings.all()}
    assert ("closedwon", "Closed Won") in pairs and ("closedlost", "Closed Lost") in pairs
    assert ("qualifiedtobuy", "Qualification") in pairs


def test_deals_sync_with_their_stage_translated_and_their_contacts_and_company(world):
    acme = world.company("a", "Acme")
    ann = world.contact("a", "ann@acme.example", acme)
    deal = world.deal("a", "Big one", "closedwon", [ann], acme)
    runs = world.run()
    assert runs[DEALS].created == 1 and runs[DEALS].waiting == 0
    b_deal = world.other_id(DEALS, "a", deal)
    assert world.apps.b.get(DEALS, b_deal, "stage") == "Closed Won"
    assert world.apps.b.associations(DEALS, b_deal, CONTACTS) == [world.other_id(CONTACTS, "a", ann)]
    assert world.apps.b.associations(DEALS, b_deal, COMPANIES) == [world.other_id(COMPANIES, "a", acme)]
    assert world.apps.b.associations(CONTACTS, world.other_id(CONTACTS, "a", ann), COMPANIES) == [
        world.other_id(COMPANIES, "a", acme)]
    # the other way: a stage name on B becomes the mapped stage id on A
    world.apps.b.edit(DEALS, b_deal, stage="Closed Lost")
    world.run(DEALS)
    assert world.apps.a.get(DEALS, deal, "stage") == "closedlost"
    assert world.run(DEALS)[DEALS].associated == 0


def test_deals_are_never_matched_even_with_the_same_name(world):
    world.deal("a", "Twin", "closedwon")
    world.deal("b", "Twin", "Closed Won")
    run = world.run(DEALS)[DEALS]
    assert run.matched == 0 and run.created == 2
    assert len(world.apps.a.all(DEALS)) == len(world.apps.b.all(DEALS)) == 2


def test_a_deal_in_an_unmapped_stage_is_left_out_and_a_linked_one_moved_there_stops_syncing(world):
    mapping = world.syncs[DEALS].pipeline_mappings.get()
    mapping.stage_mappings.filter(stage_a="contractsent").delete()
    outside = world.deal("a", "Outside", "contractsent")
    inside = world.deal("a", "Inside", "closedwon")
    run = world.run(DEALS)[DEALS]
    assert run.created == 1 and run.excluded == 1
    assert "no stage mapping" in RecordLink.objects.get(id_a=outside).last_error
    world.apps.a.edit(DEALS, inside, stage="contractsent", deal_name="Renamed")
    world.run(DEALS)
    link = RecordLink.objects.get(object_sync=world.syncs[DEALS], id_a=inside)
    assert (link.status, link.error_category) == (LinkStatus.FAILING, ErrorCategory.UNMAPPED_STAGE.code)
    assert world.apps.b.get(DEALS, link.id_b, "deal_name") == "Inside"  # not synced while out
    world.apps.a.edit(DEALS, inside, stage="closedwon")
    world.run(DEALS)
    link.refresh_from_db()
    assert link.status == LinkStatus.IN_SYNC and world.apps.b.get(DEALS, link.id_b, "deal_name") == "Renamed"


def test_an_association_waits_for_its_record_and_completes_once_that_syncs(memory_connections):
    world = make_world()
    acme = world.company("a", "Acme")
    world.syncs[COMPANIES].turn_off()
    ann = world.contact("a", "ann@acme.example", acme)
    run = world.run(CONTACTS)[CONTACTS]
    assert run.waiting == 0  # with the company sync off there is no association sync (F4.2)
    world.syncs[COMPANIES].turn_on()
    bob = world.contact("a", "bob@acme.example", acme)
    run = world.run(CONTACTS)[CONTACTS]
    assert run.waiting == 2  # Bob's company is not synced yet, nor Ann's (the first sweep finds her)
    link = RecordLink.objects.get(object_sync=world.syncs[CONTACTS], id_a=bob)
    assert link.error_category == ErrorCategory.WAITING_FOR_DEPENDENCY.code and "Waiting" in link.last_error
    world.run(COMPANIES)
    assert wake_dependents(world.syncs[COMPANIES]) >= 1
    run = world.run(CONTACTS)[CONTACTS]
    link.refresh_from_db()
    assert link.status == LinkStatus.IN_SYNC and run.associated >= 1
    b_acme = world.other_id(COMPANIES, "a", acme)
    assert world.apps.b.associations(CONTACTS, link.id_b, COMPANIES) == [b_acme]
    # Ann was synced while there was no company sync: the sweep brings her company along
    run = world.run(CONTACTS)[CONTACTS]
    assert world.apps.b.associations(CONTACTS, world.other_id(CONTACTS, "a", ann), COMPANIES) == [b_acme]


def test_an_association_change_alone_reaches_the_other_app_by_the_sweep(world):
    ann, bob = world.contact("a", "ann@x.example"), world.contact("a", "bob@x.example")
    deal = world.deal("a", "Deal", "closedwon", [ann])
    world.run()
    b_deal, b_bob = world.other_id(DEALS, "a", deal), world.other_id(CONTACTS, "a", bob)
    world.apps.a.associate(DEALS, deal, CONTACTS, bob)
    world.apps.b.dissociate(DEALS, b_deal, CONTACTS, world.other_id(CONTACTS, "a", ann))
    run = world.run(DEALS)[DEALS]
    assert run.associated == 2
    assert world.apps.a.associations(DEALS, deal, CONTACTS) == [bob]
    assert world.apps.b.associations(DEALS, b_deal, CONTACTS) == [b_bob]


def test_a_change_feed_replaces_the_sweep(memory_connections):
    apps = Apps()
    apps.b.association_feed = True
    world = make_world(apps)
    world.syncs[DEALS].options = {"association_sweep_seconds": 3600}
    world.syncs[DEALS].save()
    ann = world.contact("b", "ann@x.example")
    deal = world.deal("b", "Deal", "Closed Won")
    world.run()
    world.apps.b.associate(DEALS, deal, CONTACTS, ann)
    run = world.run(DEALS)[DEALS]
    assert run.associated == 1
    assert world.apps.a.associations(DEALS, world.other_id(DEALS, "b", deal), CONTACTS) == [
        world.other_id(CONTACTS, "b", ann)]


def test_a_failed_association_write_says_why_and_is_retried(world):
    ann = world.contact("a", "ann@x.example")
    deal = world.deal("a", "Deal", "closedwon", [ann])
    world.run(COMPANIES, CONTACTS)
    b_ann = world.other_id(CONTACTS, "a", ann)
    refused = ConnectorError(ErrorCategory.ASSOCIATION_FAILED, "limit reached")
    world.apps.b.fail_association_when = lambda *pair: refused if pair[3] == b_ann else None
    world.run(DEALS)
    link = RecordLink.objects.get(object_sync=world.syncs[DEALS], id_a=deal)
    assert link.error_category == ErrorCategory.ASSOCIATION_FAILED.code and "limit reached" in link.last_error
    world.apps.b.fail_association_when = lambda *pair: None
    world.apps.a.edit(DEALS, deal, deal_name="Touched")
    world.run(DEALS)
    link.refresh_from_db()
    assert link.status == LinkStatus.IN_SYNC and world.apps.b.associations(DEALS, link.id_b, CONTACTS) == [b_ann]


def test_deletions_are_not_propagated_by_default_and_resync_recreates_them(world):
    ann = world.contact("a", "ann@x.example")
    deal = world.deal("a", "Deal", "closedwon", [ann])
    world.run()
    b_deal = world.other_id(DEALS, "a", deal)
    world.apps.b.remove(DEALS, b_deal)
    run = world.run(DEALS)[DEALS]
    link = RecordLink.objects.get(object_sync=world.syncs[DEALS], id_a=deal)
    assert link.status == LinkStatus.DELETED_B and run.failed == 1
    assert deal in world.apps.a.all(DEALS)
    resync = resync_deleted(world.syncs[DEALS].pk, "b")
    assert resync.created == 1
    link.refresh_from_db()
    assert link.status == LinkStatus.IN_SYNC and link.id_b != b_deal
    assert world.apps.b.associations(DEALS, link.id_b, CONTACTS) == [world.other_id(CONTACTS, "a", ann)]
    assert world.run(DEALS)[DEALS].created == 0


def test_an_app_whose_deletions_propagate_deletes_the_counterpart_but_never_the_reverse(memory_connections):
    apps = Apps()
    apps.b.propagate_deal_deletions = True
    world = make_world(apps)
    one, two = world.deal("a", "One", "closedwon"), world.deal("a", "Two", "closedwon")
    world.run(DEALS)
    world.apps.b.remove(DEALS, world.other_id(DEALS, "a", one))
    world.apps.a.remove(DEALS, two)
    run = world.run(DEALS)[DEALS]
    assert one not in world.apps.a.all(DEALS) and run.deleted == 1
    assert len(world.apps.b.all(DEALS)) == 1  # Two's opportunity stays
    assert RecordLink.objects.get(object_sync=world.syncs[DEALS]).status == LinkStatus.DELETED_A


def test_a_deal_sync_with_an_app_that_asks_for_the_switch_creates_nothing_until_it_is_on(memory_connections):
    apps = Apps()
    apps.b.deal_switch = True
    world = make_world(apps)
    world.deal("b", "Opp", "Closed Won")
    run = run_sync(world.syncs[DEALS].pk)
    assert run.status == SyncRun.Status.FAILED and "Sync deals" in run.error and not world.apps.a.all(DEALS)
    world.syncs[DEALS].sync_deals = True
    world.syncs[DEALS].save()
    assert run_sync(world.syncs[DEALS].pk).created == 1


# --- property-based: random interleavings converge ------------------------------------------
SIDE = st.sampled_from("ab")
OPS = st.lists(st.one_of(
    st.tuples(st.just("company"), SIDE, st.integers(0, 3)),
    st.tuples(st.just("contact"), SIDE, st.integers(0, 5), st.integers(0, 9)),
    st.tuples(st.just("deal"), SIDE, st.integers(0, 9), st.integers(0, 9), st.integers(0, 9)),
    st.tuples(st.just("associate"), SIDE, st.integers(0, 9), st.integers(0, 9)),
    st.tuples(st.just("dissociate"), SIDE, st.integers(0, 9), st.integers(0, 9)),
    st.tuples(st.just("stage"), SIDE, st.integers(0, 9), st.integers(0, 9)),
    st.tuples(st.just("delete"), SIDE, st.sampled_from([CONTACTS, DEALS]), st.integers(0, 9)),
    st.tuples(st.just("sync"), st.sampled_from([COMPANIES, CONTACTS, DEALS])),
), min_size=1, max_size=30)


def pick(items, index):
    items = sorted(items)
    return items[index % len(items)] if items else None


def apply(world: World, op: tuple) -> None:
    kind = op[0]
    if kind == "sync":
        world.run(op[1])
        return
    side, app = op[1], world.app(op[1])
    stages = [s.id for s in (HUBSPOT_PIPELINE if side == "a" else SALESFORCE_PIPELINE).stages]
    if kind == "company":
        world.company(side, f"Co{op[2]}{side}")
    elif kind == "contact":
        world.contact(side, f"p{op[2]}@x.example", pick(app.all(COMPANIES), op[3]))
    elif kind == "deal":
        contact = pick(app.all(CONTACTS), op[3])
        world.deal(side, f"Deal {op[2]}", stages[op[2] % len(stages)], [contact] if contact else [],
                   pick(app.all(COMPANIES), op[4]))
    elif kind in ("associate", "dissociate"):
        deal, contact = pick(app.all(DEALS), op[2]), pick(app.all(CONTACTS), op[3])
        if deal and contact:
            getattr(app, kind)(DEALS, deal, CONTACTS, contact)
    elif kind == "stage":
        deal = pick(app.all(DEALS), op[2])
        if deal:
            app.edit(DEALS, deal, stage=stages[op[3] % len(stages)])
    elif kind == "delete":
        record = pick(app.all(op[2]), op[3])
        if record:
            app.remove(op[2], record)
    world.apps.clock.tick(1)


# Found locally (CI's derandomized seed does not draw it): a contact deleted on A after its
# sync while its company sync keeps running.
DELETED_CONTACT = [("company", "a", 0), ("sync", COMPANIES)] * 4 + [
    ("deal", "a", 0, 0, 0), ("contact", "a", 0, 0), ("sync", CONTACTS), ("delete", "a", CONTACTS, 0)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(ops=OPS)
@example(ops=DELETED_CONTACT)
def test_random_interleavings_converge_with_no_duplicate_and_no_lost_association(memory_connections, ops):
    world = make_world()
    # Deletions that do not carry over are read every association_sweep_seconds (README,
    # "Deletions"); the quiet rounds stand for runs after that interval, which this test's
    # clock never reaches: every run reads them, as the deal sync's already does.
    for sync in world.syncs.values():
        sync.options = {**sync.options, "association_sweep_seconds": 0}
        sync.save(update_fields=["options"])
    for op in ops:
        apply(world, op)
    for _ in range(3):  # quiet rounds: waiting associations complete, then nothing moves
        runs = world.run()
    assert runs[DEALS].associated == 0 and runs[DEALS].created == 0 and runs[CONTACTS].associated == 0

    for kind in (COMPANIES, CONTACTS, DEALS):
        links = RecordLink.objects.filter(object_sync=world.syncs[kind])
        for side in "ab":
            ids = [getattr(link, f"id_{side}") for link in links if getattr(link, f"id_{side}")]
            assert not [i for i, n in Counter(ids).items() if n > 1]  # one link per record
            assert set(world.app(side).all(kind)) <= set(ids) | {  # every record is known to the sync
                getattr(link, f"id_{side}") for link in links}
        in_sync = links.filter(status=LinkStatus.IN_SYNC)
        pairs = {(link.id_a, link.id_b) for link in in_sync}
        assert all(a in world.apps.a.all(kind) and b in world.apps.b.all(kind) for a, b in pairs)

    contact_links = {link.id_a: link.id_b for link in RecordLink.objects.filter(
        object_sync=world.syncs[CONTACTS], status=LinkStatus.IN_SYNC)}
    for link in RecordLink.objects.filter(object_sync=world.syncs[DEALS], status=LinkStatus.IN_SYNC):
        on_a = {contact_links[c] for c in world.apps.a.associations(DEALS, link.id_a, CONTACTS) if c in contact_links}
        on_b = {c for c in world.apps.b.associations(DEALS, link.id_b, CONTACTS) if c in contact_links.values()}
        assert on_a == on_b, (link, on_a, on_b)


# --- the admin and the dispatcher ------------------------------------------------------------
def test_support_resyncs_deleted_records_from_the_admin(world, client, django_capture_on_commit_callbacks):
    from django.contrib.auth.models import Group, User
    from django.urls import reverse

    deal = world.deal("a", "Deal", "closedwon")
    world.run(DEALS)
    link = RecordLink.objects.get(object_sync=world.syncs[DEALS], id_a=deal)
    world.apps.b.remove(DEALS, link.id_b)
    world.run(DEALS)
    support = User.objects.create_user("support", is_staff=True)
    support.groups.add(Group.objects.get(name="Support"))
    client.force_login(support)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:syncrules_recordlink_changelist"),
                               {"action": "resync_deleted", "_selected_action": [link.pk]}, follow=True)
    assert "Queued the resync of 1 deleted record" in response.content.decode()
    link.refresh_from_db()
    assert link.status == LinkStatus.IN_SYNC and link.id_b in world.apps.b.all(DEALS)


def test_an_admin_resyncs_all_deleted_records_of_a_side_and_sees_the_prerequisites(
    world, admin_client, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    deals = [world.deal("a", f"Deal {i}", "closedwon") for i in range(3)]
    world.run(DEALS)
    for deal in deals:
        world.apps.a.remove(DEALS, deal)
    world.run(DEALS)
    url = reverse("admin:syncrules_objectsync_changelist")
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(url, {"action": "resync_deleted_in_a", "_selected_action": [world.syncs[DEALS].pk]})
    assert len(world.apps.a.all(DEALS)) == 3
    assert not RecordLink.objects.filter(object_sync=world.syncs[DEALS], status=LinkStatus.DELETED_A).exists()
    page = admin_client.post(url, {"action": "check_prerequisites", "_selected_action": [world.syncs[DEALS].pk]},
                             follow=True).content.decode()
    assert "deal stages are mapped" in page and "A company sync between the same apps is on" in page


def test_the_dispatcher_queues_companies_before_contacts_before_deals(
    memory_connections, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    from syncrules.tasks import dispatch_due_syncs

    world = make_world(kinds=(DEALS, CONTACTS, COMPANIES))  # created in the wrong order on purpose
    ObjectSync.objects.update(next_run_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=False):
        queued = dispatch_due_syncs()
    assert queued == [world.syncs[k].pk for k in (COMPANIES, CONTACTS, DEALS)]


def test_a_malformed_association_answer_is_reported_and_the_run_goes_on_then_completes_them(world, monkeypatch):
    from syncrules.tests.memory_connector import MemoryConnector

    ann = world.contact("a", "ann@x.example")
    deal = world.deal("a", "Deal", "closedwon", [ann])
    world.run(COMPANIES, CONTACTS)
    original = MemoryConnector.read_associations

    def broken(self, object_type, ids, to_type):
        raise ConnectorError(ErrorCategory.MALFORMED_RESPONSE, "The app returned HTML instead of JSON")

    monkeypatch.setattr(MemoryConnector, "read_associations", broken)
    run = world.run(DEALS)[DEALS]
    assert run.status == SyncRun.Status.SUCCEEDED and run.created == 1
    assert "could not be read" in run.error and "HTML" in run.error
    monkeypatch.setattr(MemoryConnector, "read_associations", original)
    world.run(DEALS)
    b_deal = world.other_id(DEALS, "a", deal)
    assert world.apps.b.associations(DEALS, b_deal, CONTACTS) == [world.other_id(CONTACTS, "a", ann)]


def test_a_record_waiting_for_a_company_that_cannot_sync_yet_backs_off(world):
    # A passing failure of the company's own sync makes Ann wait; a permanent one does not
    # (test_engine_dependencies).
    from datetime import timedelta

    from django.utils import timezone

    refused = ConnectorError(ErrorCategory.RECORD_LOCKED, "Name is locked")
    world.apps.b.fail_when = lambda record_id, values: refused if "sf_name" in values else None  # companies
    acme = world.company("a", "Acme")
    ann = world.contact("a", "ann@acme.example", acme)
    world.run(COMPANIES, CONTACTS)
    link = RecordLink.objects.get(object_sync=world.syncs[CONTACTS], id_a=ann)
    assert link.error_category == ErrorCategory.WAITING_FOR_DEPENDENCY.code and link.fail_count == 1
    assert f"{acme} on A (its own sync failed: {ErrorCategory.RECORD_LOCKED.label})" in link.last_error
    assert link.next_retry_at <= timezone.now()  # first: at the next run
    world.run(CONTACTS)
    link.refresh_from_db()
    assert link.fail_count == 2 and link.next_retry_at > timezone.now() + timedelta(minutes=1)
    world.apps.b.fail_when = None
    RecordLink.objects.filter(object_sync=world.syncs[COMPANIES]).update(next_retry_at=timezone.now())
    world.run(COMPANIES, CONTACTS)  # the company links now, which wakes Ann at once
    link.refresh_from_db()
    assert link.status == LinkStatus.IN_SYNC
    assert world.apps.b.associations(CONTACTS, link.id_b, COMPANIES) == [world.other_id(COMPANIES, "a", acme)]


def test_deletions_that_do_not_carry_over_are_read_at_the_sweep_interval_not_every_run(memory_connections):
    apps = Apps()
    apps.b.propagate_deal_deletions = True
    world = make_world(apps)
    world.syncs[DEALS].options = {"association_sweep_seconds": 3600}
    world.syncs[DEALS].save()
    deal = world.deal("a", "Deal", "closedwon")
    world.run(DEALS)
    before = {side: world.app(side).calls_by_method["read_deleted"] for side in "ab"}
    world.apps.a.remove(DEALS, deal)
    world.run(DEALS)
    assert world.apps.a.calls_by_method["read_deleted"] == before["a"]  # A's deletions: hourly
    assert world.apps.b.calls_by_method["read_deleted"] > before["b"]  # B's carry over: every run
    assert RecordLink.objects.get(object_sync=world.syncs[DEALS]).status == LinkStatus.IN_SYNC  # not seen yet
    world.syncs[DEALS].options = {"association_sweep_seconds": 0}
    world.syncs[DEALS].save()
    world.run(DEALS)
    assert RecordLink.objects.get(object_sync=world.syncs[DEALS]).status == LinkStatus.DELETED_A


def test_mirrored_pipelines_are_created_once_up_to_the_limit_and_their_deals_sync(memory_connections):
    from syncrules.deals import mirror_pipelines
    from syncrules.tests.memory_connector import RENEWALS_PIPELINE

    apps = Apps(b=MemoryApp("sf_", pipelines=(SALESFORCE_PIPELINE, RENEWALS_PIPELINE), mirror_pipelines=True))
    apps.b.clock = apps.clock
    world = make_world(apps, kinds=(COMPANIES, CONTACTS))
    deals = make_sync(DEALS, connection_a=world.syncs[COMPANIES].connection_a,
                      connection_b=world.syncs[COMPANIES].connection_b, state=ObjectSync.State.ACTIVE)
    create_default_mappings(deals, apps.a.connector(), apps.b.connector())
    setup = mirror_pipelines(deals, limit=2)  # A holds its default pipeline: room for one more
    assert setup.created == ["Memory - master"] and len(setup.problems) == 1
    assert "limit is 2" in setup.problems[0] and "Renewals" in setup.problems[0]
    again = mirror_pipelines(deals, limit=3)  # raised: the missing one now, the other is reused
    assert again.created == ["Memory - renewals"] and again.mapped == ["Memory - master", "Memory - renewals"]
    assert deals.pipeline_mappings.count() == 2
    labels = {p.label: p for p in apps.a.pipelines}
    renewal = apps.b.create(DEALS, deal_name="Renewal", amount=5, pipeline="renewals", stage="renewal_quoted")
    run = run_sync(deals.pk)
    assert run.created == 1
    a_deal = RecordLink.objects.get(object_sync=deals, id_b=renewal).id_a
    assert apps.a.get(DEALS, a_deal, "pipeline") == labels["Memory - renewals"].id
    mirrored_stage = next(s for s in labels["Memory - renewals"].stages if s.label == "Quoted")
    assert apps.a.get(DEALS, a_deal, "stage") == mirrored_stage.id
    assert mirror_pipelines(deals, limit=3).created == []  # nothing twice
