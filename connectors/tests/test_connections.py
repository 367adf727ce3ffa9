"""Connections: encrypted credentials, the registry, and unknown kinds."""

import pytest
from django.db import connection as db
from django.test import override_settings

from connectors import registry
from connectors.errors import ConnectorError, ErrorCategory
from connectors.models import Connection

SECRET = "pat-na1-11111111-2222-3333-4444-555555555555"


def raw_credentials(pk: int) -> str:
    with db.cursor() as cursor:
        cursor.execute("SELECT credentials FROM connectors_connection WHERE id = %s", [pk])
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_it_stores_credentials_encrypted_and_reads_them_back():
    conn = Connection.objects.create(kind="hubspot", name="Main portal", credentials={"access_token": SECRET})
    raw = raw_credentials(conn.pk)
    assert SECRET not in raw
    assert "access_token" not in raw
    assert Connection.objects.get(pk=conn.pk).credentials == {"access_token": SECRET}


@pytest.mark.django_db
def test_it_decrypts_with_an_old_key_after_rotation():
    conn = Connection.objects.create(kind="hubspot", name="P", credentials={"access_token": SECRET})
    from django.conf import settings

    new_key = "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE="
    with override_settings(FIELD_ENCRYPTION_KEYS=[new_key, *settings.FIELD_ENCRYPTION_KEYS]):
        assert Connection.objects.get(pk=conn.pk).credentials["access_token"] == SECRET


@pytest.mark.django_db
def test_a_wrong_key_gives_a_clear_error_without_the_secret():
    conn = Connection.objects.create(kind="hubspot", name="P", credentials={"access_token": SECRET})
    with override_settings(FIELD_ENCRYPTION_KEYS=["Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE="]):
        loaded = Connection.objects.get(pk=conn.pk)  # loading still works: the admin stays usable
        assert loaded.credentials_unreadable and loaded.credentials == {}
        with pytest.raises(ConnectorError) as info:
            loaded.connector()
    assert info.value.category is ErrorCategory.CREDENTIALS_UNREADABLE
    assert "FIELD_ENCRYPTION_KEY" in str(info.value)
    assert SECRET not in str(info.value)


@pytest.mark.django_db
def test_refreshed_credentials_are_saved_back_encrypted():
    conn = Connection.objects.create(kind="hubspot", name="P", credentials={"access_token": "old"})
    connector = conn.connector()
    connector._save_credentials(access_token="new-token")
    assert Connection.objects.get(pk=conn.pk).credentials["access_token"] == "new-token"
    assert "new-token" not in raw_credentials(conn.pk)


def test_the_registry_knows_hubspot_and_salesforce():
    kinds = dict(registry.kind_choices())
    assert kinds["hubspot"] == "HubSpot"
    assert kinds["salesforce"] == "Salesforce"


def test_an_unknown_kind_names_itself_and_the_known_ones():
    with pytest.raises(registry.UnknownConnectorKind) as info:
        registry.get_class("pipedrive")
    assert "'pipedrive'" in str(info.value)
    assert "hubspot" in str(info.value)


@pytest.mark.django_db
def test_testing_a_connection_of_unknown_kind_records_a_clear_error():
    conn = Connection.objects.create(kind="pipedrive", name="Old app")
    result = conn.test()
    assert not result.ok
    conn.refresh_from_db()
    assert conn.status == Connection.Status.FAILING
    assert "Unknown connector kind 'pipedrive'" in conn.last_error


def test_every_error_category_has_a_label_and_a_hint():
    for category in ErrorCategory:
        assert category.label and len(category.hint) > 30
        assert ErrorCategory.from_code(category.code) is category
    assert ErrorCategory.from_code("no_such_code") is ErrorCategory.UNKNOWN
    assert ErrorCategory.RATE_LIMITED.transient and not ErrorCategory.MISSING_REQUIRED_FIELD.transient
