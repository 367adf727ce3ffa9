"""Against the sandboxes: a triggered run's writes come back (the Salesforce poll sees their new
SystemModstamp, HubSpot sends their webhooks) and queue no run; a user's edit of the same record
right after still does."""

from __future__ import annotations

import time

import pytest

from syncrules.engine import run_sync
from syncrules.models import RecordLink
from syncrules.tests.e2e.helpers import new_sync
from syncrules.tests.e2e.test_changes_in_seconds import _into_the_next_second, deliver_webhooks
from syncrules.webhooks import debounce, polling
from syncrules.webhooks.models import SyncTrigger

pytestmark = pytest.mark.django_db(transaction=True)


def _until(condition, what: str) -> None:
    for _ in range(150):  # the sandbox delivers webhooks from a background thread
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"waited 15 s for {what}")


def _events(sync) -> int:
    return SyncTrigger.objects.filter(pk=sync.pk).values_list("webhook_events", flat=True).first() or 0


def test_our_writes_read_back_queue_no_run_and_a_user_edit_right_after_does(pair, queued, live_server):
    hubspot, salesforce = pair(contacts=3)
    sync = new_sync(hubspot, salesforce, "contacts")
    run_sync(sync.pk, initial=True)
    hubspot = deliver_webhooks(hubspot, live_server)
    # A linked pair (the seeded portal's data follows its hub id: some contact may be excluded).
    hs_id, sf_id = RecordLink.objects.filter(object_sync=sync, id_b__isnull=False).values_list("id_a", "id_b").first()
    assert polling.poll_once() == []  # the poll starts where the sync's cursor stands

    # A user edits HubSpot: the triggered run writes Salesforce (in a second the poll has not
    # seen yet, or the poll would not look at it at all), and the poll sees only our write.
    _into_the_next_second()
    hubspot.connector().write("contacts", [], {hs_id: {"lastname": "FromHubSpot"}})
    _until(lambda: queued == [sync.pk], "the webhook of the HubSpot edit")
    assert debounce.run_triggered(sync.pk) is not None
    assert polling.poll_once() == [] and queued == [sync.pk]

    # A user edits the same Salesforce record right after (the next second): a change.
    _into_the_next_second()
    salesforce.connector().write("contacts", [], {sf_id: {"LastName": "FromSalesforce"}})
    assert polling.poll_once() == [sync.pk] and queued == [sync.pk, sync.pk]

    # Its run writes HubSpot; that write's webhooks arrive and queue nothing.
    events = _events(sync)
    assert debounce.run_triggered(sync.pk) is not None
    _until(lambda: _events(sync) > events, "the webhooks of our own HubSpot write")
    assert queued == [sync.pk, sync.pk]

    # A user edits the same HubSpot record right after ours: a change.
    hubspot.connector().write("contacts", [], {hs_id: {"lastname": "HubSpotAgain"}})
    _until(lambda: len(queued) == 3, "the webhook of the second HubSpot edit")
    assert queued == [sync.pk] * 3


def test_a_runs_own_association_writes_come_back_as_webhooks_and_queue_no_run(pair, queued, live_server, monkeypatch):
    from connectors.base import COMPANIES, CONTACTS
    from sandbox.hubspot import webhooks as sandbox_webhooks

    hubspot, salesforce = pair(sf_accounts=2, sf_contacts=4, contact_account_share=1.0)
    companies, contacts = new_sync(hubspot, salesforce, COMPANIES), new_sync(hubspot, salesforce, CONTACTS)
    run_sync(companies.pk, initial=True)
    run_sync(contacts.pk, initial=True)
    hubspot = deliver_webhooks(hubspot, live_server)
    link = RecordLink.objects.filter(object_sync=contacts, id_a__isnull=False, id_b__isnull=False).first()
    held = link.associations[COMPANIES]
    other = RecordLink.objects.filter(object_sync=companies).exclude(
        id_a__in=[key.split("|")[0] for key in held]).first()
    assert len(held) == 1 and other is not None

    # A user moves the contact to the other account in Salesforce; the run writes HubSpot's
    # association (the new company added, the old one removed): its webhooks queue nothing.
    assert salesforce.connector().write(CONTACTS, [], {link.id_b: {"AccountId": other.id_b}})[0].ok
    events = _events(contacts)
    # HubSpot delivers webhooks seconds after the change; the sandbox within 50 ms, which can
    # beat the run's save of the link (that race costs one run more). Hold them until the run ends.
    held_events = []
    with monkeypatch.context() as patch:
        patch.setattr(sandbox_webhooks, "_enqueue", lambda target, event: held_events.append((target, event)))
        run = run_sync(contacts.pk)
    for target, event in held_events:
        sandbox_webhooks._enqueue(target, event)
    assert run.associated >= 1, run.error
    link.refresh_from_db()
    assert link.associations[COMPANIES] == [f"{other.id_a}|{other.id_b}"]
    _until(lambda: _events(contacts) >= events + 2, "the webhooks of our association write")
    time.sleep(0.5)  # the other direction's events, if any still travel
    assert queued == []

    # A user associates the contact with its old company again in HubSpot: a change.
    old = held[0].split("|")[0]
    assert hubspot.connector().write_associations(CONTACTS, COMPANIES, [(link.id_a, old)])[0].ok
    _until(lambda: queued == [contacts.pk], "the webhook of the user's association")
