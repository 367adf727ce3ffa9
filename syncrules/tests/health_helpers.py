"""Rows for the health pages' tests: two syncs with links in every state, and users per role."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import Group, User
from django.utils import timezone

from syncrules.models import LinkStatus, ObjectSync, RecordLink, RecordOutcome, SyncRun
from syncrules.tests.factories import make_connection, make_sync

# The first sync's links per health bucket.
EXPECTED = {"in_sync": 4, "warnings": 0, "errors": 3, "excluded": 2, "deleted_a": 1, "deleted_b": 1, "waiting": 1}


WARNING = {"field": "Industry", "value": "COMPUTER_SOFTWARE", "side": "b", "mapping": "industry|Industry",
           "reason": "'COMPUTER_SOFTWARE' has no matching option in Industry", "category": "invalid_property_value"}


def link(sync: ObjectSync, n: int, status: str, category: str = "", error: str = "", **kwargs) -> RecordLink:
    return RecordLink.objects.create(object_sync=sync, id_a=f"{sync.pk}-{n}", id_b=f"00{sync.pk}X{n}", status=status,
                                     error_category=category, last_error=error, **kwargs)


def health_world() -> dict:
    """Contacts HubSpot <-> Salesforce with links in every bucket, and a companies sync beside."""
    hub, sf = make_connection("hubspot", "Marketing portal"), make_connection("salesforce", "Sales org")
    contacts = make_sync("contacts", connection_a=hub, connection_b=sf, name="Contacts", state="active")
    companies = make_sync("companies", connection_a=hub, connection_b=sf, name="Companies", state="active")
    n = iter(range(1, 1000))
    for _ in range(EXPECTED["in_sync"]):
        link(contacts, next(n), LinkStatus.IN_SYNC, last_synced_at=timezone.now())
    link(contacts, next(n), LinkStatus.FAILING, "invalid_property_value", "Property values were not valid: 'Lead'")
    link(contacts, next(n), LinkStatus.FAILING, "invalid_property_value", "Property values were not valid: 'X'")
    broken = link(contacts, next(n), LinkStatus.FAILING, "value_too_long", "STRING_TOO_LONG: Title: data value too large")
    link(contacts, next(n), LinkStatus.FAILING, "waiting_for_dependency", "company 123 has not synced yet")
    link(contacts, next(n), LinkStatus.EXCLUDED)
    link(contacts, next(n), LinkStatus.EXCLUDED)
    link(contacts, next(n), LinkStatus.DELETED_A)
    link(contacts, next(n), LinkStatus.DELETED_B)
    for _ in range(2):
        link(companies, next(n), LinkStatus.IN_SYNC)
    link(companies, next(n), LinkStatus.FAILING, "duplicate_record", "DUPLICATES_DETECTED")
    run = SyncRun.objects.create(object_sync=contacts, kind="initial", status="partial", processed=12, failed=3,
                                 started_at=timezone.now() - timedelta(minutes=5), finished_at=timezone.now())
    RecordOutcome.objects.create(run=run, object_sync=contacts, link=broken, id_a=broken.id_a, id_b=broken.id_b,
                                 side="b", action="failed", category="value_too_long", message=broken.last_error)
    return {"contacts": contacts, "companies": companies, "broken": broken, "hub": hub, "sf": sf, "run": run}


def user_in(group: str | None, name: str = "") -> User:
    user = User.objects.create_user(name or (group or "nobody").replace(" ", "").lower(), password="pw", is_staff=True)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user
