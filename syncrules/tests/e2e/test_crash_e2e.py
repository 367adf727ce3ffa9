"""End to end over real HTTP, with the sandboxes injecting faults: a contact sync whose worker is
killed after the app applied a write, then while saving links, then at a cursor, converges on
the next runs with every email once on each side and the edits made in between carried."""

from __future__ import annotations

from collections import Counter

import pytest

from connectors.base import CONTACTS
from connectors.hubspot.connector import HubSpotConnector
from connectors.salesforce.connector import SalesforceConnector
from sandbox import faults
from syncrules.engine.filters import is_valid_email, normalize_email
from syncrules.models import LinkStatus, RecordLink
from syncrules.tests.e2e.helpers import every, new_sync
from syncrules.tests.test_crash import Kill, boundaries, killed_run, run_until_quiet  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db(transaction=True)

# Every fault but the timeout (it holds a server thread for seconds) and HubSpot's 429 without Retry-After
# (its client waits a whole 10-second window: see test_faults.py), each on 2% of requests.
FAULTS = {kind: 0.02 for kind in faults.KINDS if kind not in ("timeout", "http_429")} | {"seed": 12, "slow_seconds": 0.05,
                                                                       "retry_after": 0}


@pytest.fixture(autouse=True)
def _faults():
    faults.configure(FAULTS)
    yield
    faults.configure({})


@pytest.fixture
def killing_connectors(monkeypatch, boundaries):  # noqa: F811 (the fixture imported above)
    """The real connectors' writes become a boundary too (applied by the app, then killed)."""
    for cls in (HubSpotConnector, SalesforceConnector):
        original = cls.write

        def write(self, *args, _original=original, **kwargs):
            results = _original(self, *args, **kwargs)
            boundaries.kill.cross("app write")
            return results

        monkeypatch.setattr(cls, "write", write)

    def arm(kill):
        boundaries.kill = boundaries(kill)
        return kill

    boundaries.kill = boundaries(Kill())
    return arm


def email_counts(connection, field):
    values = (r.values.get(field) for r in every(connection, CONTACTS).values())
    return Counter(normalize_email(v) for v in values if is_valid_email(v))


def test_a_contact_sync_killed_three_times_under_faults_converges(pair, killing_connectors, monkeypatch):
    hubspot, salesforce = pair(contacts=14, sf_contacts=10)
    for connection in (hubspot, salesforce):
        connection.options = {**connection.options, "backoff_base": 0.01, "max_attempts": 8}
        connection.save()
    sync = new_sync(hubspot, salesforce, CONTACTS)
    before = {"hubspot": email_counts(hubspot, "email"), "salesforce": email_counts(salesforce, "Email")}

    killed_run(sync, killing_connectors(Kill("app write", 1)), monkeypatch)
    killed_run(sync, killing_connectors(Kill("link save", 2)), monkeypatch)
    faults.configure({})  # people's edits in between go through
    edited, email = next((rid, normalize_email(r.values["email"])) for rid, r in sorted(every(hubspot, CONTACTS).items())
                         if is_valid_email(r.values.get("email"))
                         and before["hubspot"][normalize_email(r.values["email"])] == 1
                         and before["salesforce"][normalize_email(r.values["email"])] <= 1)
    hubspot.connector().write(CONTACTS, updates={edited: {"jobtitle": "Edited between kills"}})
    faults.configure(FAULTS)
    killed_run(sync, killing_connectors(Kill("cursor save", 1)), monkeypatch)
    killing_connectors(Kill())
    faults.configure({})  # the final quiet runs, as after the faults pass
    run_until_quiet(sync, runs=8)

    on_hubspot, on_salesforce = email_counts(hubspot, "email"), email_counts(salesforce, "Email")
    assert set(on_hubspot) == set(on_salesforce) == set(before["hubspot"]) | set(before["salesforce"])
    for side, counts in (("hubspot", on_hubspot), ("salesforce", on_salesforce)):
        # Nothing made twice: an email the app held n times before (seeded duplicates) it holds
        # n times still, and one it lacked it holds once.
        assert all(n == max(1, before[side][email]) for email, n in counts.items()), side
    assert not RecordLink.objects.filter(object_sync=sync, status=LinkStatus.FAILING).exclude(
        error_category="duplicate_record").exists()
    twin = next(r for r in every(salesforce, CONTACTS).values() if normalize_email(r.values.get("Email")) == email)
    assert twin.values["Title"] == "Edited between kills"
    assert RecordLink.objects.get(object_sync=sync, id_a=edited).id_b == twin.id
