"""The seed command: realistic records, duplicates, contacts without email, associations."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from sandbox.hubspot.models import Association, CrmObject, Portal

pytestmark = pytest.mark.django_db


def test_it_seeds_a_portal_from_the_command_line():
    out = io.StringIO()
    call_command("sandbox_seed", "hubspot", "--portal", "7007", "--contacts", "60", "--companies", "20",
                 "--deals", "10", stdout=out)
    portal = Portal.objects.get(hub_id=7007)
    contacts = CrmObject.objects.filter(portal=portal, object_type="contacts")
    assert contacts.count() == 60
    assert contacts.filter(email="").exists()
    assert CrmObject.objects.filter(portal=portal, object_type="deals").count() == 10
    assert Association.objects.filter(portal=portal, from_type="contacts", type_id=1).exists()
    assert portal.private_token in out.getvalue()


def test_it_refuses_a_negative_count():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("sandbox_seed", "hubspot", "--contacts", "-1", stdout=io.StringIO())


def test_it_sets_a_portals_limits_and_webhook_from_the_command_line():
    call_command("sandbox_seed", "hubspot", "--portal", "7008", "--ten-second-limit", "100", "--search-per-second",
                 "4", "--webhook-url", "http://127.0.0.1:9999/hooks", stdout=io.StringIO())
    portal = Portal.objects.get(hub_id=7008)
    assert (portal.ten_second_limit, portal.search_per_second) == (100, 4)
    assert portal.webhook_url == "http://127.0.0.1:9999/hooks"
