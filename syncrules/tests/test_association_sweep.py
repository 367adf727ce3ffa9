"""The association sweep (apps without an association change feed, like HubSpot) compares a
bounded slice of the links per run, going on where the last sweep stopped and wrapping around,
so its cost per run does not grow with the links and every link is still compared in time."""

from __future__ import annotations

import math

import pytest

from connectors.base import COMPANIES, CONTACTS
from syncrules.models import RecordLink
from syncrules.tests.memory_connector import MemoryConnector
from syncrules.tests.test_engine_deals import make_world

pytestmark = pytest.mark.django_db
LINKS, SLICE = 10, 3


@pytest.fixture
def swept(memory_connections, settings, monkeypatch):
    """Ten contacts of side A with their company, synced; a sweep is due at every run; each
    run's association reads are recorded per side as lists of ids."""
    settings.ASSOCIATION_SWEEP_SLICE = SLICE
    world = make_world(kinds=(COMPANIES, CONTACTS))
    acme = world.company("a", "Acme")
    contacts = [world.contact("a", f"p{n}@acme.example", acme) for n in range(LINKS)]
    world.run(COMPANIES, CONTACTS)  # the initial run reads every association: no sweep
    world.syncs[CONTACTS].refresh_from_db()
    world.syncs[CONTACTS].options = {"association_sweep_seconds": 0}
    world.syncs[CONTACTS].save()
    reads: list[tuple[str, list[str]]] = []
    original = MemoryConnector.read_associations

    def recording(self, object_type, ids, to_type):
        reads.append(("a" if self.app is world.apps.a else "b", list(ids)))
        return original(self, object_type, ids, to_type)

    monkeypatch.setattr(MemoryConnector, "read_associations", recording)
    return world, acme, contacts, reads


def sweep_once(world, reads) -> list[str]:
    """One contact run; the side A ids whose associations it read, in order."""
    reads.clear()
    world.run(CONTACTS)
    return [rid for side, ids in reads if side == "a" for rid in ids]


def in_pk_order(world, ids) -> list[str]:
    links = RecordLink.objects.filter(object_sync=world.syncs[CONTACTS]).order_by("pk")
    return [link.id_a for link in links if link.id_a in set(ids)]


def test_a_sweep_reads_the_associations_of_at_most_a_slice_of_the_links(swept):
    world, _, contacts, reads = swept
    for _ in range(3):
        read = sweep_once(world, reads)
        assert len(read) == SLICE and len(set(read)) == SLICE
        assert sum(len(ids) for side, ids in reads if side == "b") == SLICE  # side B's own sweep


def test_successive_sweeps_cover_every_link_in_order_and_wrap_around(swept):
    world, _, contacts, reads = swept
    order = in_pk_order(world, contacts)
    sweeps = [sweep_once(world, reads) for _ in range(math.ceil(LINKS / SLICE) + 1)]
    assert sweeps[0] == order[0:3] and sweeps[1] == order[3:6] and sweeps[2] == order[6:9]
    assert sweeps[3] == [order[9], order[0], order[1]]  # past the last link: on from the first
    assert sweeps[4] == order[2:5]
    assert set().union(*sweeps[:4]) == set(contacts)


def test_a_sweep_over_fewer_links_than_its_slice_reads_each_link_once(swept, settings):
    world, _, contacts, reads = swept
    settings.ASSOCIATION_SWEEP_SLICE = LINKS + 5
    for _ in range(2):
        read = sweep_once(world, reads)
        assert sorted(read) == sorted(contacts)


def test_an_association_change_outside_the_slice_is_caught_within_the_promised_sweeps(swept):
    world, acme, contacts, reads = swept
    order = in_pk_order(world, contacts)
    sweep_once(world, reads)  # the first slice: order[0:3]
    other = world.company("a", "Other")
    world.run(COMPANIES)
    moved = order[1]  # just swept: the slice comes back to it last
    world.apps.a.dissociate(CONTACTS, moved, COMPANIES, acme)
    world.apps.a.associate(CONTACTS, moved, COMPANIES, other, primary=True)
    b_moved, b_other = world.other_id(CONTACTS, "a", moved), world.other_id(COMPANIES, "a", other)
    promised = math.ceil(LINKS / SLICE)
    caught = None
    for number in range(1, promised + 1):
        sweep_once(world, reads)
        if world.apps.b.associations(CONTACTS, b_moved, COMPANIES) == [b_other]:
            caught = number
            break
    assert caught is not None and 1 < caught <= promised
