"""The dependency rules of associations (issue 12): an associated record that cannot sync until
someone acts does not hold a record back; one that is still on its way makes it wait, with one
outcome when the wait starts and one when it ends."""

from __future__ import annotations

import pytest
from django.utils import timezone

from connectors.base import COMPANIES, CONTACTS
from connectors.errors import ConnectorError, ErrorCategory
from syncrules.engine.api import wake_dependents
from syncrules.models import LinkStatus, RecordLink, RecordOutcome
from syncrules.tests.test_engine_deals import make_world

pytestmark = pytest.mark.django_db
DUPLICATE = ConnectorError(ErrorCategory.DUPLICATE_RECORD, "A company named Acme already exists")
LOCKED = ConnectorError(ErrorCategory.RECORD_LOCKED, "The company is locked")


def refuse_companies(world, error):
    world.apps.b.fail_when = lambda record_id, values: error if "sf_name" in values else None


def contact_link(world, contact):
    return RecordLink.objects.get(object_sync=world.syncs[CONTACTS], id_a=contact)


def outcomes(link):
    return list(RecordOutcome.objects.filter(link=link).order_by("created_at", "pk"))


def test_a_contact_whose_company_failed_permanently_syncs_its_fields_and_carries_the_reason(memory_connections):
    world = make_world()
    refuse_companies(world, DUPLICATE)
    acme = world.company("a", "Acme")
    ann = world.contact("a", "ann@acme.example", acme)
    runs = world.run(COMPANIES, CONTACTS)
    link = contact_link(world, ann)
    assert link.status == LinkStatus.IN_SYNC and link.id_b and link.error_category == ""
    assert world.apps.b.get(CONTACTS, link.id_b, "email") == "ann@acme.example"
    assert runs[CONTACTS].failed == 0 and runs[CONTACTS].waiting == 0 and runs[CONTACTS].warned == 1
    assert link.has_warnings
    [warning] = link.warnings
    assert warning["reason"] == "company Acme (acme.example) could not sync: Duplicate record - fix it there"
    assert warning["association"] == COMPANIES and warning["id"] == acme and warning["side"] == "b"
    told = [o for o in outcomes(link) if o.warnings]
    assert len(told) == 1 and told[0].message == "Not associated: company Acme (acme.example) could not sync: Duplicate record - fix it there."
    assert world.apps.b.associations(CONTACTS, link.id_b, COMPANIES) == []


def test_a_permanent_dependency_failure_is_told_once_not_at_every_run(memory_connections):
    world = make_world()
    refuse_companies(world, DUPLICATE)
    acme = world.company("a", "Acme")
    ann = world.contact("a", "ann@acme.example", acme)
    world.run(COMPANIES, CONTACTS)
    link = contact_link(world, ann)
    before = len(outcomes(link))
    for _ in range(3):
        run = world.run(CONTACTS)[CONTACTS]
        assert run.failed == 0
    link.refresh_from_db()
    assert len(outcomes(link)) == before and link.status == LinkStatus.IN_SYNC and link.has_warnings


def test_once_the_failed_company_is_fixed_the_association_completes_and_the_warning_goes(memory_connections):
    world = make_world()
    refuse_companies(world, DUPLICATE)
    acme = world.company("a", "Acme")
    ann = world.contact("a", "ann@acme.example", acme)
    world.run(COMPANIES, CONTACTS)
    world.apps.b.fail_when = None
    RecordLink.objects.filter(object_sync=world.syncs[COMPANIES]).update(next_retry_at=timezone.now())
    world.run(COMPANIES)  # the user fixed it and retried: the company links now
    assert wake_dependents(world.syncs[COMPANIES]) >= 0
    run = world.run(CONTACTS)[CONTACTS]
    link = contact_link(world, ann)
    assert run.associated == 1 and link.status == LinkStatus.IN_SYNC and not link.has_warnings
    assert world.apps.b.associations(CONTACTS, link.id_b, COMPANIES) == [world.other_id(COMPANIES, "a", acme)]


def test_an_excluded_company_is_the_reason_on_the_association_not_an_error(memory_connections):
    world = make_world()
    acme = world.company("a", "Acme")
    ann = world.contact("a", "ann@acme.example", acme)
    RecordLink.objects.create(object_sync=world.syncs[COMPANIES], id_a=acme, name_a="Acme",
                              status=LinkStatus.EXCLUDED, last_error="Country is not FR")
    run = world.run(CONTACTS)[CONTACTS]
    link = contact_link(world, ann)
    assert run.failed == 0 and link.status == LinkStatus.IN_SYNC
    assert [w["reason"] for w in link.warnings] == ["company Acme is excluded from its sync: Country is not FR"]


def test_a_transient_dependency_failure_waits_with_one_outcome_and_ends_with_one(memory_connections):
    world = make_world()
    refuse_companies(world, LOCKED)
    acme = world.company("a", "Acme")
    ann = world.contact("a", "ann@acme.example", acme)
    runs = world.run(COMPANIES, CONTACTS)
    link = contact_link(world, ann)
    assert link.status == LinkStatus.FAILING and link.error_category == ErrorCategory.WAITING_FOR_DEPENDENCY.code
    assert runs[CONTACTS].waiting == 1
    waits = [o for o in outcomes(link) if o.category == ErrorCategory.WAITING_FOR_DEPENDENCY.code]
    assert len(waits) == 1
    for _ in range(3):  # retried at every run while it is due: no new outcome each time
        RecordLink.objects.filter(pk=link.pk).update(next_retry_at=timezone.now())
        run = world.run(CONTACTS)[CONTACTS]
        assert run.waiting == 1 and run.failed == 0
    link.refresh_from_db()
    assert [o for o in outcomes(link) if o.category == ErrorCategory.WAITING_FOR_DEPENDENCY.code] == waits
    assert link.fail_count == 4  # the attempts still count (the backoff grows)
    count = len(outcomes(link))
    world.apps.b.fail_when = None
    RecordLink.objects.filter(object_sync=world.syncs[COMPANIES]).update(next_retry_at=timezone.now())
    world.run(COMPANIES)
    assert wake_dependents(world.syncs[COMPANIES]) == 1
    run = world.run(CONTACTS)[CONTACTS]
    link.refresh_from_db()
    assert link.status == LinkStatus.IN_SYNC and run.waiting == 0 and run.associated == 1
    ended = outcomes(link)[count:]
    assert len(ended) == 1 and ended[0].action == RecordOutcome.Action.ASSOCIATED
    assert "No longer waiting" in ended[0].message
    assert world.apps.b.associations(CONTACTS, link.id_b, COMPANIES) == [world.other_id(COMPANIES, "a", acme)]


def test_the_records_story_page_shows_why_its_company_is_not_associated(memory_connections, client):
    import re

    from django.urls import reverse

    from syncrules.tests.health_helpers import user_in

    world = make_world()
    refuse_companies(world, DUPLICATE)
    acme = world.company("a", "Acme")
    ann = world.contact("a", "ann@acme.example", acme)
    world.run(COMPANIES, CONTACTS)
    client.force_login(user_in("Support"))
    html = client.get(reverse("health:story", args=[contact_link(world, ann).pk])).content.decode()
    page = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    assert "In sync with warnings" in page
    assert "Not associated with its company in" in page
    assert "company Acme (acme.example) could not sync: Duplicate record - fix it there" in page
    assert "Map the value" not in page  # that hint is for fields not carried, not associations
