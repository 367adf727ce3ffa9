"""Each fault the sandboxes inject (sandbox/faults.py), met by each connector over real HTTP:
transient faults are retried with backoff and the call succeeds; a write whose answer was lost is
not resent (it may have been carried out) and fails with a transient, categorized error; nothing
is lost and nothing is created twice."""

from __future__ import annotations

import pytest

from connectors.errors import ConnectorError, ErrorCategory
from sandbox import faults

pytestmark = pytest.mark.django_db(transaction=True)

RETRIED = ("http_429", "http_429_retry_after", "http_500", "http_502", "http_503", "timeout", "reset",
           "html_200", "truncated_json")
ANSWER_LOST = ("timeout", "reset", "truncated_json")  # served, then the answer did not arrive whole
REFUSED = ("http_429", "http_429_retry_after", "http_500", "http_502", "http_503", "html_200")


@pytest.fixture(autouse=True)
def _faults_off():
    faults.configure({})
    yield
    faults.configure({})


@pytest.fixture
def connector(pair):
    """A connector of one vendor's sandbox (5 contacts), with short timeouts and waits recorded."""

    def make(vendor):
        hubspot, salesforce = pair(contacts=5, sf_contacts=5)
        connection = hubspot if vendor == "hubspot" else salesforce
        # The faults' timeout holds the answer 1 s; the clients give up after 0.5 s.
        connection.options = {**connection.options, "read_timeout": 0.5, "timeout": 0.5, "backoff_base": 0.01}
        connection.save()
        built = connection.connector()
        built.waits = []
        built.client.http.sleep = built.waits.append
        return built

    return make


def inject_once(kind):
    faults.configure({kind: 1.0, "budget": 1, "timeout_seconds": 1.0, "slow_seconds": 0.05, "retry_after": 3})


def contacts(connector):
    return [r for page in connector.read_changes("contacts", None) for r in page.records]


def new_contact(vendor, email):
    return {"email": email, "lastname": "New"} if vendor == "hubspot" else {"Email": email, "LastName": "New"}


def copies(connector, email):
    return sum(1 for r in contacts(connector) if (r.values.get("email") or r.values.get("Email")) == email)


@pytest.mark.parametrize("vendor", ["hubspot", "salesforce"])
@pytest.mark.parametrize("kind", [*RETRIED, "slow"])
def test_a_read_meeting_one_fault_is_retried_and_reads_every_record(connector, vendor, kind):
    app = connector(vendor)
    inject_once(kind)
    assert len(contacts(app)) == 5
    assert faults.stats()["injected"][vendor] == {kind: 1}
    assert (len(app.waits) >= 1) == (kind != "slow")  # a slow answer is waited for, not retried


def test_hubspot_429_waits_for_its_retry_after_or_else_one_ten_second_window(connector):
    app = connector("hubspot")
    inject_once("http_429_retry_after")
    contacts(app)
    inject_once("http_429")
    contacts(app)
    assert app.waits == [3.0, 10.0]


def test_salesforce_concurrent_request_limit_is_retried_and_does_not_stop_the_connection(connector):
    """Salesforce has no 429: too many long requests at once is a 403 REQUEST_LIMIT_EXCEEDED that
    passes in seconds, unlike the daily allocation, which stops the connection."""
    app = connector("salesforce")
    inject_once("http_429")
    assert len(contacts(app)) == 5
    assert app.client.budget.exhausted is False
    app.write("contacts", creates=[new_contact("salesforce", "after@example.com")])
    assert copies(app, "after@example.com") == 1


@pytest.mark.parametrize("vendor", ["hubspot", "salesforce"])
@pytest.mark.parametrize("kind", REFUSED)
def test_a_create_refused_once_is_retried_and_made_once(connector, vendor, kind):
    app = connector(vendor)
    contacts(app)  # describe and field metadata fetched: the fault lands on the create itself
    inject_once(kind)
    email = f"{kind}@example.com"
    try:
        results = app.write("contacts", creates=[new_contact(vendor, email)])
    except ConnectorError as exc:
        # An HTML page with status 200 is unreadable, so the create is not known to have failed.
        assert kind == "html_200" and exc.category is ErrorCategory.MALFORMED_RESPONSE
        assert copies(app, email) == 0
        return
    assert results[0].ok
    assert copies(app, email) == 1


@pytest.mark.parametrize("vendor", ["hubspot", "salesforce"])
@pytest.mark.parametrize("kind", ANSWER_LOST)
def test_a_create_whose_answer_was_lost_is_not_resent_and_fails_as_transient(connector, vendor, kind):
    app = connector(vendor)
    contacts(app)
    inject_once(kind)
    email = f"{kind}@example.com"
    with pytest.raises(ConnectorError) as raised:
        app.write("contacts", creates=[new_contact(vendor, email)])
    assert raised.value.category.transient
    assert raised.value.category in (ErrorCategory.APP_UNAVAILABLE, ErrorCategory.MALFORMED_RESPONSE)
    assert copies(app, email) == 1  # carried out once; the next run finds it by its email


@pytest.mark.parametrize("vendor", ["hubspot", "salesforce"])
def test_an_update_whose_answer_was_lost_is_resent(connector, vendor):
    app = connector(vendor)
    first = contacts(app)[0]
    field = "lastname" if vendor == "hubspot" else "LastName"
    inject_once("timeout")
    results = app.write("contacts", updates={first.id: {field: "Resent"}})
    assert results[0].ok
    assert next(r for r in contacts(app) if r.id == first.id).values[field] == "Resent"


@pytest.mark.parametrize("vendor", ["hubspot", "salesforce"])
def test_a_fault_on_every_request_ends_in_a_categorized_error_not_a_crash(connector, vendor):
    app = connector(vendor)
    faults.configure({"http_503": 1.0})
    with pytest.raises(ConnectorError) as raised:
        contacts(app)
    assert raised.value.category is ErrorCategory.APP_UNAVAILABLE
    assert faults.stats()["injected"][vendor]["http_503"] == app.client.http.max_attempts
