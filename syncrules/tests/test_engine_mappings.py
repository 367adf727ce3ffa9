"""Default mappings, batching and query counts of the engine."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from connectors.base import COMPANIES, DefaultField, FieldSpec, FieldType
from syncrules.engine import run_sync
from syncrules.engine.mappings import create_default_mappings, default_direction, pair_defaults
from syncrules.models import Direction, FieldMapping, SyncRun
from syncrules.tests.factories import make_memory_sync
from syncrules.tests.memory_connector import DEFAULT_KEYS

pytestmark = pytest.mark.django_db
C = "contacts"


def test_default_fields_pair_up_by_their_canonical_key():
    a = [DefaultField("email", "email"), DefaultField("company_name", "company"), DefaultField("phone", "phone")]
    b = [DefaultField("phone", "Phone"), DefaultField("email", "Email")]
    assert pair_defaults(a, b) == [("email", "email", "Email"), ("phone", "phone", "Phone")]


def test_a_default_mapping_takes_the_direction_its_types_allow():
    text, number = FieldSpec("t", "T", FieldType.TEXT), FieldSpec("n", "N", FieldType.NUMBER)
    assert default_direction(text, text) == Direction.TWO_WAY
    assert default_direction(number, text) == Direction.TO_B
    assert default_direction(text, number) == Direction.TO_A
    assert default_direction(FieldSpec("b", "B", FieldType.BOOL), number) is None


def test_creating_the_default_mappings_twice_keeps_one_row_per_pair(apps):
    sync = make_memory_sync(apps)
    assert sync.field_mappings.count() == len(DEFAULT_KEYS[C])
    create_default_mappings(sync, apps.a.connector(), apps.b.connector())
    assert sync.field_mappings.count() == len(DEFAULT_KEYS[C])
    assert set(sync.field_mappings.values_list("direction", flat=True)) == {Direction.TWO_WAY}
    assert all(sync.field_mappings.values_list("is_default", flat=True))


def test_the_default_mappings_skip_fields_missing_on_a_side(apps):
    apps.b.schemas[C] = [s for s in apps.b.schemas[C] if not s.name.endswith("vip")]
    sync = make_memory_sync(apps)
    assert not sync.field_mappings.filter(field_a="ha_vip").exists()


def test_a_toggled_off_mapping_is_not_synced(apps):
    ann = apps.a.create(C, email="ann@example.com", first="Ann", last="Lee")
    sync = make_memory_sync(apps)
    FieldMapping.objects.filter(object_sync=sync, field_a="ha_first").update(enabled=False)
    run_sync(sync.pk)
    assert next(iter(apps.b.all(C).values())).get("sf_first") is None
    assert apps.a.get(C, ann, "first") == "Ann"


def test_a_mapping_to_a_field_that_disappeared_is_skipped_with_a_note(apps):
    apps.a.create(C, email="ann@example.com", first="Ann", last="Lee")
    sync = make_memory_sync(apps)
    FieldMapping.objects.create(object_sync=sync, field_a="ha_gone", field_b="sf_first")
    run = run_sync(sync.pk)
    assert run.status == SyncRun.Status.SUCCEEDED and "ha_gone no longer exists" in run.error


def test_companies_match_by_name_only_when_an_app_has_no_domain(apps):
    from syncrules.tests import memory_connector

    acme = apps.a.create(COMPANIES, name="Acme", domain="acme.com")
    apps.b.create(COMPANIES, name="Other name", domain="acme.com")
    acme_b = apps.b.create(COMPANIES, name="ACME", domain="acme.io")
    original = memory_connector.MemoryConnector.default_fields

    def no_domain(self, object_type):
        fields = original(self, object_type)
        return [f for f in fields if not (self.app is apps.b and f.key == "domain")]

    memory_connector.MemoryConnector.default_fields = no_domain
    try:
        sync = make_memory_sync(apps, object_type=COMPANIES)
        run_sync(sync.pk)
    finally:
        memory_connector.MemoryConnector.default_fields = original
    assert sync.links.get(id_a=acme).id_b == acme_b


def test_writes_go_in_batches_of_the_target_size(apps):
    for app in (apps.a, apps.b):
        app.page_size, app.batch_size = 50, 10
    for n in range(40):
        apps.a.create(C, email=f"p{n}@example.com", first=f"P{n}", last="Batch")
    run = run_sync(make_memory_sync(apps).pk)
    assert run.created == 40
    assert apps.b.write_calls == 4  # 40 creates in batches of 10


def queries_for_an_initial_sync_of(count: int) -> int:
    from syncrules.tests.memory_connector import Apps

    apps = Apps()
    for app in (apps.a, apps.b):
        app.page_size, app.batch_size = 200, 200
    for n in range(count):
        apps.a.create(C, email=f"p{n}@example.com", first=f"P{n}", last="Batch")
        apps.b.create(C, email=f"q{n}@example.com", first=f"Q{n}", last="Batch")
    sync = make_memory_sync(apps)
    with CaptureQueriesContext(connection) as queries:
        run_sync(sync.pk)
    assert sync.links.count() == 2 * count
    return len(queries)


def test_the_number_of_queries_does_not_grow_with_the_number_of_records(memory_connections):
    # 40 stays under SQLite's bound on parameters per INSERT, which splits bigger bulk inserts.
    assert queries_for_an_initial_sync_of(4) == queries_for_an_initial_sync_of(40)


def test_the_wizard_can_list_the_fields_a_field_may_map_to():
    from syncrules.engine.mappings import mappable_fields

    number = FieldSpec("amount", "Amount", FieldType.NUMBER)
    others = [FieldSpec("Amount", "Amount", FieldType.NUMBER), FieldSpec("Notes", "Notes", FieldType.TEXT),
              FieldSpec("Active", "Active", FieldType.BOOL)]
    assert mappable_fields(number, others) == {"Amount": {"two_way", "to_a", "to_b"}, "Notes": {"to_b"}}
    assert mappable_fields(number, others, spec_on="b") == {"Amount": {"two_way", "to_a", "to_b"}, "Notes": {"to_a"}}


def test_a_suggested_value_map_pairs_options_by_value_then_label():
    from connectors.base import Option
    from syncrules.engine.mappings import suggest_value_map

    hubspot = FieldSpec("industry", "Industry", FieldType.ENUMERATION, options=(
        Option("RETAIL", "Retail"), Option("COMPUTER_SOFTWARE", "Computer Software"), Option("banking", "Banking")))
    salesforce = FieldSpec("Industry", "Industry", FieldType.ENUMERATION, options=(
        Option("Retail", "Retail"), Option("Technology", "Technology"), Option("Banking", "Banking")))
    assert suggest_value_map(hubspot, salesforce) == {
        "a_to_b": {"RETAIL": "Retail", "banking": "Banking"},
        "b_to_a": {"Retail": "RETAIL", "Banking": "banking"},
    }
