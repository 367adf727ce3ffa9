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
