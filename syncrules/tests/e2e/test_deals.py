"""Deals end to end over real HTTP: HubSpot sandbox (side A) <-> Salesforce sandbox (side B).

Salesforce's rules apply (F6): one HubSpot pipeline per opportunity record type, created by
`mirror_pipelines`; contact roles <-> deal contacts; an opportunity's deletion deletes the
deal, never the reverse. Companies, contacts and deals sync between the same two connections,
so associations are recreated through the company and contact links (F4).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from connectors.base import COMPANIES, CONTACTS, DEALS
from connectors.errors import ErrorCategory
from connectors.models import Connection
from syncrules.deals import check_prerequisites, mirror_pipelines
from syncrules.engine import run_sync
from syncrules.engine.api import resync_deleted
from syncrules.models import FieldMapping, LinkStatus, ObjectSync, RecordLink, SyncRun
from syncrules.tests.e2e.helpers import every, new_sync

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class Deals:
    hubspot: Connection
    salesforce: Connection
    companies: ObjectSync
    contacts: ObjectSync
    deals: ObjectSync

    def run_all(self) -> dict[str, SyncRun]:
        runs = {}
        for sync in (self.companies, self.contacts, self.deals):
            run = run_sync(sync.pk)
            assert run.status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL), run.error
            runs[sync.object_type] = run
        return runs

    def link(self, sync: ObjectSync, **ids) -> RecordLink:
        return RecordLink.objects.get(object_sync=sync, **ids)

    def hubspot_id(self, sync: ObjectSync, salesforce_id: str) -> str:
        return self.link(sync, id_b=salesforce_id).id_a

    def salesforce_id(self, sync: ObjectSync, hubspot_id: str) -> str:
        return self.link(sync, id_a=hubspot_id).id_b


@pytest.fixture
def deals(pair):
    """Salesforce with two opportunity record types, accounts, contacts and opportunities with
    contact roles; an empty HubSpot portal; the three syncs, pipelines mirrored and mapped."""
    hubspot, salesforce = pair(sf_accounts=4, sf_contacts=10, opportunities=8, record_types=2, roles=(1, 2),
                               contact_account_share=1.0)
    companies = new_sync(hubspot, salesforce, COMPANIES)
    # HubSpot's and Salesforce's industry options barely overlap: leave industry out here.
    FieldMapping.objects.filter(object_sync=companies, field_a="industry").delete()
    contacts = new_sync(hubspot, salesforce, CONTACTS)
    deal_sync = new_sync(hubspot, salesforce, DEALS, sync_deals=True, options={"association_sweep_seconds": 0})
    FieldMapping.objects.filter(object_sync=deal_sync, field_a="dealtype").delete()  # same: no shared options
    setup = mirror_pipelines(deal_sync)
    assert len(setup.created) == 2 and not setup.problems, setup
    return Deals(hubspot, salesforce, companies, contacts, deal_sync)


def hubspot_associations(connection, object_type, ids, to_type):
    return connection.connector().read_associations(object_type, list(ids), to_type)


def test_opportunities_of_two_record_types_arrive_in_their_own_pipelines_with_their_associations(deals):
    runs = deals.run_all()
    run = runs[DEALS]
    assert run.failed == 0 and run.waiting == 0, list(run.outcomes.filter(action="failed").values_list("message"))
    opportunities = every(deals.salesforce, DEALS)
    on_hubspot = every(deals.hubspot, DEALS)
    assert len(on_hubspot) == len(opportunities) == 8
    pipelines = {p.id: p for p in deals.hubspot.connector().pipelines(DEALS)}
    stage_labels = {s.id: s.label for p in pipelines.values() for s in p.stages}
    sf_stage_labels = {s.id: s.label for p in deals.salesforce.connector().pipelines(DEALS) for s in p.stages}
    record_types = set()
    for opp_id, opp in opportunities.items():
        deal = on_hubspot[deals.hubspot_id(deals.deals, opp_id)]
        record_types.add(opp.values["RecordTypeId"])
        assert pipelines[deal.values["pipeline"]].label == f"Salesforce - {opp.values['RecordTypeId']}"
        assert stage_labels[deal.values["dealstage"]] == sf_stage_labels[opp.values["StageName"]]
        assert float(deal.values["amount"] or 0) == float(opp.values["Amount"] or 0)  # no currency conversion
        # deal -> company: the opportunity's account, through the company sync's links
        assert deal.associations[COMPANIES][:1] == [deals.hubspot_id(deals.companies, opp.values["AccountId"])]
        # deal -> contacts: the opportunity's contact roles, through the contact sync's links
        expected = {deals.hubspot_id(deals.contacts, c) for c in opp.associations.get(CONTACTS, [])}
        assert expected and set(deal.associations[CONTACTS]) == expected
    assert len(record_types) == 2
    assert run.associated >= 16  # every deal: its company and at least one contact, in the same run

    # contact -> company came along with the contact sync
    for contact_id, contact in every(deals.salesforce, CONTACTS).items():
        hubspot_contact = deals.hubspot_id(deals.contacts, contact_id)
        assert hubspot_associations(deals.hubspot, CONTACTS, [hubspot_contact], COMPANIES)[hubspot_contact][:1] == [
            deals.hubspot_id(deals.companies, contact.values["AccountId"])
        ]

    quiet = deals.run_all()[DEALS]
    assert (quiet.created, quiet.updated, quiet.associated, quiet.failed) == (0, 0, 0, 0)


def test_the_prerequisites_of_a_salesforce_deal_sync_are_checked_and_explained(deals):
    checks = {c.message: c.ok for c in check_prerequisites(deals.deals)}
    assert all(checks.values()), checks
    deals.deals.sync_deals = False
    deals.deals.save()
    checks = check_prerequisites(deals.deals)
    assert any(not c.ok and "Sync deals" in c.message for c in checks)
    run = run_sync(deals.deals.pk)
    assert run.status == SyncRun.Status.FAILED and "Sync deals" in run.error
    assert every(deals.hubspot, DEALS) == {}


def test_stages_translate_both_ways_and_a_deal_moved_out_of_the_mapped_pipeline_stops_syncing(deals):
    deals.run_all()
    hubspot, salesforce = deals.hubspot.connector(), deals.salesforce.connector()
    pipelines = {p.id: p for p in hubspot.pipelines(DEALS)}
    on_hubspot = every(deals.hubspot, DEALS)
    moved, parked = sorted(on_hubspot)[:2]
    # HubSpot -> Salesforce: another stage of the same pipeline
    pipeline = pipelines[on_hubspot[moved].values["pipeline"]]
    target = next(s for s in pipeline.stages if s.id != on_hubspot[moved].values["dealstage"])
    assert hubspot.write(DEALS, updates={moved: {"dealstage": target.id}})[0].ok
    # Salesforce -> HubSpot: a stage change on the opportunity
    opp_id = deals.salesforce_id(deals.deals, parked)
    opp = salesforce.read(DEALS, [opp_id])[opp_id]
    sf_pipeline = next(p for p in salesforce.pipelines(DEALS) if p.id == opp.values["RecordTypeId"])
    sf_target = next(s for s in sf_pipeline.stages if s.id != opp.values["StageName"])
    assert salesforce.write(DEALS, updates={opp_id: {"StageName": sf_target.id}})[0].ok
    deals.run_all()
    moved_opp = salesforce.read(DEALS, [deals.salesforce_id(deals.deals, moved)])
    assert next(iter(moved_opp.values())).values["StageName"] == target.label
    parked_deal = hubspot.read(DEALS, [parked])[parked]
    assert {s.id: s.label for s in pipeline.stages} | {s.id: s.label for p in pipelines.values() for s in p.stages}
    assert next(s.label for p in pipelines.values() for s in p.stages if s.id == parked_deal.values["dealstage"]) == (
        sf_target.label
    )

    # Out of the synced pipelines: into HubSpot's default pipeline
    assert hubspot.write(DEALS, updates={moved: {"pipeline": "default", "dealstage": "appointmentscheduled"}})[0].ok
    run = deals.run_all()[DEALS]
    link = deals.link(deals.deals, id_a=moved)
    assert link.status == LinkStatus.FAILING and link.error_category == ErrorCategory.UNMAPPED_STAGE.code
    assert "does not sync" in link.last_error
    assert run.outcomes.filter(category=ErrorCategory.UNMAPPED_STAGE.code).exists()
    still = salesforce.read(DEALS, [link.id_b])[link.id_b]
    assert still.values["StageName"] == target.label  # untouched while the deal is out of the sync


def test_an_association_added_later_on_either_side_reaches_the_other(deals):
    deals.run_all()
    hubspot, salesforce = deals.hubspot.connector(), deals.salesforce.connector()
    deal_id = sorted(every(deals.hubspot, DEALS))[0]
    opp_id = deals.salesforce_id(deals.deals, deal_id)
    contacts = RecordLink.objects.filter(object_sync=deals.contacts, status=LinkStatus.IN_SYNC)
    current = set(hubspot.read_associations(DEALS, [deal_id], CONTACTS)[deal_id])
    extra_hubspot, extra_salesforce = [c for c in contacts if c.id_a not in current][:2]
    # Salesforce: a new contact role (no change to the opportunity itself)
    assert salesforce.write_associations(DEALS, CONTACTS, [(opp_id, extra_salesforce.id_b)])[0].ok
    # HubSpot: a new deal contact (no change to the deal's properties)
    assert hubspot.write_associations(DEALS, CONTACTS, [(deal_id, extra_hubspot.id_a)])[0].ok
    run = run_sync(deals.deals.pk)
    assert run.associated >= 2, run.error
    assert extra_salesforce.id_a in hubspot.read_associations(DEALS, [deal_id], CONTACTS)[deal_id]
    assert extra_hubspot.id_b in salesforce.read_associations(DEALS, [opp_id], CONTACTS)[opp_id]
    # and a removal travels too
    assert hubspot.remove_associations(DEALS, CONTACTS, [(deal_id, extra_salesforce.id_a)])[0].ok
    run_sync(deals.deals.pk)
    assert extra_salesforce.id_b not in salesforce.read_associations(DEALS, [opp_id], CONTACTS)[opp_id]


def test_deletions_follow_the_salesforce_rule_and_deleted_deals_can_be_resynced(deals):
    deals.run_all()
    hubspot, salesforce = deals.hubspot.connector(), deals.salesforce.connector()
    deal_ids = sorted(every(deals.hubspot, DEALS))
    gone_in_hubspot, gone_in_salesforce = deal_ids[0], deal_ids[1]
    kept_opp = deals.salesforce_id(deals.deals, gone_in_hubspot)
    deleted_opp = deals.salesforce_id(deals.deals, gone_in_salesforce)
    contacts_before = set(hubspot.read_associations(DEALS, [gone_in_hubspot], CONTACTS)[gone_in_hubspot])

    assert hubspot.delete(DEALS, [gone_in_hubspot])[0].ok
    assert salesforce.delete(DEALS, [deleted_opp])[0].ok
    run = run_sync(deals.deals.pk)
    # HubSpot deletion: not carried over; the link says so
    link = deals.link(deals.deals, id_b=kept_opp)
    assert link.status == LinkStatus.DELETED_A and link.error_category == ErrorCategory.RECORD_DELETED.code
    assert kept_opp in salesforce.read(DEALS, [kept_opp])
    # Salesforce deletion: the deal is deleted too and the link forgotten
    assert gone_in_salesforce not in hubspot.read(DEALS, [gone_in_salesforce])
    assert not RecordLink.objects.filter(object_sync=deals.deals, id_b=deleted_opp).exists()
    assert run.deleted == 1

    resync = resync_deleted(deals.deals.pk, "a")
    assert resync.kind == SyncRun.Kind.RESYNC and resync.created == 1, resync.error
    link.refresh_from_db()
    assert link.status == LinkStatus.IN_SYNC and link.id_a != gone_in_hubspot
    recreated = hubspot.read(DEALS, [link.id_a])[link.id_a]
    assert recreated.associations[CONTACTS] and set(recreated.associations[CONTACTS]) == contacts_before
    assert recreated.associations[COMPANIES]


def test_contact_roll_ups_follow_the_synced_deals(deals):
    deals.run_all()
    hubspot = deals.hubspot.connector()
    deal_ids = list(every(deals.hubspot, DEALS))
    by_contact: dict[str, list] = {}
    found = hubspot.read(DEALS, deal_ids)
    for deal in found.values():
        for contact in deal.associations.get(CONTACTS, []):
            by_contact.setdefault(contact, []).append(deal)
    contact_id, contact_deals = max(by_contact.items(), key=lambda item: len(item[1]))
    contact = hubspot.read(CONTACTS, [contact_id])[contact_id]
    assert int(contact.values["num_associated_deals"]) == len(contact_deals)
    newest = max(contact_deals, key=lambda d: (d.values["createdate"], d.id))
    assert float(contact.values["recent_deal_amount"] or 0) == float(newest.values["amount"] or 0)


def test_an_opportunity_deleted_in_salesforce_is_polled_in_seconds_and_its_deal_deleted_by_the_run(deals, queued):
    import time

    from syncrules.webhooks import polling
    from syncrules.webhooks.models import SyncTrigger

    deals.run_all()
    assert polling.poll_once() == []  # where each poll starts: the runs' own writes are no change
    hubspot, salesforce = deals.hubspot.connector(), deals.salesforce.connector()
    deal_id = sorted(every(deals.hubspot, DEALS))[0]
    opportunity = deals.salesforce_id(deals.deals, deal_id)
    contact = sorted(every(deals.salesforce, CONTACTS))[0]
    second = int(time.time())
    while int(time.time()) == second:  # SystemModstamp counts whole seconds
        time.sleep(0.02)

    assert salesforce.delete(CONTACTS, [contact])[0].ok  # a contact's deletion does not carry over:
    assert deals.contacts.pk not in polling.poll_once()  # left to the scheduled run (its roles went too)
    # Without contact roles (whose deletion the roles' poll would see), the opportunity alone.
    roles = salesforce.read_associations(DEALS, [opportunity], CONTACTS)[opportunity]
    assert all(r.ok for r in salesforce.remove_associations(DEALS, CONTACTS, [(opportunity, c) for c in roles]))
    polling.poll_once()
    SyncTrigger.objects.update(queued_at=None)
    queued.clear()
    second = int(time.time())
    while int(time.time()) == second:
        time.sleep(0.02)
    assert salesforce.delete(DEALS, [opportunity])[0].ok
    assert polling.poll_once() == [deals.deals.pk] and queued == [deals.deals.pk]
    assert polling.poll_once() == []  # seen: not the same deletion twice

    run = run_sync(deals.deals.pk)
    assert run.deleted == 1 and deal_id not in hubspot.read(DEALS, [deal_id])
    assert not RecordLink.objects.filter(object_sync=deals.deals, id_b=opportunity).exists()
    SyncTrigger.objects.filter(object_sync=deals.deals).update(poll_cursor={})  # polled again from the run's cursor
    assert polling.poll_once() == []  # a deletion the link no longer stands for is no change
