"""The health counts kept by PostgreSQL's triggers always equal the links' own statuses."""

import pytest
from django.db import connection
from django.db.models import Count

from syncrules.engine import run_sync
from syncrules.health.queries import link_counts
from syncrules.models import LinkCount, LinkStatus, ObjectSync, RecordLink
from syncrules.tests.factories import make_memory_sync
from syncrules.tests.health_helpers import health_world

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the counts are kept by PostgreSQL triggers"),
]


def counted(sync_ids) -> dict:
    """The same buckets, counted from the links themselves."""
    rows = (RecordLink.objects.filter(object_sync__in=sync_ids)
            .values("object_sync", "status", "error_category", "has_warnings").annotate(n=Count("*")).order_by()
            .values_list("object_sync", "status", "error_category", "has_warnings", "n"))
    keys = ["in_sync", "warnings", "errors", "excluded", "deleted_a", "deleted_b", "waiting"]
    expected = {pk: dict.fromkeys(keys, 0) for pk in sync_ids}
    for sync_id, status, category, warned, n in rows:
        key = ("waiting" if category == "waiting_for_dependency" else "errors") if status == "failing" else status
        expected[sync_id]["warnings" if key == "in_sync" and warned else key] += n
    return expected


def test_inserts_updates_and_deletes_keep_the_counts_exact():
    world = health_world()
    ids = [world["contacts"].pk, world["companies"].pk]
    assert link_counts(ids) == counted(ids)
    world["broken"].status, world["broken"].error_category = LinkStatus.IN_SYNC, ""
    world["broken"].save()
    RecordLink.objects.filter(object_sync=world["contacts"], status=LinkStatus.EXCLUDED).update(
        status=LinkStatus.FAILING, error_category="waiting_for_dependency")
    RecordLink.objects.filter(object_sync=world["companies"], status=LinkStatus.FAILING).delete()
    RecordLink.objects.bulk_create([RecordLink(object_sync=world["companies"], id_a=f"bulk{i}", status="deleted_b")
                                    for i in range(5)])
    RecordLink.objects.filter(object_sync=world["contacts"]).update(last_error="touched")  # no status change
    assert link_counts(ids) == counted(ids)
    assert link_counts(ids)[world["contacts"].pk]["waiting"] == 3


def test_a_real_run_and_a_deleted_sync_keep_the_counts_exact(apps):
    for n in range(12):
        apps.a.create("contacts", email=f"p{n}@example.com", first="P", last=str(n))
    apps.a.create("contacts", first="No", last="Email")
    apps.b.create("contacts", email="p1@example.com", last="1")
    sync = make_memory_sync(apps)
    run_sync(sync.pk)
    links = RecordLink.objects.filter(object_sync=sync, status=LinkStatus.IN_SYNC).order_by("pk")
    apps.a.edit("contacts", links[0].id_a, last="x" * 60)  # too long: skipped with a warning by default
    sync.field_mappings.update(policy="fail_record")
    apps.a.edit("contacts", links[1].id_a, first="y" * 60)  # too long, and now its mapping fails the record
    sync.field_mappings.exclude(field_a="ha_first").update(policy="skip_field")
    run_sync(sync.pk)
    assert link_counts([sync.pk]) == counted([sync.pk])
    assert link_counts([sync.pk])[sync.pk]["errors"] == 1 and link_counts([sync.pk])[sync.pk]["warnings"] == 1
    pk = sync.pk
    ObjectSync.objects.filter(pk=pk).delete()
    assert sum(LinkCount.objects.filter(object_sync_pk=pk).values_list("n", flat=True)) == 0
