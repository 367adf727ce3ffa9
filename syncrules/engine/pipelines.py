"""Deal pipelines and stages in a run (F3.3): which deals sync, and their stage on the other side.

A deal's place is the pair (pipeline, stage). The engine treats it as one synthetic field,
`STAGE_KEY`, whose value is "pipeline<US>stage" and whose value map is the sync's stage
mappings, so the merge rules (deltas, conflicts, no ping-pong) apply to it unchanged: moving a
deal to another mapped stage on one side moves it on the other. Writes of the synthetic field
are expanded back into the apps' pipeline and stage fields just before they are sent.

Only deals in a mapped stage sync. Pipeline ids and stage ids are both needed: Salesforce
shares stage names across record types, HubSpot's stage ids are unique per portal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connectors.base import Connector, FieldSpec, FieldType, Option, Pipeline
from syncrules.engine.details import safe
from syncrules.engine.merge import A, B, FieldPair
from syncrules.models import ObjectSync

STAGE_KEY = "__stage__"
SEPARATOR = "\x1f"


def place(pipeline: str, stage: str) -> str:
    return f"{pipeline}{SEPARATOR}{stage}"


def split(value: str) -> tuple[str, str]:
    pipeline, _, stage = str(value).partition(SEPARATOR)
    return pipeline, stage


@dataclass
class SideStages:
    """One app's pipelines and the fields its deals keep them in."""

    pipelines: dict[str, Pipeline]
    pipeline_field: str | None  # None: the app has one implicit pipeline
    stage_field: str

    def pipeline_of(self, values: Mapping[str, Any]) -> str | None:
        value = values.get(self.pipeline_field) if self.pipeline_field else None
        if value in (None, "") and len(self.pipelines) == 1:
            return next(iter(self.pipelines))
        return None if value in (None, "") else str(value)

    def place_of(self, values: Mapping[str, Any]) -> str | None:
        stage = values.get(self.stage_field)
        pipeline = self.pipeline_of(values)
        return place(pipeline, str(stage)) if pipeline and stage not in (None, "") else None

    def describe(self, value: str | None) -> str:
        """'stage X of pipeline Y' in the app's labels, for messages."""
        if not value:
            return "no stage"
        pipeline_id, stage_id = split(value)
        pipeline = self.pipelines.get(pipeline_id)
        stage = next((s for s in pipeline.stages if s.id == stage_id), None) if pipeline else None
        return f"stage '{stage.label if stage else stage_id}' of pipeline '{pipeline.label if pipeline else pipeline_id}'"

    def expand(self, value: str) -> dict[str, str]:
        """The app's own fields for a synthetic stage value."""
        pipeline, stage = split(value)
        writes = {self.stage_field: stage}
        if self.pipeline_field and len(self.pipelines) > 1:
            writes[self.pipeline_field] = pipeline
        return writes


@dataclass
class DealStages:
    """The stage mappings of one deal sync, as the engine uses them."""

    sides: dict[str, SideStages]
    a_to_b: dict[str, str] = field(default_factory=dict)
    b_to_a: dict[str, str] = field(default_factory=dict)
    synced_pipelines: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, sync: ObjectSync, connectors: Mapping[str, Connector], fields: Mapping[str, Mapping[str, str]]) -> DealStages:
        """`fields`: per side, the default-field keys 'pipeline' and 'stage' -> the app's fields."""
        sides = {}
        for side in (A, B):
            pipelines = {p.id: p for p in connectors[side].pipelines(sync.object_type)}
            sides[side] = SideStages(pipelines, fields[side].get("pipeline"), fields[side].get("stage", ""))
        stages = cls(sides, synced_pipelines={A: set(), B: set()})
        for mapping in sync.pipeline_mappings.prefetch_related("stage_mappings").order_by("pk"):
            stages.synced_pipelines[A].add(mapping.pipeline_a)
            stages.synced_pipelines[B].add(mapping.pipeline_b)
            for stage in sorted(mapping.stage_mappings.all(), key=lambda s: s.pk):
                on_a, on_b = place(mapping.pipeline_a, stage.stage_a), place(mapping.pipeline_b, stage.stage_b)
                stages.a_to_b.setdefault(on_a, on_b)
                stages.b_to_a.setdefault(on_b, on_a)  # several A stages on one B stage: the first
        return stages

    def explain(self, changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Field changes (engine.details) as a person reads them: a deal's place as the apps'
        stage fields and its stage and pipeline labels, not the synthetic value."""
        for entry in changes:
            if entry["field_a"] == STAGE_KEY:
                entry["field_a"], entry["field_b"] = self.sides[A].stage_field, self.sides[B].stage_field
                describe = self.sides[entry["to"]].describe
                entry["old"], entry["new"] = (safe(describe(entry[k])) if entry[k] else None for k in ("old", "new"))
        return changes

    def augment(self, side: str, values: dict[str, Any]) -> None:
        values[STAGE_KEY] = self.sides[side].place_of(values)

    def unmapped(self, side: str, values: Mapping[str, Any]) -> str:
        """Why a deal with these values does not sync ('' when its stage is mapped)."""
        value = values.get(STAGE_KEY)
        if value and value in (self.a_to_b if side == A else self.b_to_a):
            return ""
        where = self.sides[side].describe(value)
        pipeline = split(value)[0] if value else None
        if pipeline is not None and pipeline not in self.synced_pipelines[side]:
            return f"The deal is in {where}, a pipeline this sync does not sync."
        return f"The deal is in {where}, which has no stage mapping in this sync."

    def pair(self, sync: ObjectSync) -> FieldPair:
        def spec(side: str) -> FieldSpec:
            values = self.a_to_b if side == A else self.b_to_a
            targets = self.b_to_a if side == A else self.a_to_b
            options = sorted(set(values) | set(targets.values()))
            return FieldSpec(STAGE_KEY, "Pipeline and stage", FieldType.ENUMERATION,
                             options=tuple(Option(v, v) for v in options))

        return FieldPair(
            STAGE_KEY, spec(A), spec(B), to_a=sync.flows_to(A), to_b=sync.flows_to(B),
            value_map={"a_to_b": self.a_to_b, "b_to_a": self.b_to_a},
        )

    def expand(self, side: str, values: Mapping[str, Any]) -> dict[str, Any]:
        if STAGE_KEY not in values:
            return dict(values)
        out = {k: v for k, v in values.items() if k != STAGE_KEY}
        if values[STAGE_KEY]:
            out.update(self.sides[side].expand(values[STAGE_KEY]))
        return out


def expand_all(stages: DealStages | None, side: str, items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [stages.expand(side, v) if stages else dict(v) for v in items]
