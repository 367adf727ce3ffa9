"""Set-up for the SIGKILL test and bench: run inside `manage.py shell` against the scratch
database the test gives it (never the test database itself)."""

from __future__ import annotations


def setup(sandbox_url: str, contacts: int) -> int:
    """Seed a HubSpot portal with `contacts` contacts and an empty Salesforce org, connect them
    and return the id of an active contact sync between them."""
    from sandbox.hubspot.seed import ensure_portal, seed_records
    from sandbox.salesforce.seed import seed_org
    from syncrules.tests.e2e.helpers import connect_sandboxes, new_sync

    portal = ensure_portal(900_001, rate_limit_enabled=False)
    seed_records(portal, contacts=contacts, seed=7)
    org = seed_org("killed")
    hubspot, salesforce = connect_sandboxes(sandbox_url, portal, org)
    return new_sync(hubspot, salesforce, "contacts").pk


def report(object_sync_id: int) -> dict:
    """What the test checks once the runs are done: each run's status and counts, and the
    contacts in both sandboxes by email."""
    from collections import Counter

    from sandbox.hubspot.models import CrmObject
    from sandbox.salesforce.models import Record
    from syncrules.models import ObjectSync, SyncRun

    runs = list(SyncRun.objects.filter(object_sync_id=object_sync_id).order_by("pk").values(
        "status", "processed", "created", "error"))
    sf = Counter((data.get("Email") or "").lower() for data in Record.objects.filter(
        sobject="Contact", is_deleted=False).values_list("data", flat=True))
    hs = Counter(CrmObject.objects.filter(object_type="contacts", archived=False).values_list("email", flat=True))
    sync = ObjectSync.objects.get(pk=object_sync_id)
    return {"runs": runs, "sf_emails": dict(sf), "hs_emails": dict(hs), "claimed": sync.running_since is not None}
