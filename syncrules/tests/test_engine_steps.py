"""The per-object-type steps (engine.steps) return what they find; the runner saves it.

Each step here runs against a RunContext with every database write refused (an INSERT, UPDATE
or DELETE raises): what it found must come back as StepResults, and only the runner's `apply`
turns them into saved links, outcomes and cursors.
"""

from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
from django.db import connection
from django.utils import timezone

from connectors.base import COMPANIES, CONTACTS
from syncrules.engine.associations import Associations
from syncrules.engine.context import RunContext, StepResult
from syncrules.engine.deletions import Deletions
from syncrules.engine.runner import Engine
from syncrules.engine.values import FINGERPRINTS, VALUE_CATEGORIES, Reevaluate
from syncrules.models import LinkStatus, RecordLink, RecordOutcome, SyncRun
from syncrules.tests.test_engine_deals import make_world

pytestmark = pytest.mark.django_db
WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.I)


class StoreWrite(AssertionError):
    """A step wrote to the database itself."""


@contextmanager
def no_database_writes():
    def refuse(execute, sql, params, many, context):
        if WRITE.match(sql):
            raise StoreWrite(sql[:120])
        return execute(sql, params, many, context)

    with connection.execute_wrapper(refuse):
        yield


def results_of(returned) -> list[StepResult]:
    """A hook's answer as a list (the runner accepts None, one result or an iterable)."""
    if returned is None:
        return []
    return [returned] if isinstance(returned, StepResult) else list(returned)


def context_for(world, kind: str, *, sweep_every: int | None = None) -> RunContext:
    sync = world.syncs[kind]
    if sweep_every is not None:
        sync.options = {**sync.options, "association_sweep_seconds": sweep_every}
        sync.save()
    run = SyncRun.objects.create(object_sync=sync, kind=SyncRun.Kind.INCREMENTAL)
    connectors = {"a": world.apps.a.connector(), "b": world.apps.b.connector()}
    return RunContext(sync, run, timezone.now, connectors, [])


@pytest.fixture
def linked(memory_connections):
    """Acme and Ann on side A, synced to B with no association between them yet."""
    world = make_world(kinds=(COMPANIES, CONTACTS))
    acme = world.company("a", "Acme")
    ann = world.contact("a", "ann@acme.example")
    world.run(COMPANIES, CONTACTS)
    return world, acme, ann


def test_the_refusing_database_wrapper_refuses_a_write():
    with no_database_writes(), pytest.raises(StoreWrite):
        SyncRun.objects.update(error="x")


def test_the_association_step_returns_its_link_changes_and_never_writes_them_itself(linked):
    world, acme, ann = linked
    world.apps.a.associate(CONTACTS, ann, COMPANIES, acme, primary=True)  # an association-only change
    context = context_for(world, CONTACTS)
    record = world.apps.a.connector().read(CONTACTS, [ann])[ann]
    step = Associations()
    with no_database_writes():
        results = results_of(step.before_sides(context)) + results_of(step.after_page(context, "a", [record]))
    changes = [change for result in results for change in result.changes]
    assert [change.link.id_a for change in changes] == [ann]
    assert [o.action for o in changes[0].outcomes] == [RecordOutcome.Action.ASSOCIATED]
    b_acme, b_ann = world.other_id(COMPANIES, "a", acme), world.other_id(CONTACTS, "a", ann)
    assert world.apps.b.associations(CONTACTS, b_ann, COMPANIES) == [b_acme]  # the app was written
    saved = RecordLink.objects.get(object_sync=world.syncs[CONTACTS], id_a=ann)
    assert not (saved.associations or {}).get(COMPANIES)  # the link was not
    assert changes[0].link.associations[COMPANIES] == [f"{acme}|{b_acme}"]


def test_the_association_sweep_returns_its_changes_and_its_cursor_for_the_runner_to_save(linked):
    world, acme, ann = linked
    world.apps.b.associate(CONTACTS, world.other_id(CONTACTS, "a", ann), COMPANIES,
                           world.other_id(COMPANIES, "a", acme), primary=True)
    context = context_for(world, CONTACTS, sweep_every=0)
    step = Associations()
    with no_database_writes():
        results = results_of(step.before_sides(context)) + results_of(step.after_sides(context))
    assert [c.link.id_a for r in results for c in r.changes] == [ann]
    assert {key for r in results for key in r.cursors} == {"assoc_a_companies", "assoc_b_companies"}
    assert world.apps.a.associations(CONTACTS, ann, COMPANIES) == [acme]
    assert RecordLink.objects.get(object_sync=world.syncs[CONTACTS], id_a=ann).associations.get(COMPANIES) in (None, [])


def test_the_deletion_step_returns_deleted_links_and_its_cursor_and_the_runner_saves_them(linked):
    world, acme, ann = linked
    world.apps.a.remove(CONTACTS, ann)
    context = context_for(world, CONTACTS, sweep_every=0)
    with no_database_writes():
        results = results_of(Deletions().before_sides(context))
    changes = [c for r in results for c in r.changes]
    assert [(c.link.id_a, c.link.status) for c in changes] == [(ann, LinkStatus.DELETED_A)]
    assert "deleted_a" in {key for r in results for key in r.cursors}
    link = RecordLink.objects.get(object_sync=world.syncs[CONTACTS], id_a=ann)
    assert link.status == LinkStatus.IN_SYNC  # nothing saved by the step
    engine = Engine(world.syncs[CONTACTS], context.run)
    engine.prepare(context.connectors)
    engine.apply(results)
    link.refresh_from_db()
    world.syncs[CONTACTS].refresh_from_db()
    assert link.status == LinkStatus.DELETED_A
    assert "deleted_a" in world.syncs[CONTACTS].extra_cursors
    assert RecordOutcome.objects.filter(run=context.run, link=link, action=RecordOutcome.Action.FAILED).count() == 1


def test_the_reevaluation_step_asks_for_retries_and_its_fingerprints_instead_of_saving_them(linked):
    world, _, _ = linked
    sync = world.syncs[CONTACTS]
    sync.extra_cursors = {**(sync.extra_cursors or {}), FINGERPRINTS: {}}  # as if every mapping changed
    sync.save()
    engine = Engine(sync, SyncRun.objects.create(object_sync=sync, kind=SyncRun.Kind.INCREMENTAL))
    engine.prepare({"a": world.apps.a.connector(), "b": world.apps.b.connector()})
    step = Reevaluate()
    with no_database_writes():
        first = results_of(step.before_sides(engine.context))
        last = results_of(step.after_retries(engine.context))
    assert [r.due_categories for r in first] == [VALUE_CATEGORIES]
    assert set(last[0].cursors[FINGERPRINTS]) == {pair.key for pair in engine.pairs}
    sync.refresh_from_db()
    assert sync.extra_cursors[FINGERPRINTS] == {}


def test_a_step_sees_the_run_through_a_narrow_context_not_the_engine():
    fields = set(RunContext.__dataclass_fields__)
    assert fields == {"sync", "run", "now", "connectors", "problems", "pairs", "created"}
    for capability in ("read", "write_creates", "retry", "after_page", "sides", "store"):
        assert not hasattr(RunContext, capability), capability
