"""Reads: full and incremental reads through search, the 10,000 cap, shared timestamps,
batch reads, lookups, deleted records, properties and pipelines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from connectors.base import FieldType, Stage
from sandbox.hubspot.models import Association, CrmObject, Portal
from sandbox.hubspot.seed import seed_records

pytestmark = pytest.mark.django_db(transaction=True)


def _ids(portal, object_type="contacts"):
    return {str(pk) for pk in CrmObject.objects.filter(portal=portal, object_type=object_type,
                                                        archived=False).values_list("pk", flat=True)}


def _read_all(conn, object_type="contacts", cursor=None):
    pages = list(conn.read_changes(object_type, cursor))
    records = [r for p in pages for r in p.records]
    return pages, records, (pages[-1].cursor if pages else cursor)


def test_it_reads_every_record_once_in_pages(portal, connect):
    seed_records(portal, contacts=180, companies=10)
    conn = connect(portal, search_page_size=40, page_records=40)
    pages, records, _ = _read_all(conn)
    assert len(pages) > 4
    assert sorted(r.id for r in records) == sorted(_ids(portal))
    assert len(records) == len({r.id for r in records})


def test_it_reads_only_what_changed_since_the_cursor(portal, connect):
    seed_records(portal, contacts=60)
    conn = connect(portal, search_page_size=25)
    _, _, cursor = _read_all(conn)
    changed = sorted(_ids(portal))[:3]
    for record_id in changed:
        conn.write("contacts", updates={record_id: {"jobtitle": "Changed"}})
    _, records, cursor2 = _read_all(conn, cursor=cursor)
    assert sorted(r.id for r in records) == changed
    assert all(r.values["jobtitle"] == "Changed" for r in records)
    assert _read_all(conn, cursor=cursor2)[1] == []


def test_it_reads_past_the_search_cap_without_paging_past_it(make_portal, connect):
    portal = make_portal(search_cap=50)
    seed_records(portal, companies=170)
    conn = connect(portal, search_page_size=20)
    _, records, _ = _read_all(conn, "companies")
    assert sorted(r.id for r in records) == sorted(_ids(portal, "companies"))


def test_it_reads_many_records_sharing_one_timestamp(portal, connect):
    seed_records(portal, contacts=90)
    stamp = datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC)
    CrmObject.objects.filter(portal=portal).update(updated_at=stamp)
    conn = connect(portal, search_page_size=20)
    _, records, cursor = _read_all(conn)
    assert sorted(r.id for r in records) == sorted(_ids(portal))
    assert len(records) == 90
    assert cursor["t"] == int(stamp.timestamp() * 1000)
    assert _read_all(conn, cursor=cursor)[1] == []


def test_it_converts_values_to_plain_python_types(portal, hubspot):
    [result] = hubspot.write("deals", creates=[{"dealname": "Big", "amount": Decimal("1500.50"),
                                                "closedate": datetime(2025, 3, 1, tzinfo=UTC)}])
    record = hubspot.read("deals", [result.id])[result.id]
    assert record.values["amount"] == Decimal("1500.50")
    assert record.values["closedate"] == datetime(2025, 3, 1, tzinfo=UTC)
    assert record.values["dealstage"] is None or isinstance(record.values["dealstage"], str)
    assert record.modified_at.tzinfo is not None


def test_it_gives_the_primary_company_first(portal, hubspot):
    seed_records(portal, contacts=1, companies=3)
    contact = _ids(portal).pop()
    Association.objects.filter(portal=portal).delete()
    companies = sorted(_ids(portal, "companies"))
    hubspot.write_associations("contacts", "companies", [(contact, companies[0])])
    hubspot.write_associations("contacts", "companies", [(contact, companies[2])])  # the new primary
    record = hubspot.read("contacts", [contact])[contact]
    assert record.associations["companies"][0] == companies[2]
    assert set(record.associations["companies"]) == {companies[0], companies[2]}


def test_it_leaves_unknown_ids_out_of_a_batch_read(portal, hubspot):
    seed_records(portal, contacts=3)
    ids = sorted(_ids(portal))
    found = hubspot.read("contacts", ids + ["987654321"])
    assert sorted(found) == ids


def test_it_finds_contacts_by_email_ignoring_case(portal, hubspot):
    [a] = hubspot.write("contacts", creates=[{"email": "ann@example.com"}])
    found = hubspot.find("contacts", "email", ["ANN@example.com", "nobody@example.com"])
    assert [r.id for r in found["ANN@example.com"]] == [a.id]
    assert "nobody@example.com" not in found


def test_it_finds_companies_by_domain_with_search(portal, hubspot):
    results = hubspot.write("companies", creates=[{"name": "A", "domain": "a.io"}, {"name": "B", "domain": "a.io"},
                                                  {"name": "C", "domain": "c.io"}])
    found = hubspot.find("companies", "domain", ["a.io", "z.io"])
    assert sorted(r.id for r in found["a.io"]) == sorted(r.id for r in results[:2])


def test_it_refuses_to_find_by_an_unknown_property(hubspot):
    from connectors.errors import ConnectorError, ErrorCategory

    with pytest.raises(ConnectorError) as info:
        hubspot.find("contacts", "favourite_colour", ["red"])
    assert info.value.category is ErrorCategory.INVALID_PROPERTY_VALUE


def test_it_reads_deleted_records_after_the_cursor(portal, hubspot):
    seed_records(portal, contacts=5)
    ids = sorted(_ids(portal))
    hubspot.delete("contacts", ids[:2])
    pages = list(hubspot.read_deleted("contacts"))
    assert sorted(r.id for p in pages for r in p.records) == ids[:2]
    assert all(r.deleted_at is not None for p in pages for r in p.records)
    later = CrmObject.objects.filter(pk=ids[2])
    later.update(archived=True, archived_at=datetime.now(UTC) + timedelta(seconds=5))
    again = list(hubspot.read_deleted("contacts", pages[-1].cursor))
    assert [r.id for p in again for r in p.records] == [ids[2]]


def test_it_describes_fields_with_types_options_and_flags(hubspot):
    fields = {f.name: f for f in hubspot.fields("contacts")}
    assert fields["email"].unique and fields["email"].type is FieldType.TEXT
    assert fields["createdate"].read_only and fields["createdate"].type is FieldType.DATETIME
    assert fields["lifecyclestage"].type is FieldType.ENUMERATION
    assert "lead" in [o.value for o in fields["lifecyclestage"].options]
    assert fields["hs_buying_role"].multi
    assert fields["newsletter_opt_in"].type is FieldType.BOOL
    assert {f.name for f in hubspot.fields("deals")} >= {"amount", "dealstage", "pipeline"}


def test_it_proposes_default_fields_that_exist_in_hubspot(hubspot):
    for object_type in ("contacts", "companies", "deals"):
        names = {f.name for f in hubspot.fields(object_type)}
        defaults = hubspot.default_fields(object_type)
        assert defaults and all(d.field in names for d in defaults)
    assert [d.key for d in hubspot.default_fields("contacts")] == [
        "email", "first_name", "last_name", "phone", "job_title", "company_name", "owner"]


def test_it_reads_pipelines_with_closed_and_won_stages(hubspot):
    [default] = hubspot.pipelines("deals")
    stages = {s.id: s for s in default.stages}
    assert default.id == "default"
    assert stages["closedwon"].closed and stages["closedwon"].won
    assert stages["closedlost"].closed and not stages["closedlost"].won
    assert not stages["qualifiedtobuy"].closed
    assert [s.order for s in default.stages] == sorted(s.order for s in default.stages)


def test_it_creates_a_pipeline(hubspot):
    created = hubspot.create_pipeline("deals", "Partner deals", [
        Stage("a", "Prospect", 0), Stage("b", "Won", 1, closed=True, won=True), Stage("c", "Lost", 2, closed=True)])
    assert [s.label for s in created.stages] == ["Prospect", "Won", "Lost"]
    assert [(s.closed, s.won) for s in created.stages] == [(False, False), (True, True), (True, False)]
    assert created.id in [p.id for p in hubspot.pipelines("deals")]


def test_it_reports_a_missing_scope_as_permission_denied(portal, hubspot):
    from connectors.errors import ConnectorError, ErrorCategory

    Portal.objects.filter(pk=portal.pk).update(scopes=["crm.objects.companies.read"])
    with pytest.raises(ConnectorError) as info:
        list(hubspot.read_changes("contacts"))
    assert info.value.category is ErrorCategory.PERMISSION_DENIED
    assert "crm.objects.contacts.read" in info.value.message


def test_it_pages_through_many_deleted_records_with_after(portal, hubspot):
    seed_records(portal, companies=130)
    CrmObject.objects.filter(portal=portal).update(archived=True, archived_at=datetime.now(UTC))
    pages = list(hubspot.read_deleted("companies"))
    assert len(pages) == 2
    assert len({r.id for p in pages for r in p.records}) == 130


def test_it_leaves_changes_younger_than_the_search_lag_for_the_next_run(portal, connect):
    seed_records(portal, contacts=5)
    conn = connect(portal, search_lag_seconds=60)
    _, first, cursor = _read_all(conn)
    assert len(first) == 5
    [fresh] = conn.write("contacts", creates=[{"email": "fresh@x.com"}])
    assert _read_all(conn, cursor=cursor)[1] == []
    CrmObject.objects.filter(pk=fresh.id).update(updated_at=datetime.now(UTC) - timedelta(minutes=2))
    assert [r.id for r in _read_all(conn, cursor=cursor)[1]] == [fresh.id]


def test_it_reports_the_daily_api_usage_from_hubspots_headers(make_portal, connect):
    portal = make_portal(rate_limit_enabled=True, daily_limit=1000)
    conn = connect(portal)
    reports = []
    conn.on_api_usage = lambda used, allowed: reports.append((used, allowed))
    conn.pipelines("deals")
    conn.pipelines("deals")
    assert reports == [(1, 1000)]  # once per interval, not once per call
