"""sandbox/bulk.py: the raw reads and writes behind the sandboxes' batch endpoints give the same
rows and instances as the ORM would, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.admin.models import LogEntry
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from sandbox import bulk
from sandbox.hubspot.models import Association, CrmObject
from sandbox.hubspot.seed import ensure_portal

pytestmark = pytest.mark.django_db
MOMENT = datetime(2026, 12, 3, 14, 28, 23, 123000, tzinfo=UTC)


@pytest.fixture
def portal():
    return ensure_portal(7001, rate_limit_enabled=False)


def _record(portal, n: int, **fields) -> CrmObject:
    values = {"id": None, "portal_id": portal.pk, "object_type": "contacts", "properties": {"email": f"c{n}@x.io"},
              "email": f"c{n}@x.io", "created_at": MOMENT, "updated_at": MOMENT, "archived": False,
              "archived_at": None, "merged_into_id": None, **fields}
    return bulk.new(CrmObject, **values)


def test_it_inserts_records_and_gives_them_their_new_ids_in_input_order(portal):
    records = [_record(portal, n) for n in range(5)]
    bulk.insert_rows(CrmObject, records)
    assert [r.pk for r in records] == sorted(r.pk for r in records)
    stored = dict(CrmObject.objects.filter(pk__in=[r.pk for r in records]).values_list("pk", "email"))
    assert stored == {r.pk: r.email for r in records}
    assert not records[0]._state.adding


def test_fetched_records_equal_what_the_orm_loads(portal):
    record = _record(portal, 1, archived=True, archived_at=MOMENT, properties={"firstname": "Ada", "n": "1"})
    bulk.insert_rows(CrmObject, [record])
    fetched = bulk.fetch(CrmObject, "id = %s", [record.pk])[0]
    loaded = CrmObject.objects.get(pk=record.pk)
    for field in CrmObject._meta.concrete_fields:
        assert getattr(fetched, field.attname) == getattr(loaded, field.attname), field.name
    assert fetched.created_at.utcoffset().total_seconds() == 0
    assert fetched.archived is True
    fetched.properties = {"firstname": "Grace"}
    fetched.save(update_fields=["properties"])  # an ordinary instance: save() works
    assert CrmObject.objects.get(pk=record.pk).properties == {"firstname": "Grace"}


def test_a_queryset_fetch_keeps_its_filters_order_and_slice(portal):
    records = [_record(portal, n) for n in range(6)]
    bulk.insert_rows(CrmObject, records)
    qs = CrmObject.objects.filter(pk__in=[r.pk for r in records]).order_by("-pk")[1:3]
    assert [o.pk for o in bulk.fetch_queryset(qs)] == [o.pk for o in qs]
    assert bulk.fetch_queryset(CrmObject.objects.filter(pk__in=[])) == []


def test_updated_values_are_saved_for_each_row(portal):
    records = [_record(portal, n) for n in range(3)]
    bulk.insert_rows(CrmObject, records)
    later = datetime(2027, 1, 1, tzinfo=UTC)
    bulk.update_values(CrmObject, ["properties", "updated_at"], [(r.pk, {"n": str(r.pk)}, later) for r in records])
    for r in CrmObject.objects.filter(pk__in=[r.pk for r in records]):
        assert (r.properties, r.updated_at) == ({"n": str(r.pk)}, later)


def test_conflicting_rows_are_skipped_only_when_asked(portal):
    row = (portal.pk, "deals", 1, "contacts", 2, 3, "HUBSPOT_DEFINED")
    columns = ["portal", "from_type", "from_id", "to_type", "to_id", "type_id", "category"]
    bulk.insert_values(Association, columns, [row])
    assert bulk.insert_values(Association, columns, [row, (*row[:4], 5, 3, row[6])], ignore_conflicts=True) is None
    assert Association.objects.filter(portal=portal).count() == 2
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk.insert_values(Association, columns, [row])


def test_deleted_rows_are_gone_and_the_others_stay(portal):
    columns = ["portal", "from_type", "from_id", "to_type", "to_id", "type_id", "category"]
    bulk.insert_values(Association, columns, [(portal.pk, "deals", 1, "contacts", t, 3, "HUBSPOT_DEFINED")
                                              for t in range(4)])
    pks = sorted(Association.objects.filter(portal=portal).values_list("pk", flat=True))
    bulk.delete_rows(Association, pks[:2])
    assert sorted(Association.objects.filter(portal=portal).values_list("pk", flat=True)) == pks[2:]


def test_a_test_that_captures_queries_still_sees_the_raw_statements(portal):
    with CaptureQueriesContext(connection) as captured:
        bulk.values(CrmObject, ["id"], "portal_id = %s", [portal.pk])
    assert any("portal_id" in q["sql"] for q in captured.captured_queries)


def test_it_refuses_a_model_with_a_column_it_cannot_convert():
    with pytest.raises(TypeError, match="action_flag"):
        bulk.fetch(LogEntry, "id = %s", [1])


def test_a_new_instance_must_name_every_field_and_no_other():
    with pytest.raises(TypeError, match="missing .*portal_id"):
        bulk.new(CrmObject, id=None, object_type="contacts")
    with pytest.raises(TypeError, match="unknown .*colour"):
        _record(ensure_portal(7002, rate_limit_enabled=False), 1, colour="red")
