"""Every rule of a sync in plain words (F2.9): the Review step and the sync's own page."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from syncrules.models import Direction, ObjectSync, StageMapping
from syncrules.wizard.limit import matching_text, option_label
from syncrules.wizard.mapping_rows import ARROWS, association_rows, direction_choices, mapping_rows
from syncrules.wizard.reading import AppData


@dataclass
class Section:
    title: str
    lines: list[str] = field(default_factory=list)
    step: str = ""


def summarize(sync: ObjectSync, data: AppData, pair_syncs: dict) -> list[Section]:
    a, b = sync.connection_a.name, sync.connection_b.name
    kind = sync.get_object_type_display().lower()
    direction = {d: label for d, label, _ in direction_choices(a, b)}[sync.direction]
    winner = a if sync.conflict_winner == "a" else b
    what = Section("What syncs", [f"{sync.get_object_type_display()} between {a} and {b}.", f"{direction}."], "select")
    if sync.direction == Direction.TWO_WAY:
        what.lines.append(f"When a field was edited in both apps within 5 minutes, {winner}'s value wins.")
    else:
        what.lines.append(f"{winner} wins conflicts; that never overrides the direction.")
    return [what, _mappings(sync, data), _associations(sync, data, pair_syncs), _limit(sync, data, kind)] + (
        [_deals(sync)] if sync.object_type == "deals" else [])


def _mappings(sync: ObjectSync, data: AppData) -> Section:
    section = Section("Field mappings", step="configure")
    rows = mapping_rows(data, sync.field_mappings.all()) if data.ok else []
    on = [r for r in rows if r.mapping.enabled and r.flow]
    off = [r for r in rows if not r.mapping.enabled]
    section.lines.append(f"{len(on)} field{'s' if len(on) != 1 else ''} sync:")
    section.lines += [f"{r.label_a} {r.arrow} {r.label_b}" + (" (custom)" if not r.mapping.is_default else "")
                      + (f"; {r.unmapped} option(s) unmapped: records carrying them fail" if r.unmapped else "")
                      for r in on]
    if off:
        section.lines.append("Turned off: " + ", ".join(f"{r.label_a} {ARROWS['']} {r.label_b}" for r in off) + ".")
    broken = [r for r in rows if r.mapping.enabled and not r.flow]
    if broken:
        section.lines.append("Skipped: " + "; ".join(f"{r.label_a} / {r.label_b}: {r.problem}" for r in broken))
    if not rows and not data.ok:
        section.lines.append(f"{sync.field_mappings.filter(enabled=True).count()} mappings on (the apps could not be read for their labels).")
    return section


def _associations(sync: ObjectSync, data: AppData, pair_syncs: dict) -> Section:
    rows = association_rows(sync, data, pair_syncs)
    lines = [f"{r.source} \u2192 {r.target}: " + ("kept in sync." if r.active else r.why) for r in rows]
    return Section("Associations", lines or ["None for this object type."], "configure")


def _limit(sync: ObjectSync, data: AppData, kind: str) -> Section:
    section = Section("Which records sync", step="limit")
    if sync.object_type == "contacts":
        section.lines.append("Only contacts with an email address sync." if sync.require_email
                             else "Contacts without an email address sync too (they cannot be matched).")
    if sync.object_type != "deals" and not sync.match_records:
        section.lines.append(f"Existing {kind} are not matched: every record is created in the other app.")
    elif data.ok:
        section.lines.append(matching_text(sync, data))
    for side in "ab":
        name = sync.connection(side).name
        filters = [f for f in sync.filters.all() if f.side == side]
        if not filters:
            section.lines.append(f"Every {kind[:-1]} from {name} may sync.")
            continue
        words = [f"{data.label(side, f.field)} {f.get_operator_display()} {option_label(data.spec(side, f.field), f.value)}".strip()
                 for f in filters]
        section.lines.append(f"{kind.capitalize()} from {name} sync only if " + ", and ".join(words)
                             + " (checked when a record first enters the sync).")
    return section


def _deals(sync: ObjectSync) -> Section:
    section = Section("Pipelines and stages", step="configure")
    for pm in sync.pipeline_mappings.prefetch_related("stage_mappings"):
        stages = pm.stage_mappings.all()
        section.lines.append(f"{pm.pipeline_a_label or pm.pipeline_a} \u27f7 {pm.pipeline_b_label or pm.pipeline_b}: "
                             + (", ".join(f"{s.stage_a_label or s.stage_a} \u27f7 {s.stage_b_label or s.stage_b}"
                                          for s in stages) or "no stage mapped"))
    if not section.lines:
        section.lines.append("No pipeline is mapped: no deal can sync.")
    section.lines.append("Only deals in mapped stages sync; deals are never matched.")
    if sync.sync_deals:
        section.lines.append("\u201cSync deals\u201d is on.")
    return section


def settings_signature(sync: ObjectSync) -> str:
    """A fingerprint of every rule that decides what a run reads and writes: a preview or an
    initial read made under another fingerprint is out of date."""
    rules = {
        "sync": [sync.direction, sync.conflict_winner, sync.require_email, sync.match_records, sync.sync_deals],
        "mappings": list(sync.field_mappings.order_by("pk").values_list("field_a", "field_b", "direction", "enabled",
                                                                        "value_map", "policy", "fallback_option")),
        "filters": list(sync.filters.order_by("pk").values_list("side", "field", "operator", "value")),
        "stages": list(StageMapping.objects.filter(pipeline_mapping__object_sync=sync).order_by("pk")
                       .values_list("stage_a", "stage_b")),
    }
    return hashlib.sha256(json.dumps(rules, sort_keys=True, default=str).encode()).hexdigest()[:16]
