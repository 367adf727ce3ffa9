"""Authentication, scopes, rate limits and injected faults, as HubSpot answers them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from sandbox.hubspot.models import AccessToken, OAuthApp, OAuthGrant, Portal
from sandbox.hubspot.seed import ensure_portal

pytestmark = pytest.mark.django_db
LIST = "/crm/v3/objects/contacts"


def test_it_answers_401_invalid_authentication_for_an_unknown_token(api):
    response = api("GET", LIST, token="pat-na1-nope")
    assert response.status_code == 401
    assert response.data["category"] == "INVALID_AUTHENTICATION"


def test_it_answers_401_expired_authentication_for_an_expired_oauth_token(api, portal):
    grant = OAuthGrant.objects.create(refresh_token="r", app=OAuthApp.objects.create(client_id="c"), portal=portal,
                                      scopes=["crm.objects.contacts.read"])
    AccessToken.objects.create(token="old", grant=grant, expires_at=timezone.now() - timedelta(minutes=3))
    response = api("GET", LIST, token="old")
    assert response.status_code == 401
    assert response.data["category"] == "EXPIRED_AUTHENTICATION"
    assert "expired" in response.data["message"]


def test_it_answers_403_missing_scopes_naming_the_scope(api, portal):
    Portal.objects.filter(pk=portal.pk).update(scopes=["crm.objects.companies.read"])
    response = api("GET", LIST)
    assert response.status_code == 403
    assert response.data["category"] == "MISSING_SCOPES"
    assert response.data["errors"][0]["context"]["requiredGranularScopes"] == ["crm.objects.contacts.read"]
    assert api("GET", "/crm/v3/objects/companies").status_code == 200


def test_it_limits_ten_secondly_with_hubspots_429_and_headers(api, portal):
    Portal.objects.filter(pk=portal.pk).update(rate_limit_enabled=True, ten_second_limit=3)
    ok = [api("GET", LIST) for _ in range(3)]
    limited = api("GET", LIST)
    assert [r.status_code for r in ok] == [200, 200, 200]
    assert ok[0]["X-HubSpot-RateLimit-Max"] == "3"
    assert ok[0]["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert ok[2]["X-HubSpot-RateLimit-Remaining"] == "0"
    assert "X-HubSpot-RateLimit-Daily-Remaining" in ok[0]
    assert limited.status_code == 429
    assert limited.data["policyName"] == "TEN_SECONDLY_ROLLING"
    assert limited.data["errorType"] == "RATE_LIMIT"
    assert Portal.objects.get(pk=portal.pk).rate_limited_count == 1


def test_it_limits_search_per_second_without_rate_limit_headers(api, portal):
    Portal.objects.filter(pk=portal.pk).update(rate_limit_enabled=True, search_per_second=2)
    responses = [api("POST", f"{LIST}/search", {}) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert responses[2].data["policyName"] == "SECONDLY"
    assert "X-HubSpot-RateLimit-Max" not in responses[0]


def test_it_keeps_each_portals_limit_separate(api, client, portal):
    from sandbox.hubspot.tests.conftest import Api

    Portal.objects.filter(pk=portal.pk).update(rate_limit_enabled=True, ten_second_limit=1)
    other = Api(client, ensure_portal(5003, ten_second_limit=1).private_token)
    assert api("GET", LIST).status_code == 200
    assert other("GET", LIST).status_code == 200
    assert api("GET", LIST).status_code == 429


@pytest.mark.parametrize(("fault", "status", "ctype"), [
    ("error_500", 500, "application/json"),
    ("error_429", 429, "application/json"),
    ("html", 502, "text/html"),
])
def test_it_injects_faults_within_the_budget(api, portal, fault, status, ctype):
    Portal.objects.filter(pk=portal.pk).update(faults={fault: 1.0}, fault_budget=1)
    faulty, healthy = api("GET", LIST), api("GET", LIST)
    assert faulty.status_code == status
    assert faulty["Content-Type"].startswith(ctype)
    assert healthy.status_code == 200


def test_it_can_send_a_truncated_json_body(client, portal):
    Portal.objects.filter(pk=portal.pk).update(faults={"bad_json": 1.0}, fault_budget=1)
    response = client.get(f"/sandbox/hubspot{LIST}", headers={"Authorization": f"Bearer {portal.private_token}"})
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()
