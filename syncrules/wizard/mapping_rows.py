"""What the Configure step shows about field mappings: rows, field groups, associations (no HTTP)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from connectors.base import COMPANIES, CONTACTS, DEALS, OBJECT_TYPE_LABELS, FieldSpec, FieldType
from connectors.errors import ErrorCategory
from syncrules.engine.convert import mapping_directions
from syncrules.models import Direction, FieldMapping, ObjectSync
from syncrules.wizard.reading import AppData

TYPE_LABELS = {
    FieldType.TEXT: "Text", FieldType.NUMBER: "Number", FieldType.BOOL: "Yes/no", FieldType.DATE: "Date",
    FieldType.DATETIME: "Date and time", FieldType.ENUMERATION: "Dropdown (options)",
}
ARROWS = {"two_way": "\u27f7", "to_b": "\u2192", "to_a": "\u2190", "": "\u2715"}


def direction_choices(a: str, b: str) -> list[tuple[str, str, str]]:
    """The three directions in the spec's words with the apps' names (F2.2)."""
    return [
        (Direction.TWO_WAY, f"Data syncs between {a} and {b}",
         "All new and updated records sync between the two apps; properties are merged for records "
         "that exist on both."),
        (Direction.TO_A, f"Data syncs only to {a}",
         f"New and updated records of {b} are copied to {a}; nothing is ever written to {b}."),
        (Direction.TO_B, f"Data syncs only to {b}",
         f"New and updated records of {a} are copied to {b}; nothing is ever written to {a}."),
    ]


def source_side(direction: str) -> str | None:
    """The side data flows from in a one-way sync (None for two-way)."""
    return {Direction.TO_A: "b", Direction.TO_B: "a"}.get(direction)


def _writable(spec: FieldSpec) -> bool:
    return not spec.read_only and spec.type != FieldType.REFERENCE


def effective_flow(sync: ObjectSync, mapping: FieldMapping, spec_a: FieldSpec, spec_b: FieldSpec) -> str:
    """How a mapping really syncs: its own direction, the sync's, and what the fields allow."""
    allowed = mapping_directions(spec_a, spec_b)
    to_a = (sync.flows_to("a") and mapping.direction in ("two_way", "to_a") and "to_a" in allowed
            and _writable(spec_a))
    to_b = (sync.flows_to("b") and mapping.direction in ("two_way", "to_b") and "to_b" in allowed
            and _writable(spec_b))
    return "two_way" if to_a and to_b else "to_a" if to_a else "to_b" if to_b else ""


@dataclass
class MappingRow:
    mapping: FieldMapping
    label_a: str
    label_b: str
    type_a: str = ""
    type_b: str = ""
    flow: str = ""
    arrow: str = ""
    problem: str = ""
    enum_pair: bool = False
    unmapped: int = 0
    narrower: bool = False


def mapping_rows(data: AppData, mappings: Iterable[FieldMapping]) -> list[MappingRow]:
    sync = data.sync
    rows = []
    for mapping in mappings:
        spec_a, spec_b = data.spec("a", mapping.field_a), data.spec("b", mapping.field_b)
        row = MappingRow(mapping, data.label("a", mapping.field_a), data.label("b", mapping.field_b))
        if spec_a is None or spec_b is None:
            missing = data.name("a") if spec_a is None else data.name("b")
            row.problem = f"This field no longer exists in {missing}: the mapping is skipped."
            row.arrow = ARROWS[""]
            rows.append(row)
            continue
        row.type_a, row.type_b = TYPE_LABELS.get(spec_a.type, spec_a.type), TYPE_LABELS.get(spec_b.type, spec_b.type)
        row.flow = effective_flow(sync, mapping, spec_a, spec_b)
        row.arrow = ARROWS[row.flow]
        row.narrower = bool(row.flow) and row.flow != sync.direction
        if not row.flow:
            row.problem = "Does not sync: neither field can be written in this sync's direction."
        row.enum_pair = bool(spec_a.options and spec_b.options)
        if row.enum_pair:
            row.unmapped = sum(len(u) for u in unmapped_options(mapping, spec_a, spec_b, row.flow).values())
        rows.append(row)
    return rows


def unmapped_options(mapping: FieldMapping, spec_a: FieldSpec, spec_b: FieldSpec, flow: str) -> dict[str, list]:
    """Per direction that syncs ("a_to_b", "b_to_a"): source options that have no target option."""
    result = {}
    for key, source, target, wanted in (("a_to_b", spec_a, spec_b, "to_b"), ("b_to_a", spec_b, spec_a, "to_a")):
        if flow not in (wanted, "two_way"):
            continue
        chosen = (mapping.value_map or {}).get(key) or {}
        values = {o.value for o in target.options}
        labels = {o.label.casefold() for o in target.options}
        result[key] = [o for o in source.options if chosen.get(o.value) not in values
                       and o.value not in values and o.label.casefold() not in labels]
    return result


def unmapped_consequence() -> str:
    category = ErrorCategory.INVALID_PROPERTY_VALUE
    return (f"Records that carry one of these options fail with \u201c{category.label}\u201d (the rest of the "
            f"record is not written) until the option is mapped.")


def field_groups(specs: dict[str, FieldSpec]) -> list[tuple[str, list[FieldSpec]]]:
    """An app's fields for the Add mapping dropdown, grouped by type, by label; no reference fields."""
    groups: dict[str, list[FieldSpec]] = {}
    for spec in sorted(specs.values(), key=lambda s: (s.label or s.name).casefold()):
        if spec.type in TYPE_LABELS:
            groups.setdefault(TYPE_LABELS[spec.type], []).append(spec)
    return sorted(groups.items())


def compatibility(data: AppData) -> dict[str, list[str]]:
    """{field on A: [fields on B it may map to]} for the inline script that narrows the dropdown."""
    out = {}
    others = [s for s in data.specs["b"].values() if s.type in TYPE_LABELS]
    for spec in data.specs["a"].values():
        if spec.type in TYPE_LABELS:
            out[spec.name] = [o.name for o in others if mapping_directions(spec, o)]
    return out


# The associations each object type's sync makes (F4.1, F4.2): (from type, to type).
ASSOCIATIONS = {
    CONTACTS: [(CONTACTS, COMPANIES)],
    COMPANIES: [(CONTACTS, COMPANIES), (DEALS, COMPANIES)],
    DEALS: [(DEALS, CONTACTS), (DEALS, COMPANIES)],
}


@dataclass
class AssociationRow:
    source: str
    target: str
    active: bool
    why: str
    app_objects: list[str] = field(default_factory=list)


def association_rows(sync: ObjectSync, data: AppData, pair_syncs: dict[str, ObjectSync]) -> list[AssociationRow]:
    """Which associations syncing this type creates, and which stay inactive for want of a sync."""
    rows = []
    names = {"a": data.name("a"), "b": data.name("b")}
    for source, target in ASSOCIATIONS.get(sync.object_type, []):
        needed = target if source == sync.object_type else source
        present = needed == sync.object_type or needed in pair_syncs
        label = OBJECT_TYPE_LABELS[needed].lower()
        why = (f"Made once both {OBJECT_TYPE_LABELS[source].lower()} and {OBJECT_TYPE_LABELS[target].lower()} sync "
               f"between {names['a']} and {names['b']}.")
        if not present:
            why = f"Inactive: no {label} sync runs between {names['a']} and {names['b']}. Set one up to keep it in sync."
        in_apps = [f"{names[side]}: {_name(data, side, source)} \u2192 {_name(data, side, target)}" for side in "ab"]
        rows.append(AssociationRow(OBJECT_TYPE_LABELS[source], OBJECT_TYPE_LABELS[target], present, why, in_apps))
    return rows


def _name(data: AppData, side: str, kind: str) -> str:
    return data.type_names[side].get(kind) or OBJECT_TYPE_LABELS[kind]
