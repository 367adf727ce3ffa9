"""The sandboxes' fault injection (sandbox/faults.py): each fault in each vendor's own shape,
seeded draws, a budget, counters, the /sandbox/faults/ control and sandbox_serve's options."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from sandbox import faults
from sandbox.hubspot import gate
from sandbox.hubspot.seed import ensure_portal
from sandbox.salesforce.seed import seed_org

pytestmark = pytest.mark.django_db
HUBSPOT = "/sandbox/hubspot/crm/v3/objects/contacts"
SALESFORCE = "/sandbox/salesforce/services/data/v60.0/query/"


@pytest.fixture(autouse=True)
def _faults_off():
    faults.configure({})
    gate.reset_rate_limits()
    yield
    faults.configure({})
    gate.reset_rate_limits()


@pytest.fixture
def call():
    portal = ensure_portal(5101, rate_limit_enabled=False)
    org = seed_org("faulty", contacts=3)
    client = Client()

    def send(vendor):
        if vendor == "hubspot":
            return client.get(HUBSPOT, headers={"Authorization": f"Bearer {portal.private_token}"})
        return client.get(SALESFORCE, {"q": "SELECT Id FROM Contact"},
                          headers={"Authorization": f"Bearer {org.access_token}"})

    return send


def body(response):
    return json.loads(b"".join(response.streaming_content) if response.streaming else response.content)


def test_with_no_fault_configured_the_sandboxes_answer_normally_and_count_requests(call):
    assert call("hubspot").status_code == 200 and call("salesforce").status_code == 200
    stats = faults.stats()
    assert stats["requests"] == {"hubspot": 1, "salesforce": 1} and stats["injected_total"] == 0


def test_hubspot_429_has_the_rate_limit_body_with_and_without_retry_after(call):
    faults.configure({"http_429": 1.0})
    plain = call("hubspot")
    faults.configure({"http_429_retry_after": 1.0, "retry_after": 4})
    timed = call("hubspot")
    for response in (plain, timed):
        assert response.status_code == 429
        assert body(response)["policyName"] == "TEN_SECONDLY_ROLLING" and body(response)["category"] == "RATE_LIMITS"
    assert "Retry-After" not in plain and timed["Retry-After"] == "4"


def test_salesforce_throttling_is_its_concurrent_limit_403_never_a_429(call):
    faults.configure({"http_429_retry_after": 1.0})
    response = call("salesforce")
    assert response.status_code == 403 and "Retry-After" not in response
    assert body(response) == [{"message": "ConcurrentPerOrgLongTxn Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]


@pytest.mark.parametrize(("kind", "status", "hubspot_type", "salesforce_type"), [
    ("http_500", 500, "application/json", "application/json"),
    ("http_502", 502, "text/html", "text/html"),
    ("http_503", 503, "application/json", "application/json"),
    ("html_200", 200, "text/html", "text/html"),
])
def test_server_errors_and_html_pages_come_in_each_vendors_shape(call, kind, status, hubspot_type, salesforce_type):
    faults.configure({kind: 1.0})
    hubspot, salesforce = call("hubspot"), call("salesforce")
    assert hubspot.status_code == salesforce.status_code == status
    assert hubspot["Content-Type"].startswith(hubspot_type) and salesforce["Content-Type"].startswith(salesforce_type)
    if hubspot_type == "application/json":
        assert body(hubspot)["status"] == "error"
        assert body(salesforce)[0]["errorCode"] in ("UNKNOWN_EXCEPTION", "SERVER_UNAVAILABLE")


def test_truncated_json_is_half_of_the_real_answer(call):
    whole = call("salesforce").content
    faults.configure({"truncated_json": 1.0})
    cut = call("salesforce")
    assert cut.status_code == 200 and whole.startswith(cut.content) and len(cut.content) == len(whole) // 2
    with pytest.raises(ValueError):
        json.loads(cut.content)


def test_a_reset_sends_half_the_body_under_a_full_content_length(call):
    faults.configure({"reset": 1.0})
    response = call("hubspot")
    sent = b"".join(response.streaming_content)
    assert int(response["Content-Length"]) > len(sent) > 0


def test_timeout_and_slow_hold_the_answer_for_their_configured_time(call, monkeypatch):
    slept = []
    monkeypatch.setattr(faults.time, "sleep", slept.append)
    faults.configure({"timeout": 1.0, "timeout_seconds": 7})
    assert call("hubspot").status_code == 200
    faults.configure({"slow": 1.0, "slow_seconds": 0.25})
    assert call("salesforce").status_code == 200
    assert slept == [7.0, 0.25]


def test_draws_are_seeded_and_the_budget_caps_the_faults(call):
    def pattern():
        faults.configure({"http_503": 0.5, "seed": 11})
        return [call("hubspot").status_code for _ in range(12)]

    first = pattern()
    assert first == pattern() and set(first) == {200, 503}
    faults.configure({"http_503": 1.0, "budget": 2})
    assert [call("hubspot").status_code for _ in range(4)] == [503, 503, 200, 200]
    assert faults.stats()["injected"] == {"hubspot": {"http_503": 2}, "salesforce": {}}


def test_oauth_and_record_pages_are_never_faulted(call):
    faults.configure({"http_500": 1.0})
    response = Client().post("/sandbox/salesforce/services/oauth2/token", {"grant_type": "password"})
    assert response.status_code != 500
    assert faults.stats()["requests"] == {"hubspot": 0, "salesforce": 0}


def test_real_rate_limit_refusals_are_counted_apart_from_injected_ones(call):
    portal = ensure_portal(5101, rate_limit_enabled=True, ten_second_limit=2)
    assert portal.ten_second_limit == 2
    statuses = [call("hubspot").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    stats = faults.stats()
    assert stats["refused_for_limit"]["hubspot"] == 1 and stats["max_requests_per_10s"]["hubspot"] == 3
    assert stats["refused_by_policy"] == {"hubspot": {"TEN_SECONDLY_ROLLING": 1}, "salesforce": {}}
    assert stats["refusals_arrived_in_window"] == [["hubspot", "TEN_SECONDLY_ROLLING", 3]]


def test_injected_rate_limit_answers_are_not_counted_as_real_refusals(call):
    faults.configure({"http_429": 1.0})
    assert {call(vendor).status_code for vendor in ("hubspot", "salesforce")} == {429, 403}
    stats = faults.stats()
    assert stats["refused_for_limit"] == {"hubspot": 0, "salesforce": 0}
    assert stats["refused_by_policy"] == {"hubspot": {}, "salesforce": {}}


@pytest.mark.parametrize("config", [{"http_999": 0.1}, {"http_500": 1.5}, {"http_500": "often"},
                                    {"http_500": 0.6, "http_503": 0.6}, {"slow_seconds": -1}])
def test_bad_configurations_are_refused_with_a_clear_message(config):
    with pytest.raises(faults.FaultConfigError):
        faults.configure(config)
    response = Client().post("/sandbox/faults/", json.dumps(config), content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]


def test_the_control_url_configures_reports_and_clears_faults(call):
    client = Client()
    response = client.post("/sandbox/faults/", json.dumps({"http_502": 1.0}), content_type="application/json")
    assert response.status_code == 200 and response.json()["config"]["http_502"] == 1.0
    assert call("hubspot").status_code == 502
    assert client.get("/sandbox/faults/").json()["injected"]["hubspot"] == {"http_502": 1}
    assert client.post("/sandbox/faults/", b"[1]", content_type="application/json").status_code == 400
    paused = client.post("/sandbox/faults/?keep_counters=1", b"{}", content_type="application/json").json()
    assert paused["injected"]["hubspot"] == {"http_502": 1} and call("hubspot").status_code == 200
    assert client.delete("/sandbox/faults/").json()["injected_total"] == 0
    assert call("hubspot").status_code == 200


def test_settings_turn_faults_on(call, settings):
    settings.SANDBOX_FAULTS = {"http_500": 1.0}
    faults._state.loaded = False
    assert call("salesforce").status_code == 500


def test_sandbox_serve_options_configure_the_faults_before_serving(monkeypatch):
    served = []
    monkeypatch.setattr("sandbox.management.commands.sandbox_serve.run", lambda *a, **k: served.append(a))
    call_command("sandbox_serve", "--all-faults", "0.01", "--fault", "http_503=0.05", "--fault-seed", "3",
                 "--timeout-seconds", "2", stdout=open("/dev/null", "w"))
    config = faults.stats()["config"]
    assert served and config["http_503"] == 0.05 and config["reset"] == 0.01
    assert config["seed"] == 3 and config["timeout_seconds"] == 2.0
    for bad in (["--fault", "nope=0.1"], ["--fault", "http_500"], ["--fault", "http_500=x"], ["--all-faults", "0.2"]):
        with pytest.raises(CommandError):
            call_command("sandbox_serve", *bad, stdout=open("/dev/null", "w"))


def test_a_spent_salesforce_allocation_is_counted_as_a_real_refusal_by_its_error_code():
    org = seed_org("spent", contacts=1, api_max=2)
    client = Client()
    statuses = [client.get(SALESFORCE, {"q": "SELECT Id FROM Contact"},
                           headers={"Authorization": f"Bearer {org.access_token}"}).status_code for _ in range(4)]
    assert statuses[-1] == 403
    stats = faults.stats()
    assert stats["refused_for_limit"]["salesforce"] == statuses.count(403)
    assert stats["refused_by_policy"]["salesforce"] == {"REQUEST_LIMIT_EXCEEDED": statuses.count(403)}


def test_hubspot_searches_are_counted_per_second_apart_from_the_ten_second_window(monkeypatch):
    monkeypatch.setattr(faults, "_clock", lambda: 100.0)  # every request in the same instant
    portal = ensure_portal(5102, rate_limit_enabled=False)
    client = Client()
    auth = {"Authorization": f"Bearer {portal.private_token}"}
    for _ in range(3):
        client.post("/sandbox/hubspot/crm/v3/objects/contacts/search", "{}", content_type="application/json",
                    headers=auth)
    client.get(HUBSPOT, headers=auth)
    stats = faults.stats()
    assert stats["requests"]["hubspot"] == 4
    assert stats["max_searches_per_1s"] == {"hubspot": 3}
    assert stats["max_requests_per_10s"]["hubspot"] == 1


@pytest.fixture
def now(monkeypatch):
    """The gate's clock held at 1,000 s; the requests arrived just before (served late)."""
    monkeypatch.setattr(gate, "time", SimpleNamespace(monotonic=lambda: 1000.0, sleep=time.sleep))
    return 1000.0 - 1.5


def test_hubspot_rate_limits_count_a_request_at_its_arrival_not_when_the_server_gets_to_it(now):
    assert [gate._take((1, "search"), 2, 1.0, now + t)[0] for t in (0.5, 0.0, 1.2)] == [True, True, True]
    gate.reset_rate_limits()
    assert [gate._take((1, "search"), 2, 1.0, now + t)[0] for t in (0.0, 0.6, 0.5)] == [True, True, False]


def test_a_late_served_request_is_refused_when_a_window_holding_its_arrival_is_full(now):
    assert all(gate._take((1, "search"), 5, 1.0, now + t)[0] for t in (0.0, 0.2, 0.4, 0.6, 0.8, 1.05))
    allowed, remaining, wait = gate._take((1, "search"), 5, 1.0, now + 0.9)  # [0.2, 1.2) holds 5 already
    assert (allowed, remaining) == (False, 0) and 0 < wait <= 1.0
