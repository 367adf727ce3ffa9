"""SOQL: the parser's subset, evaluation over HTTP, paging, and Salesforce's errors for the rest."""

from datetime import UTC, date, datetime

import pytest

from sandbox.salesforce import soql
from sandbox.salesforce.models import Record
from sandbox.salesforce.seed import seed_org
from sandbox.salesforce.tests.conftest import DATA, Api


@pytest.mark.parametrize(
    "text",
    [
        "SELECT Id FROM Contact",
        "select id, name from contact where name != null limit 5",
        "SELECT Id, Account.Name, Account.Owner.Name FROM Contact WHERE Account.Name LIKE 'A%'",
        "SELECT Id FROM Contact WHERE Email IN ('a@b.c', 'd@e.f') AND NOT LastName = 'x'",
        "SELECT Id FROM Contact WHERE Id NOT IN ('003000000000000AAA')",
        "SELECT Id FROM Opportunity WHERE Amount >= 1000.50 AND CloseDate < 2025-01-01 OR IsWon = true",
        "SELECT Id FROM Contact WHERE SystemModstamp > 2024-01-01T00:00:00.000+0000",
        "SELECT Id FROM Contact WHERE CreatedDate = LAST_N_DAYS:7 OR CreatedDate = TODAY",
        "SELECT Id FROM Contact ORDER BY LastName DESC NULLS LAST, Id ASC LIMIT 10 OFFSET 5",
        "SELECT COUNT() FROM Contact WHERE IsDeleted = false",
        "SELECT Id FROM Contact WHERE Title = 'It\\'s \\\\ quoted'",
    ],
)
def test_it_parses_the_shapes_clients_send(text):
    query = soql.parse(text)
    assert query.sobject.lower() in ("contact", "opportunity")


@pytest.mark.parametrize(
    "text",
    [
        "SELECT Id FROM Contact GROUP BY Name",
        "SELECT Id, (SELECT Id FROM Contacts) FROM Account",
        "SELECT FROM Contact",
        "SELECT Id FROM Contact WHERE",
        "SELECT Id FROM Contact WHERE Name = 'unterminated",
        "DELETE FROM Contact",
        "SELECT Id FROM Contact WHERE CreatedDate > 2024-13-45T00:00:00Z",
    ],
)
def test_it_refuses_the_rest_as_malformed_query(text):
    with pytest.raises(soql.SoqlError) as info:
        soql.parse(text)
    assert info.value.code == "MALFORMED_QUERY"


def test_datetime_literals_with_offsets_are_converted_to_utc():
    query = soql.parse("SELECT Id FROM Contact WHERE SystemModstamp >= 2024-05-05T10:00:00+02:00")
    assert query.where.values[0].value == datetime(2024, 5, 5, 8, 0, tzinfo=UTC)


def test_date_literals_are_ranges_relative_to_today():
    query = soql.parse("SELECT Id FROM Contact WHERE CreatedDate = YESTERDAY", today=date(2024, 3, 1))
    start, end = query.where.values[0].value
    assert (start.date(), end.date()) == (date(2024, 2, 29), date(2024, 3, 1))


@pytest.fixture
def people(db):
    seeded = seed_org("soql", accounts=1)
    api = Api(seeded.access_token)
    status, result, _ = api.call(
        "POST",
        "composite/sobjects",
        {
            "records": [
                {"attributes": {"type": "Account"}, "Name": "Acme Corp", "Industry": "Retail"},
            ]
        },
    )
    account = result[0]["id"]
    rows = [
        ("Ada", "Lovelace", "ada@example.com", account),
        ("Alan", "Turing", "alan@example.com", None),
        ("Grace", "Hopper", "GRACE@example.com", account),
        (None, "Nobody", None, None),
    ]
    status, result, _ = api.call(
        "POST",
        "composite/sobjects",
        {
            "records": [
                {
                    "attributes": {"type": "Contact"},
                    "FirstName": f,
                    "LastName": ln,
                    "Email": e,
                    "AccountId": a,
                }
                for f, ln, e, a in rows
            ]
        },
    )
    assert status == 200 and all(r["success"] for r in result)
    return api


def names(result):
    return [r["LastName"] for r in result["records"]]


def test_it_filters_with_comparisons_in_like_and_or(people):
    _, result, _ = people.query(
        "SELECT LastName FROM Contact WHERE (Email LIKE '%@EXAMPLE.com' AND FirstName != 'Alan') "
        "OR LastName IN ('nobody') ORDER BY LastName"
    )
    assert names(result) == ["Hopper", "Lovelace", "Nobody"]


def test_text_comparisons_are_case_insensitive(people):
    _, result, _ = people.query("SELECT LastName FROM Contact WHERE Email = 'grace@EXAMPLE.COM'")
    assert names(result) == ["Hopper"]


def test_relationship_fields_are_nested_or_null(people):
    _, result, _ = people.query(
        "SELECT LastName, Account.Name, Account.Industry FROM Contact ORDER BY LastName"
    )
    by_name = {r["LastName"]: r for r in result["records"]}
    assert by_name["Hopper"]["Account"]["Name"] == "Acme Corp"
    assert by_name["Hopper"]["Account"]["attributes"]["type"] == "Account"
    assert by_name["Turing"]["Account"] is None
    _, result, _ = people.query(
        "SELECT LastName FROM Contact WHERE Account.Name = 'acme corp' ORDER BY LastName"
    )
    assert names(result) == ["Hopper", "Lovelace"]


def test_order_by_places_nulls_and_limit_offset_slice(people):
    _, result, _ = people.query(
        "SELECT LastName FROM Contact ORDER BY FirstName ASC NULLS LAST LIMIT 2 OFFSET 1"
    )
    assert names(result) == ["Turing", "Hopper"]
    _, result, _ = people.query("SELECT LastName FROM Contact ORDER BY FirstName DESC")
    assert names(result)[-1] == "Nobody"


def test_datetimes_and_date_literals_filter_system_fields(people):
    _, result, _ = people.query(
        "SELECT Id FROM Contact WHERE CreatedDate = TODAY AND SystemModstamp > 2020-01-01T00:00:00Z"
    )
    assert result["totalSize"] == 4
    _, result, _ = people.query("SELECT Id FROM Contact WHERE CreatedDate < LAST_N_DAYS:3")
    assert result["totalSize"] == 0
    record = (
        result and people.query("SELECT SystemModstamp, CreatedDate FROM Contact LIMIT 1")[1]["records"][0]
    )
    assert record["SystemModstamp"].endswith(".000+0000")


def test_count_returns_only_the_total(people):
    _, result, _ = people.query("SELECT COUNT() FROM Contact WHERE AccountId != null")
    assert result == {"totalSize": 2, "done": True, "records": []}


def test_unknown_fields_and_objects_get_salesforce_errors(people):
    status, body, _ = people.query("SELECT Nope FROM Contact")
    assert status == 400 and body[0]["errorCode"] == "INVALID_FIELD" and "Nope" in body[0]["message"]
    status, body, _ = people.query("SELECT Id FROM Widget")
    assert status == 400 and body[0]["errorCode"] == "INVALID_TYPE"
    status, body, _ = people.query("SELECT Id FROM Contact WHERE CreatedDate > '2024-01-01'")
    assert status == 400 and body[0]["errorCode"] == "INVALID_FIELD"


def test_an_unsupported_query_is_malformed_query_not_a_crash(people):
    status, body, response = people.query("SELECT Id FROM Contact GROUP BY LastName")
    assert status == 400
    assert body[0]["errorCode"] == "MALFORMED_QUERY"
    assert response["Sforce-Limit-Info"].startswith("api-usage=")
    status, body, _ = people.call("GET", "query/")
    assert status == 400 and body[0]["errorCode"] == "MALFORMED_QUERY"


def test_query_hides_deleted_records_and_query_all_shows_them(people):
    _, result, _ = people.query("SELECT Id FROM Contact WHERE LastName = 'Nobody'")
    target = result["records"][0]["Id"]
    assert people.call("DELETE", f"sobjects/Contact/{target}")[0] == 204
    assert people.query("SELECT Id FROM Contact WHERE LastName = 'Nobody'")[1]["totalSize"] == 0
    _, result, _ = people.query("SELECT Id, IsDeleted FROM Contact WHERE LastName = 'Nobody'", all_rows=True)
    assert result["records"][0]["IsDeleted"] is True


@pytest.fixture
def many(db):
    return Api(seed_org("many", contacts=450).access_token)


def test_it_pages_with_next_records_url_and_the_batch_size_header(many):
    headers = {"Sforce-Query-Options": "batchSize=200"}
    status, page, _ = many.query("SELECT Id FROM Contact ORDER BY Id", headers=headers)
    ids = [r["Id"] for r in page["records"]]
    assert (page["totalSize"], page["done"], len(ids)) == (450, False, 200)
    while not page["done"]:
        assert page["nextRecordsUrl"].startswith("/services/data/v60.0/query/01g")
        status, page, _ = many.get(f"/sandbox/salesforce{page['nextRecordsUrl']}", headers=headers)
        ids += [r["Id"] for r in page["records"]]
    assert len(ids) == len(set(ids)) == 450
    assert ids == sorted(ids)


def test_a_full_batch_is_2000_records_and_an_unknown_locator_is_refused(many):
    _, page, _ = many.query("SELECT Id FROM Contact")
    assert page["done"] and len(page["records"]) == 450
    status, body, _ = many.get(f"{DATA}/query/01gdeadbeef-2000")
    assert status == 400 and body[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_the_modstamp_prefilter_keeps_the_id_tie_break_exact(many):
    record = Record.objects.filter(sobject="Contact").order_by("sf_id")[100]
    stamp = record.system_modstamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    _, page, _ = many.query(
        f"SELECT Id FROM Contact WHERE SystemModstamp > {stamp} OR "
        f"(SystemModstamp = {stamp} AND Id > '{record.sf_id}') ORDER BY SystemModstamp, Id"
    )
    assert page["totalSize"] == 349


def test_a_15_character_id_finds_the_same_record_as_its_18_character_form(people):
    _, result, _ = people.query("SELECT Id FROM Contact ORDER BY Id LIMIT 1")
    full = result["records"][0]["Id"]
    for text in (
        f"SELECT Id FROM Contact WHERE Id = '{full[:15]}'",
        f"SELECT Id FROM Contact WHERE Id IN ('{full[:15]}')",
    ):
        assert [r["Id"] for r in people.query(text)[1]["records"]] == [full]


def test_an_or_mixing_indexed_and_other_fields_is_evaluated_exactly(people):
    _, result, _ = people.query("SELECT Id FROM Contact ORDER BY Id")
    ids = [r["Id"] for r in result["records"]]
    text = (
        f"SELECT Id FROM Contact WHERE (Id > '{ids[0]}' AND Id <= '{ids[2]}') OR LastName = 'Nobody' "
        "ORDER BY Id"
    )
    assert [r["Id"] for r in people.query(text)[1]["records"]] == ids[1:3] + [ids[3]]
    assert soql.parse(text).where.op == "or"
