"""Rate limits, retries and bad input: never over the portal's limit, 429 and 5xx retried,
and every failure (HTML, malformed JSON, timeouts, dropped connections) categorized."""

from __future__ import annotations

import pytest

from connectors.errors import ConnectorError, ErrorCategory
from sandbox.hubspot.models import Portal
from sandbox.hubspot.seed import seed_records

pytestmark = pytest.mark.django_db(transaction=True)


def _limited(portal):
    return Portal.objects.get(pk=portal.pk).rate_limited_count


def test_it_never_sends_a_request_over_the_portals_limits(make_portal, connect):
    portal = make_portal(rate_limit_enabled=True, ten_second_limit=6, interval_ms=1000, search_per_second=3)
    seed_records(portal, contacts=40)
    conn = connect(portal, client_rate_limit=True, search_per_second=3, search_page_size=10, page_records=10)
    records = [r for page in conn.read_changes("contacts") for r in page.records]
    ids = [r.id for r in records]
    assert len(conn.read("contacts", ids)) == 40
    conn.write("contacts", updates={i: {"jobtitle": "x"} for i in ids[:12]})
    assert len(records) == 40
    assert conn.client.calls > 12  # enough calls to have crossed both limits several times
    assert _limited(portal) == 0


def test_it_backs_off_and_retries_when_the_portal_answers_429(make_portal, connect):
    portal = make_portal(rate_limit_enabled=True, ten_second_limit=3, interval_ms=1000)
    conn = connect(portal, client_rate_limit=False)
    for _ in range(8):
        assert conn.pipelines("deals")
    assert _limited(portal) > 0
    assert conn.client.http.retries == _limited(portal)


def test_it_honours_retry_after_on_injected_429s(portal, hubspot):
    Portal.objects.filter(pk=portal.pk).update(faults={"error_429": 1.0, "retry_after": 1}, fault_budget=2)
    assert hubspot.pipelines("deals")
    assert hubspot.client.http.retries == 2


def test_it_retries_server_errors_and_dropped_connections(portal, hubspot):
    Portal.objects.filter(pk=portal.pk).update(faults={"error_500": 0.5, "drop": 0.5}, fault_budget=3)
    assert hubspot.pipelines("deals")
    assert hubspot.client.http.retries == 3


def test_it_gives_up_with_app_unavailable_when_errors_persist(portal, connect):
    Portal.objects.filter(pk=portal.pk).update(faults={"error_500": 1.0})
    conn = connect(portal, max_attempts=2)
    with pytest.raises(ConnectorError) as info:
        conn.pipelines("deals")
    assert info.value.category is ErrorCategory.APP_UNAVAILABLE
    assert "injected" in info.value.message


def test_it_reports_an_html_error_page_as_app_unavailable(portal, connect):
    Portal.objects.filter(pk=portal.pk).update(faults={"html": 1.0})
    conn = connect(portal, max_attempts=1)
    with pytest.raises(ConnectorError) as info:
        conn.fields("contacts")
    assert info.value.category is ErrorCategory.APP_UNAVAILABLE
    assert "HTML page" in info.value.message


def test_it_reports_malformed_json_as_a_malformed_response(portal, connect):
    # A read is fetched again after an unreadable answer; one that stays unreadable is reported.
    Portal.objects.filter(pk=portal.pk).update(faults={"bad_json": 1.0}, fault_budget=2)
    conn = connect(portal, max_attempts=2)
    conn.client.http.sleep = lambda seconds: None
    with pytest.raises(ConnectorError) as info:
        conn.pipelines("deals")
    assert info.value.category is ErrorCategory.MALFORMED_RESPONSE
    assert info.value.category.transient


def test_it_retries_after_a_timeout(portal, connect):
    Portal.objects.filter(pk=portal.pk).update(faults={"slow": 1.0, "slow_seconds": 1.5}, fault_budget=1)
    conn = connect(portal, read_timeout=0.5)
    assert conn.pipelines("deals")
    assert conn.client.http.retries == 1


def test_it_reports_a_persistent_timeout_as_app_unavailable(portal, connect):
    Portal.objects.filter(pk=portal.pk).update(faults={"slow": 1.0, "slow_seconds": 1.0}, fault_budget=2)
    conn = connect(portal, read_timeout=0.3, max_attempts=2)
    with pytest.raises(ConnectorError) as info:
        conn.pipelines("deals")
    assert info.value.category is ErrorCategory.APP_UNAVAILABLE
    assert "timed out" in info.value.message


def test_it_reports_an_unreachable_app_as_app_unavailable(connect, portal):
    from connectors.hubspot.connector import HubSpotConnector

    conn = HubSpotConnector("http://127.0.0.1:9/sandbox/hubspot", {"access_token": "x"},
                            options={"max_attempts": 1, "client_rate_limit": False})
    with pytest.raises(ConnectorError) as info:
        conn.pipelines("deals")
    assert info.value.category is ErrorCategory.APP_UNAVAILABLE


def test_it_retries_after_a_dropped_connection(portal, hubspot):
    Portal.objects.filter(pk=portal.pk).update(faults={"drop": 1.0}, fault_budget=1)
    assert hubspot.pipelines("deals")
    assert hubspot.client.http.retries == 1
