"""Bad input on the object sync pages: JSON fields accept only their schema (a form error, never a
500), exports validate their filters like the list does and never write spreadsheet formulas."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from connectors.jsonfields import ObjectSchema, loads_strict
from connectors.models import Connection
from syncrules.exports import escape_formula
from syncrules.models import FieldMapping, ObjectSync
from syncsite.tests.world import build_world

pytestmark = pytest.mark.django_db

BAD_JSON = ["null", "NaN", "1e999", "-Infinity", "[" * 5000 + "]" * 5000, "[1,2]", '"s"', "9" * 5000, "{"]


@pytest.fixture
def world():
    return build_world(sandboxes=False)


@pytest.mark.parametrize("text", BAD_JSON)
def test_a_mapping_value_map_that_is_not_an_object_of_text_is_a_form_error(client, world, text):
    client.force_login(world.users["Sync admins"])
    mapping = FieldMapping.objects.filter(object_sync=world.syncs[0]).first()
    url = reverse("admin:syncrules_fieldmapping_change", args=[mapping.pk])
    response = client.post(url, {"object_sync": mapping.object_sync_id, "field_a": "email", "field_b": "Email",
                                 "direction": "two_way", "enabled": "on", "value_map": text, "position": 0})
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    mapping.refresh_from_db()
    assert mapping.value_map == {"a_to_b": {"Gold": "gold"}}


@pytest.mark.parametrize(("value", "problem"), [
    ({"a_to_b": {"Gold": 1}}, "an object of text to text"),
    ({"a_to_b": ["Gold"]}, "an object of text to text"),
    ({"sideways": {}}, "Unknown key 'sideways'"),
])
def test_value_maps_hold_text_to_text_in_known_directions(value, problem):
    with pytest.raises(ValidationError, match=problem):
        ObjectSchema("value_map")(value)
    ObjectSchema("value_map")({"a_to_b": {"Gold": "gold"}, "b_to_a": {}})


@pytest.mark.parametrize(("options", "problem"), [
    ({"association_sweep_seconds": -5}, "at least 0"),
    ({"association_sweep_seconds": "soon"}, "a whole number"),
    ({"propagate_deletions": "no"}, "true or false"),
    ({"asociation_sweep_seconds": 60}, "Unknown key"),
])
def test_sync_options_are_checked_against_their_schema(world, options, problem):
    sync = world.syncs[0]
    sync.options = options
    with pytest.raises(ValidationError, match=problem):
        sync.full_clean()


def test_an_interval_under_ten_seconds_and_object_types_the_engine_refuses_are_not_accepted(world):
    sync = world.syncs[0]
    sync.interval_seconds = 0
    sync.object_type = "invoices"
    with pytest.raises(ValidationError) as info:
        sync.full_clean()
    assert {"interval_seconds", "object_type"} <= set(info.value.message_dict)
    from syncrules.engine.runner import SUPPORTED_TYPES
    from syncrules.models import SYNCABLE_TYPES

    assert set(SYNCABLE_TYPES) == SUPPORTED_TYPES
    assert {value for value, _ in ObjectSync._meta.get_field("object_type").choices} == SUPPORTED_TYPES


@pytest.mark.parametrize("text", [*BAD_JSON, '{"max_attempts": 0}', '{"client_rate_limit": "yes"}', '{"x": 1}'])
def test_connection_options_outside_their_schema_are_a_form_error(client, world, text):
    client.force_login(world.users["superuser"])
    connection = world.connections[0]
    url = reverse("admin:connectors_connection_change", args=[connection.pk])
    response = client.post(url, {"name": connection.name, "base_url": "", "options": text})
    assert response.status_code == 200 and "errorlist" in response.content.decode()
    assert Connection.objects.get(pk=connection.pk).options == connection.options


def test_strict_parsing_refuses_what_python_json_would_accept():
    for text in ["NaN", "1e999", "[" * 5000 + "]" * 5000]:
        with pytest.raises(ValueError):
            loads_strict(text)
    assert loads_strict('{"a": 1.5}') == {"a": 1.5}


@pytest.mark.parametrize("role", ["superuser", "Support"])
@pytest.mark.parametrize("query", ["object_sync__id__exact=abc", "last_synced_at__gte=notadate",
                                   "status__exact=failing&o=abc", "object_sync__id__exact=99999999999999999999999"])
def test_an_export_with_malformed_filters_is_refused_like_the_list_refuses_them(client, world, role, query):
    client.force_login(world.users[role])
    listing = client.get(reverse("admin:syncrules_recordlink_changelist") + "?" + query)
    export = client.get(reverse("admin:syncrules_recordlink_export") + "?" + query)
    assert listing.status_code in {200, 302}
    assert export.status_code in {200, 302}
    if export.status_code == 302:
        assert "e=1" in export["Location"]


def test_the_csv_export_never_writes_a_spreadsheet_formula(client, world):
    client.force_login(world.users["Support"])
    response = client.get(reverse("admin:syncrules_recordlink_export"))
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    cells = [cell for row in rows[1:] for cell in row]
    assert any(cell.startswith("'=HYPERLINK") for cell in cells)  # the sync's name, quoted
    assert any(cell.startswith("'-2+3+cmd") for cell in cells)  # an error text, quoted
    assert not [cell for cell in cells if cell[:1] in {"=", "+", "-", "@", "\t", "\r"}]


def test_formula_escaping_keeps_plain_values_whole():
    assert escape_formula("=1+1") == "'=1+1"
    assert escape_formula("@SUM(A1)") == "'@SUM(A1)"
    assert escape_formula("Gold") == "Gold"
    assert escape_formula(5) == 5
