"""The wizard's entry points: "Set up a sync", and "Sync more data" for a pair of apps that
already syncs contacts or companies (F2.1)."""

from __future__ import annotations

from django.urls import reverse

from connectors.base import COMPANIES, CONTACTS
from syncrules.models import ObjectSync


def entries() -> list[dict]:
    """One "Sync more data" entry per pair of connections with a contact or company sync."""
    pairs: dict[tuple[int, int], dict] = {}
    rows = (ObjectSync.objects.filter(object_type__in=[CONTACTS, COMPANIES]).exclude(state=ObjectSync.State.DRAFT)
            .select_related("connection_a", "connection_b").order_by("pk"))
    for sync in rows:
        key = (sync.connection_a_id, sync.connection_b_id)
        if key in pairs or key[::-1] in pairs:
            continue
        url = reverse("admin:syncrules_objectsync_wizard") + f"?a={key[0]}&b={key[1]}"
        pairs[key] = {"a": sync.connection_a.name, "b": sync.connection_b.name, "url": url}
    return list(pairs.values())
