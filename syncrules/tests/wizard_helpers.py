"""Fixtures' helpers of the wizard's view tests: users per role, memory apps behind connections."""

from __future__ import annotations

from django.contrib.auth.models import Group, User
from django.urls import reverse

from syncrules.tests.factories import make_connection


def user_in(group: str, name: str = "") -> User:
    user = User.objects.create_user(name or group.replace(" ", "").lower(), password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


def connect(apps):
    """Two connections reaching the memory apps A (HubSpot-like) and B (Salesforce-like)."""
    a = make_connection("hubspot", "Marketing HubSpot")
    b = make_connection("salesforce", "Sales Salesforce")
    apps.attach(a, b)
    return a, b


def url(step: str, sync) -> str:
    return reverse(f"admin:syncrules_objectsync_wizard_{step}", args=[sync.pk])


def start(client, a, b, object_type: str = "contacts"):
    """POST the first step; the new draft."""
    from syncrules.models import ObjectSync

    response = client.post(reverse("admin:syncrules_objectsync_wizard"),
                           {"connection_a": a.pk, "connection_b": b.pk, "object_type": object_type})
    assert response.status_code == 302, response.content.decode()[:2000]
    return ObjectSync.objects.order_by("-pk").first()
