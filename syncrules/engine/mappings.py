"""Field mappings of an object sync: the connectors' defaults, and the engine's view of them."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from connectors.base import DEALS, Connector, DefaultField, FieldSpec, FieldType
from syncrules.engine.convert import FAIL_RECORD, mapping_directions
from syncrules.engine.merge import A, B, FieldPair
from syncrules.models import Direction, FieldMapping, ObjectSync

# Default-field keys a deal sync translates through its pipeline and stage mappings, never as fields.
PIPELINE_KEYS = frozenset({"pipeline", "stage"})


def pair_defaults(defaults_a: Sequence[DefaultField], defaults_b: Sequence[DefaultField]) -> list[tuple[str, str, str]]:
    """(key, field on A, field on B) for every canonical key both connectors propose, in A's order."""
    on_b = {d.key: d.field for d in defaults_b}
    return [(d.key, d.field, on_b[d.key]) for d in defaults_a if d.key in on_b]


def default_direction(spec_a: FieldSpec, spec_b: FieldSpec) -> str | None:
    """Two-way when the types allow it, else the one direction they allow (None: not mappable)."""
    directions = mapping_directions(spec_a, spec_b)
    for choice in (Direction.TWO_WAY, Direction.TO_B, Direction.TO_A):
        if choice.value in directions:
            return choice.value
    return None


def default_mapping_rows(
    kind: str,
    defaults: tuple[Sequence[DefaultField], Sequence[DefaultField]],
    specs_a: dict[str, FieldSpec],
    specs_b: dict[str, FieldSpec],
) -> list[tuple[str, str, str, str, int]]:
    """(key, field on A, field on B, direction, position) of each default mapping the two apps allow.

    Pairs whose fields do not exist or whose types are incompatible are left out.
    """
    rows = []
    for position, (key, field_a, field_b) in enumerate(pair_defaults(*defaults)):
        if (kind == DEALS and key in PIPELINE_KEYS) or field_a not in specs_a or field_b not in specs_b:
            continue
        direction = default_direction(specs_a[field_a], specs_b[field_b])
        if direction is not None:
            rows.append((key, field_a, field_b, direction, position))
    return rows


def create_default_mappings(
    sync: ObjectSync, connector_a: Connector | None = None, connector_b: Connector | None = None
) -> list[FieldMapping]:
    """Create the default FieldMapping rows of `sync` (idempotent: existing pairs are kept)."""
    connector_a = connector_a or sync.connection_a.connector()
    connector_b = connector_b or sync.connection_b.connector()
    kind = sync.object_type
    specs_a = {s.name: s for s in connector_a.fields(kind)}
    specs_b = {s.name: s for s in connector_b.fields(kind)}
    defaults = (connector_a.default_fields(kind), connector_b.default_fields(kind))
    rows = []
    for key, field_a, field_b, direction, position in default_mapping_rows(kind, defaults, specs_a, specs_b):
        value_map = default_value_map(connector_a, connector_b, kind, key, specs_a[field_a], specs_b[field_b])
        mapping, _ = FieldMapping.objects.get_or_create(
            object_sync=sync, field_a=field_a, field_b=field_b,
            defaults={"direction": direction, "is_default": True, "position": position, "value_map": value_map},
        )
        rows.append(mapping)
    return rows


def default_value_map(
    connector_a: Connector, connector_b: Connector, kind: str, key: str, spec_a: FieldSpec, spec_b: FieldSpec
) -> dict[str, dict[str, str]]:
    """The value map of a default mapping between enumerations: the connectors' standard option
    maps (their option_maps.json), then options alike by value or label; {} for other types."""
    if spec_a.type is not FieldType.ENUMERATION or spec_b.type is not FieldType.ENUMERATION:
        return {}
    suggested = suggest_value_map(spec_a, spec_b)
    standard_a, standard_b = connector_a.standard_options(kind, key), connector_b.standard_options(kind, key)
    return {
        "a_to_b": {**suggested["a_to_b"], **standard_value_map(standard_a, standard_b, spec_a, spec_b)},
        "b_to_a": {**suggested["b_to_a"], **standard_value_map(standard_b, standard_a, spec_b, spec_a)},
    }


def standard_value_map(source: Mapping, target: Mapping, source_spec: FieldSpec, target_spec: FieldSpec) -> dict[str, str]:
    """Source option -> target option through the canonical values of two standard option maps;
    of a canonical value's target options, the first the target field has (any, if it lists none).
    Only the source field's own options are listed (all of the map's, if it lists none)."""
    offered = {o.value for o in target_spec.options}
    own = {o.value for o in source_spec.options}
    out = {}
    for value, canonical in (source.get("to_canonical") or {}).items():
        if own and value not in own:
            continue
        for candidate in (target.get("from_canonical") or {}).get(canonical, []):
            if not offered or candidate in offered:
                out[value] = candidate
                break
    return out


def _writable(spec: FieldSpec) -> bool:
    return not spec.read_only and spec.type != FieldType.REFERENCE


def mapping_key(mapping: FieldMapping) -> str:
    """The key of a mapping's last synced values in RecordLink.last_values."""
    return f"{mapping.field_a}|{mapping.field_b}"


def build_pairs(
    sync: ObjectSync,
    mappings: Sequence[FieldMapping],
    specs_a: dict[str, FieldSpec],
    specs_b: dict[str, FieldSpec],
    casefold_fields: set[str] = frozenset(),
    addable: Mapping[str, Collection[str]] | None = None,
) -> tuple[list[FieldPair], list[str]]:
    """The engine's view of the enabled mappings, and a problem per mapping it must skip.

    `addable` names, per side, the fields whose app can add a missing option (add_option).
    """
    pairs, problems = [], []
    for mapping in mappings:
        if not mapping.enabled:
            continue
        spec_a, spec_b = specs_a.get(mapping.field_a), specs_b.get(mapping.field_b)
        if spec_a is None or spec_b is None:
            missing = mapping.field_a if spec_a is None else mapping.field_b
            problems.append(f"Mapping {mapping} skipped: field {missing} no longer exists.")
            continue
        # The engine honours a mapping saved with a direction the types do not allow (the wizard
        # refuses those): each value is converted if it can be, else its record fails with
        # TYPE_MISMATCH. Read-only and reference fields are never written.
        allowed = mapping_directions(spec_a, spec_b)
        flows = {
            side: sync.flows_to(side)
            and mapping.direction in (Direction.TWO_WAY, wanted)
            and _writable(spec_b if side == B else spec_a)
            for side, wanted in ((A, "to_a"), (B, "to_b"))
        }
        for side, wanted in ((A, "to_a"), (B, "to_b")):
            if flows[side] and wanted not in allowed:
                problems.append(f"Mapping {mapping} is not type-compatible {wanted.replace('_', ' ')}: values that "
                                f"cannot be converted fail as type mismatches.")
        casefold = mapping.field_a in casefold_fields or mapping.field_b in casefold_fields
        add_on = frozenset(s for s, f in ((A, mapping.field_a), (B, mapping.field_b)) if f in (addable or {}).get(s, ()))
        pairs.append(
            FieldPair(
                key=mapping_key(mapping), spec_a=spec_a, spec_b=spec_b, to_a=flows[A], to_b=flows[B],
                value_map=mapping.value_map or {}, casefold=casefold,
                # A record matched by email cannot sync without it: never skipped.
                policy=FAIL_RECORD if casefold else mapping.policy, fallback=mapping.fallback_option,
                add_options_on=add_on,
            )
        )
    return pairs, problems


def mappable_fields(spec: FieldSpec, others: Sequence[FieldSpec], *, spec_on: str = A) -> dict[str, set[str]]:
    """For the wizard's dropdown: the fields of the other side `spec` may map to, with directions.

    `spec_on` says which side `spec` is on; directions are named from side A's point of view.
    """
    result = {}
    for candidate in others:
        pair = (spec, candidate) if spec_on == A else (candidate, spec)
        directions = mapping_directions(*pair)
        if directions:
            result[candidate.name] = directions
    return result


def suggest_value_map(spec_a: FieldSpec, spec_b: FieldSpec) -> dict[str, dict[str, str]]:
    """A starting FieldMapping.value_map pairing enumeration options by value, then by label.

    Options left out have no counterpart: records holding them fail until a person maps them.
    """
    def pairs(source: FieldSpec, target: FieldSpec) -> dict[str, str]:
        by_value = {o.value.casefold(): o.value for o in target.options}
        by_label = {o.label.casefold(): o.value for o in target.options}
        mapped = {}
        for option in source.options:
            found = by_value.get(option.value.casefold()) or by_label.get(option.label.casefold())
            if found is not None and found != option.value:
                mapped[option.value] = found
        return mapped

    return {"a_to_b": pairs(spec_a, spec_b), "b_to_a": pairs(spec_b, spec_a)}


def suggest_options(source: FieldSpec, target: FieldSpec, threshold: float = 0.5) -> dict[str, str]:
    """For the wizard's value map editor: each source option's likely counterpart in `target`.

    Same value, then same label (ignoring case and spaces), then the most alike label by the
    stage auto-map's text similarity; options with nothing alike enough are left out.
    """
    from syncrules.stages import similarity

    def squash(text: str) -> str:
        return "".join(text.split()).casefold()

    by_value = {squash(o.value): o.value for o in target.options}
    by_label = {squash(o.label): o.value for o in target.options}
    suggested = {}
    for option in source.options:
        found = by_value.get(squash(option.value)) or by_label.get(squash(option.label))
        if found is None and target.options:
            score, best = max((similarity(option.label, o.label), o.value) for o in target.options)
            found = best if score >= threshold else None
        if found is not None:
            suggested[option.value] = found
    return suggested
