"""The deal part of Configure (F3, F6.1-F6.2): pipelines, stage pairs, auto-map, mirroring."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from connectors.base import Pipeline
from syncrules.deals import map_pipelines, mirror_pipelines
from syncrules.models import ObjectSync, StageMapping
from syncrules.wizard.base import int_or_none, pick, step_url
from syncrules.wizard.reading import AppData


def _find(pipelines: list[Pipeline], pipeline_id: str) -> Pipeline | None:
    return next((p for p in pipelines if p.id == pipeline_id), None)


def deal_context(sync: ObjectSync, data: AppData) -> dict:
    """Everything the deal section shows; no HTTP (the pipelines were read with the fields)."""
    pairs, mapped_a, mapped_b = [], set(), set()
    for pm in sync.pipeline_mappings.prefetch_related("stage_mappings"):
        pipe_a, pipe_b = _find(data.pipelines["a"], pm.pipeline_a), _find(data.pipelines["b"], pm.pipeline_b)
        chosen = {s.stage_a: s.stage_b for s in pm.stage_mappings.all()}
        stages = [{"index": i, "stage": s, "chosen": chosen.get(s.id, "")}
                  for i, s in enumerate(pipe_a.stages if pipe_a else ())]
        used_b = set(chosen.values())
        pairs.append({
            "mapping": pm, "a": pipe_a, "b": pipe_b, "stages": stages,
            "unmapped_a": [s["stage"].label for s in stages if not s["chosen"]],
            "unmapped_b": [s.label for s in (pipe_b.stages if pipe_b else ()) if s.id not in used_b],
        })
        mapped_a.add(pm.pipeline_a)
        mapped_b.add(pm.pipeline_b)
    unreadable = {side: f"{data.name(side)}: the connected user cannot read deal stages ({why}), so deals cannot "
                  f"sync. Give the integration user read access to deal pipelines." for side, why in
                  data.pipeline_errors.items()}
    for side in "ab":
        if side not in unreadable and not any(p.stages for p in data.pipelines[side]):
            unreadable[side] = f"{data.name(side)} has no deal stages the connected user can read, so deals cannot sync."
    mirror_side = next((s for s in "ab" if data.deal_switch.get(s)), None)
    other = {"a": "b", "b": "a"}.get(mirror_side or "", "")
    return {
        "pairs": pairs, "unreadable": list(unreadable.values()),
        "free_a": [p for p in data.pipelines["a"] if p.id not in mapped_a],
        "free_b": [p for p in data.pipelines["b"] if p.id not in mapped_b],
        "unmapped_pipelines": [p.label for p in data.pipelines["a"] if p.id not in mapped_a],
        "switch_side": mirror_side, "switch_app": data.name(mirror_side) if mirror_side else "",
        "mirror_target": data.name(other) if other else "",
        "mirror_target_count": len(data.pipelines[other]) if other else 0,
        "limit": settings.DEAL_PIPELINE_LIMIT,
    }


def save_stage_pairs(request: HttpRequest, sync: ObjectSync, data: AppData) -> None:
    """The stage dropdowns of every pipeline pair shown in the form."""
    listed = {int_or_none(v) for v in request.POST.getlist("pipeline_ids")} - {None}
    for pm in sync.pipeline_mappings.filter(pk__in=listed):
        pipe_a, pipe_b = _find(data.pipelines["a"], pm.pipeline_a), _find(data.pipelines["b"], pm.pipeline_b)
        if pipe_a is None or pipe_b is None:
            continue
        targets = {s.id: s for s in pipe_b.stages}
        with transaction.atomic():
            for index, stage in enumerate(pipe_a.stages):
                chosen = targets.get(pick(request, f"stage_{pm.pk}_{index}"))
                pm.stage_mappings.filter(stage_a=stage.id).delete()
                if chosen is not None:
                    StageMapping.objects.create(pipeline_mapping=pm, stage_a=stage.id, stage_a_label=stage.label,
                                                stage_b=chosen.id, stage_b_label=chosen.label)


def act(request: HttpRequest, sync: ObjectSync, data: AppData, errors: dict) -> HttpResponse | None:
    """The deal buttons: map (and auto-map) two pipelines, auto-map again, remove a pair, mirror."""
    stay = redirect(step_url(sync, "configure") + "#deals")
    if "_map_pipelines" in request.POST:
        pipe_a = _find(data.pipelines["a"], pick(request, "pipeline_a"))
        pipe_b = _find(data.pipelines["b"], pick(request, "pipeline_b"))
        if pipe_a is None or pipe_b is None:
            errors["pipelines"] = "Choose a pipeline in each app."
            return None
        try:
            mapping = map_pipelines(sync, pipe_a, pipe_b)
        except IntegrityError:
            errors["pipelines"] = f"{pipe_b.label} is mapped to another pipeline already."
            return None
        count = mapping.stage_mappings.count()
        messages.success(request, f"Mapped {pipe_a.label} to {pipe_b.label}; auto-map paired {count} of "
                                  f"{len(pipe_a.stages)} stages. Check the pairs below.")
        return stay
    if "_automap" in request.POST:
        return _automap(request, sync, data, stay)
    if "_remove_pipeline" in request.POST:
        sync.pipeline_mappings.filter(pk=int_or_none(pick(request, "_remove_pipeline"))).delete()
        messages.success(request, "Pipeline pair removed.")
        return stay
    if "_mirror" in request.POST:
        return _mirror(request, sync, stay)
    return None


def _automap(request, sync, data, stay):
    pm = sync.pipeline_mappings.filter(pk=int_or_none(pick(request, "_automap"))).first()
    pipe_a = pm and _find(data.pipelines["a"], pm.pipeline_a)
    pipe_b = pm and _find(data.pipelines["b"], pm.pipeline_b)
    if not (pipe_a and pipe_b):
        messages.error(request, "That pipeline pair is not there any more.")
        return stay
    pm.stage_mappings.all().delete()
    mapping = map_pipelines(sync, pipe_a, pipe_b)
    messages.success(request, f"Auto-map paired {mapping.stage_mappings.count()} of {len(pipe_a.stages)} stages.")
    return stay


def _mirror(request, sync, stay):
    try:
        setup = mirror_pipelines(sync)
    except Exception as exc:  # noqa: BLE001 - an app that refuses is a message, never a traceback
        messages.error(request, f"The pipelines could not be mirrored: {exc}")
        return stay
    messages.success(request, f"Created {len(setup.created)} pipeline(s) and mapped {len(setup.mapped)}.")
    for problem in setup.problems:
        messages.warning(request, problem)
    return stay

