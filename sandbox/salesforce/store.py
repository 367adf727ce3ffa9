"""Records as the API sees them: ids, timestamps, rows for SOQL, JSON rendering, org metadata."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from sandbox.salesforce import schema
from sandbox.salesforce.models import Org, Record

API_VERSION = "60.0"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"  # sorts like ASCII
SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def _base62(n: int, width: int) -> str:
    digits = []
    while n:
        n, r = divmod(n, 62)
        digits.append(ALPHABET[r])
    return "".join(reversed(digits)).rjust(width, "0")


def id18(id15: str) -> str:
    """The 18-character form: a case-safe checksum of the 15-character id (Salesforce's scheme)."""
    suffix = ""
    for chunk in (id15[0:5], id15[5:10], id15[10:15]):
        bits = sum(1 << i for i, ch in enumerate(chunk) if ch.isupper())
        suffix += SUFFIX[bits]
    return id15 + suffix


def make_id(prefix: str, org_pk: int, n: int) -> str:
    return id18(prefix + _base62(org_pk, 2) + _base62(n, 10))


def allocate_ids(org: Org, prefix: str, count: int) -> list[str]:
    """Reserve `count` new ids for the org (a short transaction; ids grow in creation order)."""
    with transaction.atomic():
        start = Org.objects.select_for_update().values_list("next_id", flat=True).get(pk=org.pk)
        Org.objects.filter(pk=org.pk).update(next_id=start + count)
    return [make_id(prefix, org.pk, start + i) for i in range(count)]


def now() -> datetime:
    """Audit timestamps have one-second precision in Salesforce, so many records share one."""
    return timezone.now().replace(microsecond=0)


def format_datetime(value: datetime) -> str:
    """Salesforce's form of a moment: 2026-12-03T14:28:23.000+0000 (UTC, whole seconds)."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(timespec="seconds")[:19] + ".000+0000"


def object_url(sobject: str, sf_id: str) -> str:
    return f"/services/data/v{API_VERSION}/sobjects/{sobject}/{sf_id}"


def row_of(record: Record) -> dict[str, Any]:
    """A record as SOQL sees it: field values, system fields as datetimes."""
    row = dict(record.data)
    row.update(
        Id=record.sf_id,
        IsDeleted=record.is_deleted,
        CreatedDate=record.created_date,
        LastModifiedDate=record.last_modified_date,
        SystemModstamp=record.system_modstamp,
    )
    row["_type"] = record.sobject
    return row


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def render(row: dict | None, sobject: str, paths: list[tuple[str, ...]], fields: dict) -> dict | None:
    """The JSON of one row for the selected paths, with relationships nested as Salesforce does."""
    if row is None:
        return None
    out: dict[str, Any] = {"attributes": {"type": sobject, "url": object_url(sobject, row["Id"])}}
    nested: dict[str, list[tuple[str, ...]]] = {}
    for path in paths:
        if len(path) == 1:
            name = _canonical(fields, path[0])
            out[name] = _json_value(row.get(name))
        else:
            nested.setdefault(path[0], []).append(path[1:])
    for rel_name, sub_paths in nested.items():
        rel = next(f for f in fields.values() if f.relationship.lower() == rel_name.lower())
        target = rel.reference_to
        out[rel.relationship] = render(
            row.get(rel.relationship), target, sub_paths, schema.OBJECTS[target].fields
        )
    return out


def _canonical(fields: dict, name: str) -> str:
    if name in fields:
        return name
    lower = name.lower()
    return next((k for k in fields if k.lower() == lower), name)


def attach_relationships(org: Org, rows: list[dict], sobject: str, paths, fields_of) -> None:
    """Load the related rows every path needs, in one query per relationship level."""
    by_rel: dict[str, list[tuple[str, ...]]] = {}
    for path in paths:
        if len(path) > 1:
            by_rel.setdefault(path[0].lower(), []).append(path[1:])
    fields = fields_of(sobject) or {}
    for rel_lower, sub_paths in by_rel.items():
        rel = next(f for f in fields.values() if f.relationship.lower() == rel_lower)
        ids = {r.get(rel.name) for r in rows if r.get(rel.name)}
        related = {rec.sf_id: row_of(rec) for rec in Record.objects.filter(org=org, sf_id__in=ids)}
        for r in rows:
            r[rel.relationship] = related.get(r.get(rel.name))
        children = [r for r in related.values()]
        attach_relationships(org, children, rel.reference_to, sub_paths, fields_of)


class OrgMeta:
    """Per-request view of the org's metadata: stages, record types and their business processes."""

    def __init__(self, org: Org) -> None:
        self.org = org
        rows = Record.objects.filter(
            org=org,
            sobject__in=["OpportunityStage", "RecordType", "BusinessProcess", "User"],
            is_deleted=False,
        )
        self.stages: list[dict] = []
        self.record_types: list[dict] = []
        self.processes: dict[str, dict] = {}
        self.users: list[str] = []
        for rec in rows.order_by("sf_id"):
            row = row_of(rec)
            if rec.sobject == "OpportunityStage":
                self.stages.append(row)
            elif rec.sobject == "RecordType":
                self.record_types.append(row)
            elif rec.sobject == "BusinessProcess":
                self.processes[rec.sf_id] = row
            else:
                self.users.append(rec.sf_id)
        self.stages.sort(key=lambda s: s.get("SortOrder") or 0)

    def fields_of(self, name: str) -> dict | None:
        """The fields of `name` this org's user sees (kept for the request: a batch asks per
        record). Callers must not change the dict."""
        cache = self.__dict__.setdefault("_fields_of", {})
        if name not in cache:
            obj = schema.visible_object(self.org, name)
            fields = None if obj is None else schema.visible_fields(self.org, obj)
            if fields is not None and name == "Opportunity" and not self.opportunity_record_types():
                fields.pop("RecordTypeId", None)  # the field only exists once record types do
            cache[name] = fields
        return cache[name]

    def opportunity_record_types(self) -> list[dict]:
        return [
            rt for rt in self.record_types if rt.get("SobjectType") == "Opportunity" and rt.get("IsActive")
        ]

    def default_record_type(self) -> str | None:
        types = self.opportunity_record_types()
        return types[0]["Id"] if types else None

    def stage(self, value: str | None) -> dict | None:
        return next((s for s in self.stages if s.get("ApiName") == value), None)

    def allowed_stages(self, record_type_id: str | None) -> list[dict]:
        """Active stages, narrowed to the record type's business process if it has one."""
        active = [s for s in self.stages if s.get("IsActive")]
        full_id = id18(record_type_id) if record_type_id and len(record_type_id) == 15 else record_type_id
        rt = next((r for r in self.record_types if r["Id"] == full_id), None)
        process = self.processes.get(rt.get("BusinessProcessId")) if rt else None
        if process is None:
            return active
        allowed = set(process.get("_stages") or [])
        return [s for s in active if s["ApiName"] in allowed]

    def picklist(self, f: schema.F, record_type_id: str | None = None) -> list[tuple[str, str]]:
        if f.picklist == "stages":
            return [(s["ApiName"], s["MasterLabel"]) for s in self.allowed_stages(record_type_id)]
        if f.picklist == "currencies":
            return [(c, c) for c in (self.org.currencies or ["USD"])]
        return [(v, v) for v in f.picklist]

    def default_user(self) -> str | None:
        return self.users[0] if self.users else None
