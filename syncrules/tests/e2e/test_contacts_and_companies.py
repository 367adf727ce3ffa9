"""End to end over real HTTP: the HubSpot sandbox <-> the Salesforce sandbox, through the real
connectors and the engine, for contacts and companies, initial and incremental, both ways."""

from __future__ import annotations

import pytest

from connectors.base import COMPANIES, CONTACTS
from syncrules.engine import run_sync
from syncrules.engine.filters import is_valid_email, normalize_email
from syncrules.models import Direction, FieldMapping, LinkStatus, RecordLink, SyncRun
from syncrules.tests.e2e.helpers import every, new_sync

pytestmark = pytest.mark.django_db(transaction=True)


def emails(records, field):
    return {normalize_email(r.values.get(field)) for r in records.values() if is_valid_email(r.values.get(field))}


def test_an_initial_two_way_contact_sync_then_edits_on_both_sides(pair):
    hubspot, salesforce = pair(contacts=25, sf_contacts=20, sf_accounts=3)
    sync = new_sync(hubspot, salesforce, CONTACTS)
    assert sync.field_mappings.filter(field_a="email", field_b="Email").exists()

    run = run_sync(sync.pk)
    assert run.status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL), run.error
    on_hubspot, on_salesforce = every(hubspot, CONTACTS), every(salesforce, CONTACTS)
    assert emails(on_hubspot, "email") == emails(on_salesforce, "Email")
    assert run.created > 0 and run.http_calls > 0
    failed = {(o.category, o.message) for o in run.outcomes.filter(action="failed")}
    assert run.failed == 0, failed

    second = run_sync(sync.pk)
    assert (second.created, second.updated, second.failed) == (0, 0, 0), second.error

    link = RecordLink.objects.filter(object_sync=sync, status=LinkStatus.IN_SYNC).first()
    hubspot.connector().write(CONTACTS, updates={link.id_a: {"jobtitle": "Chief Syncing Officer"}})
    other = RecordLink.objects.filter(object_sync=sync, status=LinkStatus.IN_SYNC).exclude(pk=link.pk).first()
    salesforce.connector().write(CONTACTS, updates={other.id_b: {"Title": "Head of Records"}})
    third = run_sync(sync.pk)
    assert third.updated == 2 and third.failed == 0
    assert salesforce.connector().read(CONTACTS, [link.id_b])[link.id_b].values["Title"] == "Chief Syncing Officer"
    assert hubspot.connector().read(CONTACTS, [other.id_a])[other.id_a].values["jobtitle"] == "Head of Records"
    fourth = run_sync(sync.pk)
    assert (fourth.created, fourth.updated) == (0, 0)


def test_a_one_way_contact_sync_to_hubspot_copies_salesforce_changes_only(pair):
    hubspot, salesforce = pair(contacts=6, sf_contacts=10, sf_accounts=2)
    sync = new_sync(hubspot, salesforce, CONTACTS, direction=Direction.TO_A)
    assert sync.conflict_winner == "b"
    before_salesforce = {k: r.values for k, r in every(salesforce, CONTACTS).items()}
    run = run_sync(sync.pk)
    assert run.failed == 0 and run.created > 0, run.error
    assert emails(every(salesforce, CONTACTS), "Email") <= emails(every(hubspot, CONTACTS), "email")
    link = RecordLink.objects.filter(object_sync=sync, status=LinkStatus.IN_SYNC).first()
    salesforce.connector().write(CONTACTS, updates={link.id_b: {"FirstName": "Renamed"}})
    hubspot.connector().write(CONTACTS, updates={link.id_a: {"lastname": "Changed in HubSpot"}})
    later = run_sync(sync.pk)
    assert later.updated == 1
    assert hubspot.connector().read(CONTACTS, [link.id_a])[link.id_a].values["firstname"] == "Renamed"
    last_name = salesforce.connector().read(CONTACTS, [link.id_b])[link.id_b].values["LastName"]
    assert last_name == before_salesforce[link.id_b]["LastName"]  # nothing flows to Salesforce


HUBSPOT_TO_SALESFORCE_INDUSTRY = {
    "ACCOUNTING": "Finance", "COMPUTER_SOFTWARE": "Technology", "FINANCIAL_SERVICES": "Finance",
    "HOSPITAL_HEALTH_CARE": "Healthcare", "CONSTRUCTION": "Manufacturing", "EDUCATION_MANAGEMENT": "Education",
    "MARKETING_AND_ADVERTISING": "Media",  # RETAIL pairs with "Retail" by its label, no entry needed
}


def test_a_company_sync_failing_unmapped_options_retries_them_once_mapped_without_a_record_change(pair):
    # Pinned data: other seeds can draw two companies alike, which then fail as duplicates.
    hubspot, salesforce = pair(companies=12, sf_accounts=6, hub_seed=700_001)
    before_hubspot = {k: r.values for k, r in every(hubspot, COMPANIES).items()}
    sync = new_sync(hubspot, salesforce, COMPANIES, direction=Direction.TO_B)
    # Without the standard option map, and with the policy that fails the record instead of the field.
    sync.field_mappings.filter(field_a="industry").update(value_map={}, policy=FieldMapping.Policy.FAIL_RECORD)
    run = run_sync(sync.pk)
    assert run.status == SyncRun.Status.PARTIAL, run.error
    failures = run.outcomes.filter(action="failed")
    assert failures.exists() and {o.category for o in failures} == {"invalid_property_value"}
    assert all("no matching option in Industry" in o.message and o.hint for o in failures)
    assert run.created + run.failed == len(before_hubspot)

    industry = sync.field_mappings.get(field_a="industry")
    industry.value_map = {"a_to_b": HUBSPOT_TO_SALESFORCE_INDUSTRY}
    industry.save()
    retry = run_sync(sync.pk)  # a changed value map retries the records it failed
    assert retry.failed == 0 and retry.created == run.failed
    assert {k: r.values for k, r in every(hubspot, COMPANIES).items()} == before_hubspot  # never written
    by_name = {r.values.get("Name"): r.values for r in every(salesforce, COMPANIES).values()}
    for values in before_hubspot.values():
        assert values["name"] in by_name
    assert run_sync(sync.pk).created == 0


def test_a_two_way_company_sync_creates_on_both_sides_and_converges(pair):
    hubspot, salesforce = pair(companies=8, sf_accounts=5)
    sync = new_sync(hubspot, salesforce, COMPANIES)
    sync.field_mappings.filter(field_a="industry").update(enabled=False)  # options differ: toggled off
    run = run_sync(sync.pk)
    # The portal's seed has a few duplicate companies: those fail as duplicates, never get copied.
    assert set(run.outcomes.filter(action="failed").values_list("category", flat=True)) <= {"duplicate_record"}
    names_a = {r.values.get("name") for r in every(hubspot, COMPANIES).values()}
    names_b = {r.values.get("Name") for r in every(salesforce, COMPANIES).values()}
    assert names_a == names_b
    again = run_sync(sync.pk)
    assert (again.created, again.updated) == (0, 0)


def test_bad_records_fail_or_are_excluded_with_a_reason_and_the_rest_sync(pair):
    hubspot, salesforce = pair(sf_accounts=1)
    results = hubspot.connector().write(CONTACTS, creates=[
        {"email": "fine@example.com", "firstname": "Fine", "lastname": "Person"},
        {"email": "long@example.com", "firstname": "F" * 60, "lastname": "Long"},
        {"email": "nolast@example.com", "firstname": "No last name"},
        {"firstname": "No", "lastname": "Email"},
    ])
    assert all(r.ok for r in results), results
    fine, long_name, no_last, no_email = (r.id for r in results)
    sync = new_sync(hubspot, salesforce, CONTACTS)
    run = run_sync(sync.pk)
    assert run.status == SyncRun.Status.PARTIAL and (run.created, run.warned) == (2, 1)
    outcome = {o.id_a: o for o in run.outcomes.all()}
    assert outcome[fine].action == "created"
    # A first name longer than Salesforce's 40 characters: the contact syncs without it, with a warning.
    assert outcome[long_name].action == "created" and outcome[long_name].warnings[0]["category"] == "value_too_long"
    assert outcome[long_name].warnings[0]["field"] == "FirstName"
    assert (outcome[no_last].action, outcome[no_last].category) == ("failed", "missing_required_field")
    assert outcome[no_email].action == "excluded" and "No email" in outcome[no_email].message
    assert all(o.hint for o in run.outcomes.filter(action="failed"))
    hubspot.connector().write(CONTACTS, updates={long_name: {"firstname": "Shorter"}})
    later = run_sync(sync.pk)
    link = RecordLink.objects.get(object_sync=sync, id_a=long_name)
    assert later.updated == 1 and link.status == LinkStatus.IN_SYNC and not link.has_warnings


def test_a_conflict_over_http_goes_to_the_conflict_winner_and_then_stays_quiet(pair):
    hubspot, salesforce = pair(contacts=4, sf_accounts=1)
    sync = new_sync(hubspot, salesforce, CONTACTS, conflict_winner="b")
    run_sync(sync.pk)
    link = RecordLink.objects.filter(object_sync=sync, status=LinkStatus.IN_SYNC).first()
    hubspot.connector().write(CONTACTS, updates={link.id_a: {"jobtitle": "Edited in HubSpot"}})
    salesforce.connector().write(CONTACTS, updates={link.id_b: {"Title": "Edited in Salesforce"}})
    run = run_sync(sync.pk)
    assert run.updated == 1 and run.failed == 0
    assert hubspot.connector().read(CONTACTS, [link.id_a])[link.id_a].values["jobtitle"] == "Edited in Salesforce"
    assert salesforce.connector().read(CONTACTS, [link.id_b])[link.id_b].values["Title"] == "Edited in Salesforce"
    quiet = run_sync(sync.pk)
    assert (quiet.created, quiet.updated) == (0, 0)


def test_contacts_merged_in_hubspot_keep_their_links_and_duplicates_are_explained(pair):
    from sandbox.hubspot.models import Portal
    from sandbox.hubspot.store import merge

    hubspot, salesforce = pair(sf_accounts=1)
    connector = hubspot.connector()
    made = connector.write(CONTACTS, creates=[
        {"email": "ann@merge.example", "firstname": "Ann", "lastname": "One"},
        {"email": "ann.two@merge.example", "firstname": "Ann", "lastname": "Two"},
    ])
    ann, ann_two = (r.id for r in made)
    sync = new_sync(hubspot, salesforce, CONTACTS)
    run_sync(sync.pk)
    sf_ann, sf_two = (RecordLink.objects.get(object_sync=sync, id_a=i).id_b for i in (ann, ann_two))
    portal = Portal.objects.get(private_token=hubspot.credentials["access_token"])

    # A new, unsynced contact absorbs Ann. HubSpot gives the merged contact a NEW id (both old
    # ids resolve to it): her link follows that record, nothing is created twice.
    bob = connector.write(CONTACTS, creates=[{"email": "bob@merge.example", "firstname": "Bob", "lastname": "B"}])
    survivor = str(merge(portal, "contacts", bob[0].id, ann).pk)
    assert survivor not in (bob[0].id, ann)
    run = run_sync(sync.pk)
    assert run.created == 0 and run.failed == 0, list(run.outcomes.values_list("message", flat=True))
    link = RecordLink.objects.get(object_sync=sync, id_b=sf_ann)
    assert link.id_a == survivor and link.status == LinkStatus.IN_SYNC
    assert salesforce.connector().read(CONTACTS, [sf_ann])[sf_ann].values["Email"] == "bob@merge.example"

    # Two synced contacts merged (into a new id again): one link follows the new record, the
    # other's Salesforce contact is a duplicate now, and says so.
    last = str(merge(portal, "contacts", survivor, ann_two).pk)
    run = run_sync(sync.pk)
    assert run.created == 0
    followed = RecordLink.objects.get(object_sync=sync, id_a=last)
    assert followed.status == LinkStatus.IN_SYNC and followed.id_b in (sf_ann, sf_two)
    orphan = RecordLink.objects.get(object_sync=sync, id_b=({sf_ann, sf_two} - {followed.id_b}).pop())
    assert orphan.status == LinkStatus.DELETED_A
    assert orphan.error_category == "duplicate_record" and "merged into" in orphan.last_error
    assert RecordLink.objects.filter(object_sync=sync).count() == 2  # nothing duplicated
