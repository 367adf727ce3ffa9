"""Setting up a deal sync: pipelines mirrored by the app's rules, stage auto-map, prerequisites.

The wizard and the admin call these; the engine only reads the PipelineMapping/StageMapping
rows they leave. Everything here talks to the apps through the connector contract.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from connectors.base import COMPANIES, CONTACTS, DEALS, Connector, Pipeline
from connectors.errors import ConnectorError
from syncrules.models import ObjectSync, PipelineMapping, StageMapping
from syncrules.stages import auto_map

SIDES = ("a", "b")


def _other(side: str) -> str:
    return "b" if side == "a" else "a"


@dataclass
class PipelineSetup:
    """What `mirror_pipelines` did: pipelines created and mapped, and what it could not do."""

    created: list[str] = field(default_factory=list)
    mapped: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def map_pipelines(sync: ObjectSync, pipeline_a: Pipeline, pipeline_b: Pipeline) -> PipelineMapping:
    """Map two pipelines and their stages by auto-map (F3.1, F3.2); existing stage pairs stay."""
    with transaction.atomic():
        mapping, _ = PipelineMapping.objects.update_or_create(
            object_sync=sync, pipeline_a=pipeline_a.id,
            defaults={"pipeline_b": pipeline_b.id, "pipeline_a_label": pipeline_a.label,
                      "pipeline_b_label": pipeline_b.label},
        )
        taken = set(mapping.stage_mappings.values_list("stage_a", flat=True))
        for pair in auto_map(pipeline_a.stages, pipeline_b.stages):
            if pair.a.id not in taken:
                StageMapping.objects.create(pipeline_mapping=mapping, stage_a=pair.a.id, stage_a_label=pair.a.label,
                                            stage_b=pair.b.id, stage_b_label=pair.b.label)
    return mapping


@contextmanager
def _connectors(sync: ObjectSync, given: Mapping[str, Connector] | None) -> Iterator[Mapping[str, Connector]]:
    """The caller's connectors, or the connections' own, closed afterwards."""
    if given:
        yield given
        return
    made = {s: sync.connection(s).connector() for s in SIDES}
    try:
        yield made
    finally:
        for connector in made.values():
            connector.close()


def mirror_pipelines(
    sync: ObjectSync, connectors: Mapping[str, Connector] | None = None, limit: int | None = None
) -> PipelineSetup:
    """Give each pipeline of an app that asks for it (Salesforce record types) its own pipeline
    on the other side, named by that app's rule ("Salesforce - <record type id>"), created there
    if missing but never past `limit` pipelines in all (F6.2), and map their stages."""
    with _connectors(sync, connectors) as apps:
        return _mirror(sync, apps, settings.DEAL_PIPELINE_LIMIT if limit is None else limit)


def _mirror(sync: ObjectSync, connectors: Mapping[str, Connector], limit: int) -> PipelineSetup:
    setup = PipelineSetup()
    for side in SIDES:
        source, target = connectors[side], connectors[_other(side)]
        pipelines = source.pipelines(DEALS)
        labels = {p.id: source.mirrored_pipeline_label(p, pipelines) for p in pipelines}
        if not any(labels.values()):
            continue
        existing = {p.label: p for p in target.pipelines(DEALS)}
        for pipeline in pipelines:
            label = labels[pipeline.id]
            mirror = existing.get(label)
            if mirror is None:
                if len(existing) >= limit:
                    setup.problems.append(
                        f"'{pipeline.label}' was not mirrored: the other app already has {len(existing)} deal "
                        f"pipelines, the limit is {limit}. Its deals do not sync (F6.2)."
                    )
                    continue
                try:
                    mirror = target.create_pipeline(DEALS, label, pipeline.stages)
                except (ConnectorError, NotImplementedError) as exc:
                    setup.problems.append(f"'{label}' could not be created in the other app: {exc}")
                    continue
                existing[label] = mirror
                setup.created.append(label)
            pair = (pipeline, mirror) if side == "a" else (mirror, pipeline)
            map_pipelines(sync, *pair)
            setup.mapped.append(label)
    return setup


@dataclass
class Prerequisite:
    ok: bool
    message: str
    blocking: bool = True


def check_prerequisites(sync: ObjectSync, connectors: Mapping[str, Connector] | None = None) -> list[Prerequisite]:
    """What a deal sync needs, each explained (F3.5, F6.1, F6.9); blocking ones stop its runs."""
    if sync.object_type != DEALS:
        return []
    with _connectors(sync, connectors) as apps:
        return _check(sync, apps)


def _check(sync: ObjectSync, connectors: Mapping[str, Connector]) -> list[Prerequisite]:
    checks = []
    for side in SIDES:
        name = sync.connection(side).name
        result = connectors[side].check()
        checks.append(Prerequisite(result.ok, f"{name}: {result.message or ('connected' if result.ok else 'not connected')}"))
        try:
            pipelines = connectors[side].pipelines(DEALS)
        except ConnectorError as exc:
            checks.append(Prerequisite(False, f"{name}: the deal pipelines cannot be read ({exc}), so deals cannot sync."))
            continue
        if not any(p.stages for p in pipelines):
            checks.append(Prerequisite(False, f"{name} has no deal stages the connected user may read."))
    if any(getattr(c, "deal_switch", False) for c in connectors.values()):
        checks.append(Prerequisite(sync.sync_deals, "'Sync deals' is on." if sync.sync_deals else
                                   "Turn on 'Sync deals': no deal is created from opportunities until it is on."))
    mapped = StageMapping.objects.filter(pipeline_mapping__object_sync=sync).count()
    checks.append(Prerequisite(bool(mapped), f"{mapped} deal stages are mapped." if mapped else
                               "Map at least one deal stage: only deals in mapped stages sync."))
    pair = {sync.connection_a_id, sync.connection_b_id}
    for kind, noun in ((COMPANIES, "company"), (CONTACTS, "contact")):
        present = any({s.connection_a_id, s.connection_b_id} == pair for s in
                      ObjectSync.objects.filter(object_type=kind).exclude(state=ObjectSync.State.OFF))
        why = f"deal -> {noun} associations"
        checks.append(Prerequisite(present, f"A {noun} sync between the same apps is on, for {why}." if present
                                   else f"Turn on a {noun} sync between the same apps first, or {why} are not made.",
                                   blocking=False))
    return checks
