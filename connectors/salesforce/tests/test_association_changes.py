"""association_changes: contact roles have their own SystemModstamp; lookups ride on the record's."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from connectors.base import COMPANIES, CONTACTS, DEALS
from connectors.errors import ConnectorError, ErrorCategory
from sandbox.salesforce.models import Org, Record
from sandbox.salesforce.seed import seed_org


def _age_everything() -> None:
    Record.objects.update(system_modstamp=timezone.now().replace(microsecond=0) - timedelta(hours=1))


def _ids(sobject: str, n: int) -> list[str]:
    query = Record.objects.filter(sobject=sobject, is_deleted=False).order_by("sf_id")
    return list(query.values_list("sf_id", flat=True)[:n])


@pytest.fixture
def exact(org, make_connector):
    """A connector that trusts the final cursor's id at once (no settling delay)."""
    return make_connector(org, settle_seconds=0)


def test_without_a_cursor_it_starts_from_now_by_the_servers_clock(org, exact):
    _age_everything()
    before = exact.client.http.calls
    changed, cursor = exact.association_changes(DEALS, CONTACTS)
    assert changed == [] and cursor["id"] == ""
    assert exact.client.http.calls - before == 1
    assert exact.association_changes(DEALS, CONTACTS, cursor)[0] == []  # seeded roles are older than now


def test_the_starting_cursor_leaves_room_for_roles_still_being_saved(org, connector):
    _age_everything()
    (opp,) = _ids("Opportunity", 1)
    contact = connector.write(CONTACTS, [{"LastName": "Just before"}])[0].id
    assert connector.write_associations(DEALS, CONTACTS, [(opp, contact)])[0].ok
    _, cursor = connector.association_changes(DEALS, CONTACTS)
    start = datetime.fromisoformat(cursor["modstamp"])
    assert timedelta(seconds=9) <= connector.client.server_time - start <= timedelta(seconds=11)
    assert connector.association_changes(DEALS, CONTACTS, cursor)[0] == [opp]


def test_it_lists_opportunities_whose_roles_were_added_changed_or_removed(org, exact):
    _age_everything()
    _, cursor = exact.association_changes(DEALS, CONTACTS)
    added_to, changed_on, removed_from, untouched = _ids("Opportunity", 4)
    contact, other = (r.id for r in exact.write(CONTACTS, [{"LastName": "One"}, {"LastName": "Two"}]))
    assert exact.write_associations(DEALS, CONTACTS, [(added_to, contact)])[0].ok
    role = Record.objects.filter(sobject="OpportunityContactRole", data__OpportunityId=changed_on).first()
    if role is None:
        assert exact.write_associations(DEALS, CONTACTS, [(changed_on, other)])[0].ok
    else:
        exact.client.send("PATCH", f"sobjects/OpportunityContactRole/{role.sf_id}", {"Role": "Evaluator"})
    present = exact.read_associations(DEALS, [removed_from], CONTACTS)[removed_from] or [contact]
    assert exact.write_associations(DEALS, CONTACTS, [(removed_from, present[0])])[0].ok
    assert exact.remove_associations(DEALS, CONTACTS, [(removed_from, present[0])])[0].ok
    assert exact.write(DEALS, updates={untouched: {"Description": "Not an association change"}})[0].ok
    changed, cursor = exact.association_changes(DEALS, CONTACTS, cursor)
    assert sorted(changed) == sorted([added_to, changed_on, removed_from])
    assert exact.association_changes(DEALS, CONTACTS, cursor) == ([], cursor)


def test_deleting_an_opportunity_or_a_contact_reports_the_opportunities_that_lost_roles(org, exact):
    _age_everything()
    _, cursor = exact.association_changes(DEALS, CONTACTS)
    roles = list(Record.objects.filter(sobject="OpportunityContactRole").order_by("sf_id"))
    deleted_opp = roles[0].data["OpportunityId"]
    contact_role = next(r for r in roles if r.data["OpportunityId"] != deleted_opp)
    assert exact.delete(DEALS, [deleted_opp])[0].ok
    assert exact.delete(CONTACTS, [contact_role.data["ContactId"]])[0].ok
    changed, _ = exact.association_changes(DEALS, CONTACTS, cursor)
    assert deleted_opp in changed and contact_role.data["OpportunityId"] in changed


def test_a_role_added_in_the_same_second_as_the_final_cursor_is_not_missed(org, connector):
    _age_everything()
    _, cursor = connector.association_changes(DEALS, CONTACTS)
    (first,) = _ids("Opportunity", 1)
    contact = connector.write(CONTACTS, [{"LastName": "New role"}])[0].id
    assert connector.write_associations(DEALS, CONTACTS, [(first, contact)])[0].ok
    changed, cursor = connector.association_changes(DEALS, CONTACTS, cursor)
    assert changed == [first] and cursor["id"] == ""  # too recent to trust the tie-break
    # The next call re-reads that whole second, so a role written in it by another transaction
    # with an id sorting before the last one cannot be skipped (re-reads are harmless).
    again, _ = connector.association_changes(DEALS, CONTACTS, cursor)
    assert again == [first]


def test_it_pages_through_many_role_changes_in_one_query(transactional_db, make_connector):
    seeded = seed_org("roles", contacts=3, accounts=1, opportunities=450, roles=(0, 0))
    connector = make_connector(seeded, query_batch_size=200, settle_seconds=0)
    Record.objects.update(system_modstamp=timezone.now().replace(microsecond=0) - timedelta(hours=1))
    _, cursor = connector.association_changes(DEALS, CONTACTS)
    opps = _ids("Opportunity", 450)
    contact = _ids("Contact", 1)[0]
    assert all(r.ok for r in connector.write_associations(DEALS, CONTACTS, [(o, contact) for o in opps]))
    before = connector.client.http.calls
    changed, cursor = connector.association_changes(DEALS, CONTACTS, cursor)
    assert connector.client.http.calls - before == 3  # one query, three batches of <= 200
    assert sorted(changed) == sorted(opps) and len(changed) == 450


def test_lookup_associations_ride_on_the_records_own_changes(org, connector):
    for pair in [(CONTACTS, COMPANIES), (DEALS, COMPANIES)]:
        before = connector.client.http.calls
        assert connector.association_changes(*pair, {"modstamp": "x", "id": ""}) == (
            [],
            {"modstamp": "x", "id": ""},
        )
        assert connector.client.http.calls == before


def test_pairs_without_a_change_feed_are_none(org, connector, make_connector):
    assert connector.association_changes(COMPANIES, CONTACTS) is None
    assert connector.association_changes(CONTACTS, DEALS) is None
    assert connector.association_changes(COMPANIES, COMPANIES) is None
    leads = make_connector(org, contacts_object="Lead")
    assert leads.association_changes(DEALS, CONTACTS) is None


def test_a_changed_account_lookup_is_seen_by_read_changes(org, exact):
    _age_everything()
    cursor = list(exact.read_changes(DEALS))[-1].cursor
    deal = _ids("Opportunity", 1)[0]
    account = _ids("Account", 3)[-1]
    assert exact.write_associations(DEALS, COMPANIES, [(deal, account)])[0].ok
    (record,) = [r for p in exact.read_changes(DEALS, cursor) for r in p.records]
    assert record.id == deal and record.associations[COMPANIES] == [account]


def test_contact_roles_hidden_from_the_user_are_permission_denied(org, connector):
    Org.objects.filter(pk=org.org.pk).update(restrictions={"hidden_objects": ["OpportunityContactRole"]})
    with pytest.raises(ConnectorError) as caught:
        connector.association_changes(DEALS, CONTACTS, {"modstamp": "2030-01-01T00:00:00.000+0000", "id": ""})
    assert caught.value.category is ErrorCategory.PERMISSION_DENIED
