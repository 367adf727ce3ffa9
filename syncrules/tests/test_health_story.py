"""One record's story, from a scripted history between two memory apps: every kind of decision
the engine records shows on the page, newest first, in words."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from connectors.errors import ConnectorError, ErrorCategory
from syncrules.engine import run_sync
from syncrules.engine.api import resync_deleted
from syncrules.engine.mappings import create_default_mappings
from syncrules.models import LinkStatus, RecordLink, RecordOutcome, Side
from syncrules.tests.factories import make_memory_sync, make_sync
from syncrules.tests.health_helpers import user_in

pytestmark = pytest.mark.django_db
C = "contacts"


def text(html: str) -> str:
    """The story list's text, tags dropped and spaces collapsed."""
    story = html.split('id="story"')[1].split("</ol>")[0]
    return " ".join(re.sub(r"<[^>]+>", " ", story).split())


@pytest.fixture
def history(apps):
    """Ann's life: matched by email, edited on one side, in a conflict, edited far apart, failed
    (transiently), associated with a company, deleted in B and resynced. Bob has no email."""
    ann = apps.a.create(C, email="Ann@Example.com", first="Ann", last="Lee")
    apps.b.create(C, email="ann@example.com", last="Lee")
    apps.a.create(C, first="Bob", last="No-Email")
    sync = make_memory_sync(apps, conflict_winner=Side.B)
    companies = make_sync("companies", connection_a=sync.connection_a, connection_b=sync.connection_b)
    create_default_mappings(companies, apps.a.connector(), apps.b.connector())
    run_sync(sync.pk)
    link = RecordLink.objects.get(object_sync=sync, id_a=ann)
    steps = [
        lambda: apps.a.edit(C, ann, first="Anna"),
        lambda: (apps.a.edit(C, ann, first="Anne"), apps.clock.advance(minutes=2),
                 apps.b.edit(C, link.id_b, first="Annie")),
        lambda: (apps.b.edit(C, link.id_b, first="Annabel"), apps.clock.advance(minutes=10),
                 apps.a.edit(C, ann, first="Annika")),
    ]
    for step in steps:
        apps.clock.advance(minutes=30)
        step()
        run_sync(sync.pk)
    apps.clock.advance(minutes=30)
    apps.a.edit(C, ann, last="Locked")
    apps.b.fail_when = lambda rid, values: ConnectorError(ErrorCategory.RECORD_LOCKED, "UNABLE_TO_LOCK_ROW")
    run_sync(sync.pk)
    apps.b.fail_when = None
    RecordLink.objects.filter(pk=link.pk).update(next_retry_at=timezone.now())
    acme = apps.a.create("companies", name="Acme", domain="acme.example")
    apps.a.associate(C, ann, "companies", acme)
    run_sync(companies.pk)
    run_sync(sync.pk)
    apps.b.remove(C, RecordLink.objects.get(pk=link.pk).id_b)
    # Deletions that do not carry over are read at the sweep interval: every run here.
    sync.options = {"association_sweep_seconds": 0}
    sync.save(update_fields=["options"])
    run_sync(sync.pk)
    resync_deleted(sync.pk, "b")
    return sync, RecordLink.objects.get(pk=link.pk)


def test_the_story_tells_every_decision_newest_first(client, history):
    sync, link = history
    client.force_login(user_in("Support"))
    html = client.get(reverse("health:story", args=[link.pk])).content.decode()
    story = text(html)
    assert "Matched an existing record by email address ann@example.com" in story
    assert "changed in Memory A" in story  # one-sided
    assert "is the conflict winner" in story
    assert "the most recent edit" in story and "the filled value was kept" in story
    assert "Record locked" in story and "UNABLE_TO_LOCK_ROW" in story and "Next retry:" in story
    assert "Associations with companies: added" in story
    assert "Record deleted in the other app" in story
    assert "Resync deleted records (manual)" in story and "set when the record was created in Memory B" in story
    kinds = [o.action for o in RecordOutcome.objects.filter(link=link).order_by("-created_at", "-pk")]
    assert story.index(RecordOutcome.Action(kinds[0]).label) < story.index("Matched an existing record")


def test_the_story_of_an_excluded_record_says_why(client, history):
    sync, _ = history
    bob = RecordLink.objects.get(object_sync=sync, status=LinkStatus.EXCLUDED)
    client.force_login(user_in("Support"))
    story = text(client.get(reverse("health:story", args=[bob.pk])).content.decode())
    assert "Excluded by no email address" in story


def test_the_story_says_when_older_history_was_pruned(client, history):
    sync, link = history
    sync.history_pruned_before = timezone.now()
    sync.save(update_fields=["history_pruned_before"])
    client.force_login(user_in("Support"))
    html = client.get(reverse("health:story", args=[link.pk])).content.decode()
    assert 'id="pruned"' in html and "was pruned" in html


def test_a_malformed_detail_still_renders(client, history):
    _, link = history
    RecordOutcome.objects.filter(link=link).update(details={"changes": "oops", "matched_by": [1],
                                                             "next_retry_at": "2026-13-45T00:00:00"})
    client.force_login(user_in("Support"))
    assert client.get(reverse("health:story", args=[link.pk])).status_code == 200
