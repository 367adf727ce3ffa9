"""Sessions, OAuth, the daily allocation, Sforce-Limit-Info, fault injection and seeding."""

import io

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from sandbox.salesforce.models import Org, Record, Token
from sandbox.salesforce.tests.conftest import BASE, DATA, Api


def test_every_api_response_carries_sforce_limit_info(api, org):
    for path in ("limits/", "sobjects/Contact/describe", "sobjects/Contact/003000000000000AAA"):
        _, _, response = api.get(path)
        assert response["Sforce-Limit-Info"].startswith("api-usage=")
    _, limits, response = api.get("limits")
    assert response["Sforce-Limit-Info"] == "api-usage=4/15000"
    assert limits["DailyApiRequests"] == {"Max": 15000, "Remaining": 15000 - 4}


def test_a_missing_or_expired_session_is_401_invalid_session_id(api, org):
    status, body, _ = Api("nope").get("limits")
    assert status == 401 and body == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]
    Token.objects.filter(value=org.access_token).update(expires_at=timezone.now())
    assert api.get("limits")[1][0]["errorCode"] == "INVALID_SESSION_ID"


def test_the_spent_daily_allocation_is_403_request_limit_exceeded(api, org):
    Org.objects.filter(pk=org.org.pk).update(api_max=2, api_used=1)
    assert api.get("limits")[0] == 200
    status, body, response = api.get("limits")
    assert status == 403 and body[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert response["Sforce-Limit-Info"] == "api-usage=2/2"


def test_the_refresh_token_grant_issues_a_new_session(org):
    client = Client()
    o = org.org
    response = client.post(
        f"{BASE}/services/oauth2/token",
        {
            "grant_type": "refresh_token",
            "refresh_token": org.refresh_token,
            "client_id": o.client_id,
            "client_secret": o.client_secret,
        },
    )
    body = response.json()
    assert response.status_code == 200 and "refresh_token" not in body
    assert body["token_type"] == "Bearer" and body["instance_url"].endswith("/sandbox/salesforce")
    assert "expires_in" not in body and body["issued_at"].isdigit()
    assert Api(body["access_token"]).get("limits")[0] == 200


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"grant_type": "refresh_token", "refresh_token": "nope"}, "invalid_grant"),
        ({"grant_type": "authorization_code", "code": "nope", "client_secret": "wrong"}, "invalid_client"),
        ({"grant_type": "authorization_code", "code": "nope"}, "invalid_grant"),
        ({"grant_type": "password"}, "unsupported_grant_type"),
    ],
)
def test_the_token_endpoint_refuses_bad_grants_with_oauth_errors(org, form, error):
    data = {"client_id": org.org.client_id, "client_secret": org.org.client_secret, **form}
    response = Client().post(f"{BASE}/services/oauth2/token", data)
    assert response.status_code == 400 and response.json()["error"] == error


def test_the_authorize_page_redirects_with_a_code_or_a_denial(org):
    client = Client()
    params = {
        "response_type": "code",
        "client_id": org.org.client_id,
        "redirect_uri": "https://app/cb",
        "state": "s1",
    }
    page = client.get(f"{BASE}/services/oauth2/authorize", params)
    assert page.status_code == 200 and org.org.name in page.content.decode()
    allowed = client.post(f"{BASE}/services/oauth2/authorize", {**params, "decision": "allow"})
    assert allowed.status_code == 302 and "code=" in allowed["Location"] and "state=s1" in allowed["Location"]
    denied = client.post(f"{BASE}/services/oauth2/authorize", {**params, "decision": "deny"})
    assert "error=access_denied" in denied["Location"]
    assert client.get(f"{BASE}/services/oauth2/authorize", {**params, "client_id": "x"}).status_code == 400


def test_fault_injection_gives_500s_and_row_locks(api, org):
    Org.objects.filter(pk=org.org.pk).update(fault_500_share=1.0)
    status, body, _ = api.get("limits")
    assert status == 500 and body[0]["errorCode"] == "UNKNOWN_EXCEPTION"
    Org.objects.filter(pk=org.org.pk).update(fault_500_share=0, fault_lock_share=1.0)
    status, body, _ = api.call("POST", "sobjects/Account", {"Name": "Locked"})
    assert status == 400 and body[0]["errorCode"] == "UNABLE_TO_LOCK_ROW"


def test_unknown_resources_and_methods_get_salesforce_errors(api):
    status, body, _ = api.get("nothing/here")
    assert status == 404 and body[0]["errorCode"] == "NOT_FOUND"
    status, body, _ = api.call("PUT", "sobjects/Contact/003000000000000AAA", {})
    assert status == 405 and body[0]["errorCode"] == "METHOD_NOT_ALLOWED"
    assert Client().get(f"{BASE}/services/data/").json()[0]["version"] == "60.0"
    status, body, _ = api.call(
        "POST", "sobjects/Contact", None, data="{not json", content_type="application/json"
    )
    assert status == 400 and body[0]["errorCode"] == "JSON_PARSER_ERROR"


def test_the_seed_command_creates_an_independent_org(db):
    call_command(
        "sandbox_seed",
        "salesforce",
        "--org",
        "demo",
        "--contacts",
        "7",
        "--accounts",
        "2",
        "--opportunities",
        "3",
        "--record-types",
        "2",
        stdout=io.StringIO(),
    )
    org = Org.objects.get(name="demo")
    assert Record.objects.filter(org=org, sobject="Contact").count() == 7
    assert Record.objects.filter(org=org, sobject="RecordType").count() == 2
    assert Token.objects.filter(org=org, kind=Token.Kind.REFRESH).exists()
    assert DATA.startswith(BASE)


def test_orgs_and_their_faults_are_listed_in_the_admin(admin_client, org):
    response = admin_client.get("/admin/sandbox_salesforce/org/")
    assert response.status_code == 200
    assert org.org.name in response.content.decode()


def test_a_failure_inside_the_sandbox_answers_like_salesforces_500(api, monkeypatch):
    from sandbox.salesforce import store

    def broken(self, org):
        raise RuntimeError("sandbox bug")

    monkeypatch.setattr(store.OrgMeta, "__init__", broken)
    status, body, response = api.get("sobjects/Contact/describe")
    assert status == 500 and body[0]["errorCode"] == "UNKNOWN_EXCEPTION"
    assert response["Content-Type"] == "application/json"
