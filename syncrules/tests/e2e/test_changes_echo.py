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
