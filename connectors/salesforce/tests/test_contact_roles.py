"""Deal associations in batches: OpportunityContactRoles both ways, AccountId lookups set and cleared."""

import pytest

from connectors.base import COMPANIES, CONTACTS, DEALS
from connectors.errors import ErrorCategory
from sandbox.salesforce.models import Org, Record
from sandbox.salesforce.seed import seed_org


@pytest.fixture
def many(transactional_db, make_connector):
    """450 opportunities and 4 contacts, no roles yet."""
    seeded = seed_org("many", contacts=4, accounts=2, opportunities=450, record_types=2, roles=(0, 0))
    connector = make_connector(seeded)
    connector.opps = _ids("Opportunity")
    connector.contacts = _ids("Contact")
    connector.fields(DEALS), connector.fields(CONTACTS)  # describe once, outside the counted calls
    return connector


def _ids(sobject: str) -> list[str]:
    query = Record.objects.filter(sobject=sobject, is_deleted=False).order_by("sf_id")
    return list(query.values_list("sf_id", flat=True))


def _roles() -> int:
    return Record.objects.filter(sobject="OpportunityContactRole", is_deleted=False).count()


def _calls(connector, action):
    before = connector.client.http.calls
    result = action()
    return result, connector.client.http.calls - before


def test_it_adds_roles_in_collections_of_200_after_one_query_for_450_opportunities(many):
    pairs = [(opp, contact) for opp in many.opps for contact in many.contacts[:2]]  # 900 pairs
    results, calls = _calls(many, lambda: many.write_associations(DEALS, CONTACTS, pairs))
    assert [r.ref for r in results] == pairs and all(r.ok and r.id for r in results)
    assert calls == 1 + 5  # existing roles of 450 opportunities (one IN list fits the URI), 900 roles / 200
    assert _roles() == 900
    primaries = Record.objects.filter(sobject="OpportunityContactRole", data__IsPrimary=True)
    assert primaries.count() == 450 and {r.data["ContactId"] for r in primaries} == {many.contacts[0]}


def test_adding_a_role_that_exists_or_twice_in_one_call_is_a_success_without_a_second_role(many):
    opp, (c1, c2) = many.opps[0], many.contacts[:2]
    assert many.write_associations(DEALS, CONTACTS, [(opp, c1)])[0].ok
    results, calls = _calls(
        many, lambda: many.write_associations(DEALS, CONTACTS, [(opp, c1), (opp, c2), (opp, c2)])
    )
    assert [r.ok for r in results] == [True, True, True] and results[2].id == results[1].id
    assert calls == 2 and _roles() == 2


def test_a_pair_given_twice_shares_the_first_ones_failure(many):
    opp, ghost = many.opps[0], "003000000000000AAA"
    results = many.write_associations(DEALS, CONTACTS, [(opp, ghost), (opp, ghost), (opp, many.contacts[0])])
    assert [r.ok for r in results] == [False, False, True]
    assert results[0].error.category is results[1].error.category is ErrorCategory.ASSOCIATION_FAILED


def test_a_role_on_a_deleted_opportunity_fails_as_record_deleted_and_the_rest_go_through(many):
    gone, kept = many.opps[:2]
    assert many.delete(DEALS, [gone])[0].ok
    results = many.write_associations(CONTACTS, DEALS, [(many.contacts[0], gone), (many.contacts[0], kept)])
    assert results[0].error.category is ErrorCategory.RECORD_DELETED and results[1].ok
    assert many.read_associations(DEALS, [kept], CONTACTS) == {kept: [many.contacts[0]]}


def test_it_reads_the_primary_role_first_then_the_oldest(many):
    opp, (c1, c2, c3) = many.opps[0], many.contacts[:3]
    assert all(r.ok for r in many.write_associations(DEALS, CONTACTS, [(opp, c1), (opp, c2), (opp, c3)]))
    for role in Record.objects.filter(sobject="OpportunityContactRole"):
        many.client.send(
            "PATCH",
            f"sobjects/OpportunityContactRole/{role.sf_id}",
            {"IsPrimary": role.data["ContactId"] == c3},
        )
    assert many.read_associations(DEALS, [opp], CONTACTS) == {opp: [c3, c1, c2]}
    assert many.read(DEALS, [opp])[opp].associations[CONTACTS] == [c3, c1, c2]


def test_it_removes_roles_in_batches_and_removing_one_that_is_gone_is_a_success(many):
    pairs = [(opp, many.contacts[0]) for opp in many.opps]
    assert all(r.ok for r in many.write_associations(DEALS, CONTACTS, pairs))
    results, calls = _calls(many, lambda: many.remove_associations(DEALS, CONTACTS, pairs))
    assert all(r.ok for r in results) and [r.ref for r in results] == pairs
    assert calls == 1 + 3  # roles of 450 opportunities (one IN list fits the URI), 450 deletions / 200
    assert _roles() == 0
    again, calls = _calls(many, lambda: many.remove_associations(DEALS, CONTACTS, pairs[:5]))
    assert all(r.ok for r in again) and calls == 1


def test_it_removes_only_the_role_of_the_pair(many):
    opp, (c1, c2) = many.opps[0], many.contacts[:2]
    many.write_associations(DEALS, CONTACTS, [(opp, c1), (opp, c2)])
    assert many.remove_associations(CONTACTS, DEALS, [(c1, opp)])[0].ok
    assert many.read_associations(DEALS, [opp], CONTACTS) == {opp: [c2]}


def test_it_sets_and_clears_account_lookups_in_batches(many):
    account = _ids("Account")[0]
    pairs = [(opp, account) for opp in many.opps]
    results, calls = _calls(many, lambda: many.write_associations(DEALS, COMPANIES, pairs))
    assert all(r.ok for r in results) and calls == 3  # 450 updates / 200
    read = many.read_associations(COMPANIES, [account], DEALS)[account]
    assert set(many.opps) <= set(read)
    results, calls = _calls(many, lambda: many.remove_associations(DEALS, COMPANIES, pairs))
    assert all(r.ok for r in results) and calls == 1 + 3  # current accounts (one IN list fits the URI), then 450 / 200
    assert many.read_associations(DEALS, many.opps[:3], COMPANIES) == {o: [] for o in many.opps[:3]}


def test_clearing_a_lookup_that_points_elsewhere_changes_nothing(many):
    first, second = _ids("Account")[:2]
    contact = many.contacts[0]
    assert many.write_associations(CONTACTS, COMPANIES, [(contact, second)])[0].ok
    (result,) = many.remove_associations(CONTACTS, COMPANIES, [(contact, first)])
    assert result.ok
    assert many.read_associations(CONTACTS, [contact], COMPANIES) == {contact: [second]}


def test_a_lookup_to_a_deleted_company_fails_as_record_deleted(many):
    account = _ids("Account")[0]
    assert many.delete(COMPANIES, [account])[0].ok
    (result,) = many.write_associations(CONTACTS, COMPANIES, [(_ids("Contact")[0], account)])
    assert result.error.category is ErrorCategory.RECORD_DELETED


def test_a_deal_without_account_or_roles_says_so_with_empty_associations(many):
    opp = many.opps[0]
    assert many.write(DEALS, updates={opp: {"AccountId": None}})[0].ok
    record = many.read(DEALS, [opp])[opp]
    assert record.associations == {COMPANIES: [], CONTACTS: []}
    many.write_associations(DEALS, CONTACTS, [(opp, many.contacts[0])])
    assert many.read(DEALS, [opp])[opp].associations[CONTACTS] == [many.contacts[0]]


def test_a_hidden_account_field_leaves_the_company_association_unknown(many):
    Org.objects.filter(name="many").update(restrictions={"hidden_fields": ["Contact.AccountId"]})
    connector = many.__class__(many.base_url, many.credentials, options={"backoff_base": 0.01})
    try:
        record = connector.read(CONTACTS, many.contacts[:1])[many.contacts[0]]
    finally:
        connector.client.http.session.close()
    assert COMPANIES not in record.associations
