"""Records an app merges (HubSpot): the link follows the survivor, also when the survivor gets
a new id that is neither old id (hs_merged_object_ids lists both), and nothing is created twice."""

from __future__ import annotations

import pytest

from connectors.base import CONTACTS
from connectors.errors import ErrorCategory
from syncrules.models import LinkStatus, RecordLink
from syncrules.tests.test_engine_deals import make_world

pytestmark = pytest.mark.django_db


def links(world):
    return RecordLink.objects.filter(object_sync=world.syncs[CONTACTS])


def test_a_survivor_with_a_new_id_takes_over_the_link_of_the_one_synced_record(memory_connections):
    world = make_world(kinds=(CONTACTS,))
    ann = world.contact("a", "ann@x.example")
    world.run(CONTACTS)
    b_ann = world.other_id(CONTACTS, "a", ann)
    draft = world.apps.a.create(CONTACTS, first="Ann")  # no email: never synced
    survivor = world.apps.a.merge(CONTACTS, [ann, draft], new_id=True)
    assert survivor not in (ann, draft)
    world.apps.a.edit(CONTACTS, survivor, last="Merged")
    world.run(CONTACTS)
    link = links(world).get()
    assert (link.id_a, link.id_b, link.status) == (survivor, b_ann, LinkStatus.IN_SYNC)
    assert list(world.apps.b.all(CONTACTS)) == [b_ann]  # no duplicate created on B
    assert world.apps.b.get(CONTACTS, b_ann, "last") == "Merged"


def test_two_synced_records_merged_into_a_new_id_leave_one_link_and_name_the_duplicate(memory_connections):
    world = make_world(kinds=(CONTACTS,))
    ann, other = world.contact("a", "ann@x.example"), world.contact("a", "ann.doe@x.example")
    world.run(CONTACTS)
    b_ann, b_other = world.other_id(CONTACTS, "a", ann), world.other_id(CONTACTS, "a", other)
    survivor = world.apps.a.merge(CONTACTS, [ann, other], new_id=True)
    world.run(CONTACTS)
    followed = links(world).get(id_a=survivor)
    assert followed.id_b == b_ann and followed.status == LinkStatus.IN_SYNC
    duplicate = links(world).get(id_b=b_other)
    assert duplicate.status == LinkStatus.DELETED_A
    assert duplicate.error_category == ErrorCategory.DUPLICATE_RECORD.code and survivor in duplicate.last_error
    assert sorted(world.apps.b.all(CONTACTS)) == sorted([b_ann, b_other])  # nothing created
    world.run(CONTACTS)  # and a second run keeps it that way
    assert links(world).count() == 2 and len(world.apps.b.all(CONTACTS)) == 2
