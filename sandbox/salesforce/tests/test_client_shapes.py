"""The request shapes a well-known client (simple-salesforce) sends, over real HTTP.

Written from reading its api.py/util.py: query/ and queryAll/ with `params={'q': ...}`,
query_more by full nextRecordsUrl or by locator under query/, sobjects/<T>/ for create and
metadata, <T>/<ExtId__c>/<value> for upsert, `updated/` and `deleted/` with start/end as
`YYYY-MM-DDTHH:MM:SS+HH:MM` percent-encoded (`%3A`, `%2B`), and limits/.
"""

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
import requests
from django.utils import timezone

from sandbox.salesforce.models import Record
from sandbox.salesforce.seed import seed_org


@pytest.fixture
def sf(live_server, transactional_db):
    seeded = seed_org("ssf", contacts=2100, accounts=2)
    session = requests.Session()
    session.headers.update(
        {
            "Authorization": f"Bearer {seeded.access_token}",
            "Content-Type": "application/json",
            "X-PrettyPrint": "1",
        }
    )
    session.base_url = f"{live_server.url}/sandbox/salesforce/services/data/v59.0/"
    session.instance = live_server.url
    yield session
    session.close()


def iso(moment: datetime) -> str:
    """simple-salesforce's date_to_iso8601: seconds, a +HH:MM offset, then quote()."""
    offset = moment.strftime("%z")
    return quote(moment.strftime("%Y-%m-%dT%H:%M:%S") + offset[:3] + ":" + offset[3:])


def test_query_and_query_more_by_url_and_by_locator(sf):
    first = sf.get(sf.base_url + "query/", params={"q": "SELECT Id, Email FROM Contact"}, timeout=10).json()
    assert (first["totalSize"], first["done"], len(first["records"])) == (2100, False, 2000)
    by_url = sf.get(sf.instance + "/sandbox/salesforce" + first["nextRecordsUrl"], timeout=10).json()
    locator = first["nextRecordsUrl"].rsplit("/", 1)[1]
    by_locator = sf.get(sf.base_url + f"query/{locator}", timeout=10).json()
    assert by_url == by_locator
    assert by_url["done"] and len(by_url["records"]) == 100


def test_query_all_with_is_deleted(sf):
    victim = Record.objects.filter(sobject="Contact").first().sf_id
    assert sf.delete(sf.base_url + f"sobjects/Contact/{victim}", timeout=10).status_code == 204
    result = sf.get(
        sf.base_url + "queryAll/", params={"q": "SELECT Id FROM Contact WHERE IsDeleted = true"}, timeout=10
    ).json()
    assert [r["Id"] for r in result["records"]] == [victim]


def test_updated_and_deleted_accept_percent_encoded_offsets(sf):
    victim = Record.objects.filter(sobject="Contact").first().sf_id
    sf.delete(sf.base_url + f"sobjects/Contact/{victim}", timeout=10)
    # Both resources cover whole minutes up to the current one (latestDateCovered), so age the data.
    earlier = timezone.now().replace(microsecond=0) - timedelta(minutes=5)
    Record.objects.update(system_modstamp=earlier)
    Record.objects.filter(is_deleted=True).update(deleted_date=earlier)
    start = datetime.now(UTC).astimezone(timezone.get_fixed_timezone(120)) - timedelta(days=1)
    end = datetime.now(UTC) + timedelta(minutes=2)
    updated = sf.get(sf.base_url + f"sobjects/Contact/updated/?start={iso(start)}&end={iso(end)}", timeout=10)
    assert updated.status_code == 200
    assert len(updated.json()["ids"]) == 2099 and updated.json()["latestDateCovered"].endswith(":00.000+0000")
    deleted = sf.get(
        sf.base_url + f"sobjects/Contact/deleted/?start={iso(start)}&end={iso(end)}", timeout=10
    ).json()
    assert [d["id"] for d in deleted["deletedRecords"]] == [victim]
    assert {"earliestDateAvailable", "latestDateCovered"} <= set(deleted)


def test_replication_windows_are_enforced(sf):
    now = datetime.now(UTC)
    too_old = sf.get(
        sf.base_url + f"sobjects/Contact/deleted/?start={iso(now - timedelta(days=16))}&end={iso(now)}",
        timeout=10,
    )
    assert too_old.status_code == 400 and too_old.json()[0]["errorCode"] == "INVALID_REPLICATION_DATE"
    raw_plus = sf.get(
        sf.base_url + "sobjects/Contact/updated/?start=2024-01-01T00:00:00+00:00&end=x", timeout=10
    )
    assert raw_plus.status_code == 400  # an unencoded + arrives as a space, as on Salesforce


def test_sobject_create_get_upsert_update_delete_and_limits(sf):
    created = sf.post(
        sf.base_url + "sobjects/Contact/", json={"LastName": "Smith", "Email": "s@example.com"}, timeout=10
    )
    assert created.status_code == 201
    contact_id = created.json()["id"]
    assert sf.get(sf.base_url + "sobjects/Contact/", timeout=10).json()["objectDescribe"]["name"] == "Contact"
    assert sf.get(sf.base_url + "sobjects/Contact/describe", timeout=10).json()["name"] == "Contact"
    upserted = sf.patch(
        sf.base_url + "sobjects/Contact/External_Id__c/ext-22", json={"LastName": "Ext"}, timeout=10
    )
    assert upserted.status_code == 201
    assert (
        sf.get(sf.base_url + "sobjects/Contact/External_Id__c/ext-22", timeout=10).json()["LastName"] == "Ext"
    )
    assert (
        sf.patch(sf.base_url + f"sobjects/Contact/{contact_id}", json={"Title": "X"}, timeout=10).status_code
        == 204
    )
    assert sf.get(sf.base_url + f"sobjects/Contact/{contact_id}", timeout=10).json()["Title"] == "X"
    assert sf.delete(sf.base_url + f"sobjects/Contact/{contact_id}", timeout=10).status_code == 204
    limits = sf.get(sf.base_url + "limits/", timeout=10)
    used, allowed = limits.headers["Sforce-Limit-Info"].removeprefix("api-usage=").split("/")
    assert limits.json()["DailyApiRequests"]["Remaining"] == int(allowed) - int(used)
