"""A wrong FIELD_ENCRYPTION_KEY: the admin stays usable, the connection says what to do and can
be reconnected, runs fail with a category, and `manage.py check` reports an error."""

from __future__ import annotations

from io import StringIO

import pytest
from django.conf import settings
from django.contrib import admin
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings
from django.urls import reverse

from connectors.checks import check_credentials_readable
from connectors.crypto import UNREADABLE_MESSAGE
from connectors.errors import ErrorCategory
from connectors.models import Connection
from syncrules.engine import run_sync
from syncrules.models import SyncRun
from syncsite.tests.world import HUBSPOT_OAUTH, build_world

pytestmark = pytest.mark.django_db

OTHER_KEY = "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE="


@pytest.fixture
def world():
    return build_world(sandboxes=False)


def wrong_key():
    return override_settings(FIELD_ENCRYPTION_KEYS=[OTHER_KEY])


def test_every_admin_page_of_ours_still_answers_with_a_wrong_key(client, world):
    client.force_login(world.users["superuser"])
    with wrong_key():
        request = client.get(reverse("admin:index")).wsgi_request
        for model, model_admin in admin.site._registry.items():
            if model._meta.app_label not in {"connectors", "syncrules"}:
                continue
            info = (model._meta.app_label, model._meta.model_name)
            assert client.get(reverse("admin:%s_%s_changelist" % info)).status_code == 200, info
            obj = model_admin.get_queryset(request).first()
            if obj is not None:
                assert client.get(reverse("admin:%s_%s_change" % info, args=[obj.pk])).status_code == 200, info
        assert client.get(reverse("admin:syncrules_recordlink_export")).status_code == 200


def test_the_connection_says_what_to_do_on_its_list_and_its_page(client, world):
    client.force_login(world.users["Support"])
    with wrong_key():
        listing = client.get(reverse("admin:connectors_connection_changelist")).content.decode()
        page = client.get(reverse("admin:connectors_connection_change", args=[world.connections[0].pk]))
    assert "Credentials cannot be read with the current key" in listing
    assert UNREADABLE_MESSAGE in page.content.decode()


def test_a_connection_is_reconnected_by_entering_new_credentials(client, world):
    client.force_login(world.users["superuser"])
    connection = world.connections[1]  # the private app
    url = reverse("admin:connectors_connection_change", args=[connection.pk])
    with wrong_key():
        response = client.post(url, {"name": connection.name, "base_url": "", "options": "{}",
                                     "cred_access_token": "pat-na1-new-token"})
        assert response.status_code == 302
        fresh = Connection.objects.get(pk=connection.pk)
        assert not fresh.credentials_unreadable and fresh.credentials == {"access_token": "pat-na1-new-token"}


def test_saving_without_new_credentials_keeps_them_for_the_old_key(client, world):
    client.force_login(world.users["superuser"])
    connection = world.connections[0]
    url = reverse("admin:connectors_connection_change", args=[connection.pk])
    with wrong_key():
        response = client.post(url, {"name": "Renamed", "base_url": "", "options": "{}"})
        assert response.status_code == 302
        assert Connection.objects.get(pk=connection.pk).credentials_unreadable
    restored = Connection.objects.get(pk=connection.pk)  # the old key is back
    assert restored.name == "Renamed" and restored.credentials["access_token"] == HUBSPOT_OAUTH["access_token"]


def test_runs_and_connection_tests_fail_with_the_unreadable_credentials_category(world):
    with wrong_key():
        run = run_sync(world.syncs[0].pk)
        result = Connection.objects.get(pk=world.connections[0].pk).test()
    assert run.status == SyncRun.Status.FAILED
    assert ErrorCategory.CREDENTIALS_UNREADABLE.label in run.error and "FIELD_ENCRYPTION_KEY" in run.error
    assert not result.ok and "reconnect" in result.message


def test_the_system_check_reports_unreadable_credentials_as_an_error(world):
    assert check_credentials_readable() == []
    with wrong_key():
        errors = check_credentials_readable()
        assert [e.id for e in errors] == ["connectors.E001"]
        assert world.connections[0].name in errors[0].msg
        with pytest.raises(SystemCheckError, match="connectors.E001"):
            call_command("check", stdout=StringIO(), stderr=StringIO())
    assert settings.FIELD_ENCRYPTION_KEYS != [OTHER_KEY]
