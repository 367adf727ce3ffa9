"""Wizard step 1, Select object: healthy connections, syncable types, a draft per start."""

import pytest
from django.urls import reverse

from connectors.errors import ConnectorError, ErrorCategory
from syncrules.models import FieldMapping, ObjectSync
from syncrules.tests.factories import make_connection
from syncrules.tests.wizard_helpers import connect, start, url, user_in

pytestmark = pytest.mark.django_db
NEW = "admin:syncrules_objectsync_wizard"


@pytest.fixture
def editor(client):
    user = user_in("Sync editors")
    client.force_login(user)
    return user


def test_it_offers_healthy_connections_and_shows_a_failing_one_with_why(client, apps, editor):
    connect(apps)
    broken = make_connection("hubspot", "Old portal")  # reaches no app: its check fails
    page = client.get(reverse(NEW))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Marketing HubSpot" in html and "Sales Salesforce" in html
    assert "Not offered, because they are not connected" in html and "Old portal" in html
    assert reverse("admin:connectors_connection_change", args=[broken.pk]) in html
    assert f'<option value="{broken.pk}"' not in html
    assert 'value="contacts"' in html and 'value="deals"' in html and 'value="products"' not in html


def test_it_creates_a_draft_with_the_default_mappings_and_goes_to_configure(client, apps, editor):
    a, b = connect(apps)
    response = client.post(reverse(NEW), {"connection_a": a.pk, "connection_b": b.pk, "object_type": "contacts"})
    sync = ObjectSync.objects.get()
    assert response["Location"] == url("configure", sync)
    assert sync.state == ObjectSync.State.DRAFT and sync.created_by == editor and sync.wizard_step == "configure"
    pairs = set(FieldMapping.objects.values_list("field_a", "field_b"))
    assert ("ha_email", "sf_email") in pairs and ("ha_stage", "sf_stage") in pairs
    stage = FieldMapping.objects.get(field_a="ha_stage")
    assert stage.value_map["a_to_b"] == {"ha_lead": "sf_lead", "ha_customer": "sf_customer"}


@pytest.mark.parametrize("data, field, text", [
    ({"object_type": "contacts"}, "connection_a", "Choose a connected app."),
    ({"connection_a": "same", "connection_b": "same", "object_type": "contacts"}, "connection_b", "two different"),
    ({"connection_a": "a", "connection_b": "b"}, "object_type", "Choose what to sync."),
    ({"connection_a": "a", "connection_b": "b", "object_type": "products"}, "object_type", "cannot be synced"),
    ({"connection_a": "x'; drop", "connection_b": "b", "object_type": "contacts"}, "connection_a", "connected app"),
])
def test_it_refuses_a_bad_choice_with_the_field_marked(client, apps, editor, data, field, text):
    a, b = connect(apps)
    ids = {"a": a.pk, "b": b.pk, "same": a.pk}
    posted = {k: ids.get(v, v) for k, v in data.items()}
    response = client.post(reverse(NEW), posted)
    assert response.status_code == 400
    assert text in response.content.decode()
    assert "wz-field-error" in response.content.decode()
    assert not ObjectSync.objects.exists()


def test_it_prefills_the_pair_of_sync_more_data(client, apps, editor):
    a, b = connect(apps)
    ObjectSync.objects.create(connection_a=a, connection_b=b, object_type="contacts", state="active")
    for entry in ("admin:index", "admin:syncrules_objectsync_changelist"):
        assert "Sync more data: Marketing HubSpot" in client.get(reverse(entry)).content.decode()
    page = client.get(reverse(NEW) + f"?a={a.pk}&b={b.pk}&type=companies").content.decode()
    assert f'<option value="{a.pk}" selected>' in page and 'value="companies" checked' in page


def test_a_deal_draft_shows_its_recommendation_and_prerequisites_before_configure(client, apps, editor):
    a, b = connect(apps)
    sync = start(client, a, b, "deals")
    page = client.get(url("select", sync)).content.decode()
    assert "We recommend setting up contacts and/or companies first" in page
    assert "Before deals can sync" in page and "Map at least one deal stage" in page
    response = client.post(url("select", sync), {"connection_a": a.pk, "connection_b": b.pk, "object_type": "deals"})
    assert response["Location"] == url("configure", sync)


def test_going_back_and_choosing_another_type_starts_the_mappings_again(client, apps, editor):
    a, b = connect(apps)
    sync = start(client, a, b)
    client.post(url("select", sync), {"connection_a": a.pk, "connection_b": b.pk, "object_type": "companies"})
    sync.refresh_from_db()
    assert sync.object_type == "companies"
    assert set(sync.field_mappings.values_list("field_a", flat=True)) == {"ha_name", "ha_domain", "ha_city",
                                                                          "ha_employees"}


def test_an_app_that_cannot_be_read_keeps_the_form_and_creates_nothing(client, apps, editor):
    a, b = connect(apps)
    apps.b.fail_calls.append(ConnectorError(ErrorCategory.APP_UNAVAILABLE, "Service unavailable"))
    response = client.post(reverse(NEW), {"connection_a": a.pk, "connection_b": b.pk, "object_type": "contacts"})
    assert response.status_code == 400
    assert "could not be read" in response.content.decode()
    assert not ObjectSync.objects.exists()
