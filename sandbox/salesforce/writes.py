"""Creates, updates, upserts and deletes, validated the way Salesforce validates them.

Every write is checked in Python first (no transaction open), then applied in one short
transaction. Per-record failures come back as `{statusCode, message, fields}` dicts; a value of
the wrong JSON type fails the whole request (JSON_PARSER_ERROR), as Salesforce does.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db import transaction

from sandbox import bulk
from sandbox.salesforce import schema, store
from sandbox.salesforce.models import Org, Record

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ID_RE = re.compile(r"^[0-9A-Za-z]{15}([0-9A-Za-z]{3})?$")


class RequestError(Exception):
    """The whole request fails: HTTP `status` with one `[{message, errorCode, fields}]` entry."""

    def __init__(self, code: str, message: str, status: int = 400, fields: list | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.fields = code, message, status, fields or []


def err(code: str, message: str, fields: list[str] | None = None) -> dict:
    return {"statusCode": code, "message": message, "fields": fields or []}


@dataclass
class Op:
    """One record to write: `sobject`, the payload, and the existing record for updates."""

    sobject: str
    payload: dict[str, Any]
    existing: Record | None = None
    error: dict | None = None
    data: dict[str, Any] = field(default_factory=dict)
    new_id: str = ""


def _coerce(f: schema.F, value: Any, sobject: str) -> Any:
    """The stored JSON form of a value, or RequestError(JSON_PARSER_ERROR)."""
    if value is None:
        return None
    bad = RequestError(
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {f.type} from {type(value).__name__} "
        f"value {value!r} or request may be missing a required field at [field {f.name} on {sobject}]",
    )
    if isinstance(value, (dict, list)):
        raise bad
    if f.type == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise bad
    if f.type in ("int", "double", "currency", "percent"):
        if isinstance(value, bool):
            raise bad
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise bad from None
        return int(number) if f.type == "int" else number
    if f.type == "date":
        if not isinstance(value, str) or len(value) != 10:
            raise bad
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            raise bad from None
    if f.type == "datetime":
        try:
            return store.format_datetime(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
        except ValueError:
            raise bad from None
    text = value if isinstance(value, str) else str(value)
    return text if text != "" else None  # Salesforce stores an empty string as null


class Validator:
    """Checks a batch of ops against the schema, the org's metadata and the existing data."""

    def __init__(self, org: Org, meta: store.OrgMeta) -> None:
        self.org = org
        self.meta = meta

    def prepare(self, ops: list[Op]) -> None:
        for op in ops:
            if op.error is None:
                op.error = self._fields(op)
        refs = self._load_references(ops)
        self._load_external_ids(ops)
        ext_seen: dict[tuple[str, str], str] = {}
        for op in ops:
            if op.error is None:
                op.error = self._values(op) or self._references(op, refs) or self._rules(op)
            if op.error is None:
                op.error = self._duplicates(op, ext_seen)
            if op.error is None and self.org.fault_lock_share and random.random() < self.org.fault_lock_share:
                op.error = err(
                    "UNABLE_TO_LOCK_ROW",
                    "unable to obtain exclusive access to this record or 1 records: "
                    + (op.existing.sf_id if op.existing else "new record"),
                )

    def _fields(self, op: Op) -> dict | None:
        fields = self.meta.fields_of(op.sobject)
        obj = schema.OBJECTS.get(op.sobject)
        if fields is None or obj is None:
            return err("INVALID_TYPE", f"sObject type '{op.sobject}' is not supported.")
        if not obj.createable:
            return err("INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id")
        by_lower = {k.lower(): k for k in fields}
        data: dict[str, Any] = {}
        not_writable = []
        for key, value in op.payload.items():
            if key in ("attributes", "Id", "id") and (
                key != "Id" or op.existing is not None or value is None
            ):
                continue
            name = by_lower.get(key.lower())
            if name is None:
                return err("INVALID_FIELD", f"No such column '{key}' on sobject of type {op.sobject}", [key])
            f = fields[name]
            if not (f.updateable if op.existing else f.createable):
                not_writable.append(name)
                continue
            data[name] = _coerce(f, value, op.sobject)
        if not_writable:
            return err(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                "Unable to create/update fields: "
                + ", ".join(not_writable)
                + ". Please check the security settings of this field and verify that it is read/write "
                "for your profile or permission set.",
                not_writable,
            )
        op.data = data
        return None

    def _values(self, op: Op) -> dict | None:
        fields = self.meta.fields_of(op.sobject)
        merged = {**(op.existing.data if op.existing else {}), **op.data}
        values = dict(op.data)
        if op.sobject == "Opportunity" and "RecordTypeId" in values:
            # A new record type's sales process must still allow the stage the opportunity is in.
            values.setdefault("StageName", merged.get("StageName"))
        for name, value in values.items():
            f = fields[name]
            if (
                isinstance(value, str)
                and f.length
                and f.type not in ("reference", "id")
                and len(value) > f.length
            ):
                return err(
                    "STRING_TOO_LONG",
                    f"{f.label}: data value too large: {value[:40]} (max length={f.length})",
                    [name],
                )
            if f.type == "email" and value is not None and not EMAIL_RE.match(value):
                return err("INVALID_EMAIL_ADDRESS", f"{f.label}: invalid email address: {value}", [name])
            if f.restricted and value is not None:
                allowed = [v for v, _ in self.meta.picklist(f, merged.get("RecordTypeId"))]
                if value not in allowed:
                    return err(
                        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                        f"{f.label}: bad value for restricted picklist field: {value}",
                        [name],
                    )
        missing = [n for n, f in fields.items() if f.required and merged.get(n) in (None, "")]
        if missing:
            return err(
                "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing
            )
        return None

    def _load_references(self, ops: list[Op]) -> dict[str, Record]:
        ids = set()
        for op in ops:
            fields = self.meta.fields_of(op.sobject) or {}
            for name, value in op.data.items():
                if name in fields and fields[name].type == "reference" and value:
                    ids.add(to18(value) if isinstance(value, str) else value)  # a 15-character id works too
        return {
            r.sf_id: r
            for r in Record.objects.filter(org=self.org, sf_id__in=ids).only("sf_id", "sobject", "is_deleted")
        }

    def _references(self, op: Op, refs: dict[str, Record]) -> dict | None:
        fields = self.meta.fields_of(op.sobject)
        for name, value in op.data.items():
            f = fields[name]
            if f.type != "reference" or not value:
                continue
            if not ID_RE.match(value):
                return err("MALFORMED_ID", f"{f.label}: id value of incorrect type: {value}", [name])
            target = refs.get(value) or refs.get(to18(value))
            if target is None or target.sobject != f.reference_to:
                return err("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [name])
            if target.is_deleted:
                return err("ENTITY_IS_DELETED", "entity is deleted", [name])
            op.data[name] = target.sf_id
        return None

    def _rules(self, op: Op) -> dict | None:
        """The org's validation rules (one, fixed: opportunities cannot have a negative amount)."""
        amount = op.data.get("Amount")
        if op.sobject == "Opportunity" and isinstance(amount, (int, float)) and amount < 0:
            return err("FIELD_CUSTOM_VALIDATION_EXCEPTION", "Amount must not be negative.", [])
        return None

    def _load_external_ids(self, ops: list[Op]) -> None:
        """{(sobject, lowercased external id): [sf_id, ...]} of the live records holding the
        external ids these ops write (one query for the batch, not one per record)."""
        keys = {str(op.data["External_Id__c"]).lower() for op in ops if op.data.get("External_Id__c")}
        self.ext_holders: dict[tuple[str, str], list[str]] = {}
        if keys:
            rows = Record.objects.filter(org=self.org, ext_key__in=sorted(keys), is_deleted=False).order_by("pk")
            for sobject, ext_key, sf_id in rows.values_list("sobject", "ext_key", "sf_id"):
                self.ext_holders.setdefault((sobject, ext_key), []).append(sf_id)

    def _email_holders(self) -> dict[str, list[int]]:
        """{lowercased email: [pk, ...]} of the org's live contacts, read once per batch."""
        if not hasattr(self, "_emails"):
            self._emails: dict[str, list[int]] = {}
            rows = Record.objects.filter(org=self.org, sobject="Contact", is_deleted=False).only("data", "sf_id")
            for rec in rows:
                self._emails.setdefault((rec.data.get("Email") or "").lower(), []).append(rec.pk)
        return self._emails

    def _duplicates(self, op: Op, seen: dict[tuple[str, str], str]) -> dict | None:
        ext = op.data.get("External_Id__c")
        if ext:
            key = (op.sobject, ext.lower())
            mine = op.existing.sf_id if op.existing else ""
            other = seen.get(key) or next((i for i in self.ext_holders.get(key, []) if i != mine), None)
            if other and other != mine:
                return err(
                    "DUPLICATE_VALUE",
                    f"duplicate value found: External_Id__c duplicates value on record with id: {other}",
                    ["External_Id__c"],
                )
            seen[key] = mine or "(this request)"
        email = op.data.get("Email")
        if op.sobject == "Contact" and email and self.org.duplicate_rule_on_email:
            if any(not op.existing or pk != op.existing.pk for pk in self._email_holders().get(email.lower(), [])):
                return err("DUPLICATES_DETECTED", "Use one of these records?", [])
        return None


def to18(value: str) -> str:
    """The 18-character form of a 15-character id; other values unchanged."""
    return store.id18(value) if len(value) == 15 else value


def derive(op: Op, meta: store.OrgMeta, record: Record | None) -> dict[str, Any]:
    """The full data of the record after the write: defaults, names and stage-derived flags."""
    data = {**(record.data if record else {}), **op.data}
    fields = meta.fields_of(op.sobject) or {}
    if record is None:
        if "OwnerId" in fields and not data.get("OwnerId"):
            data["OwnerId"] = meta.default_user()
        if "CurrencyIsoCode" in fields and not data.get("CurrencyIsoCode"):
            data["CurrencyIsoCode"] = (meta.org.currencies or ["USD"])[0]
        if op.sobject == "Opportunity" and "RecordTypeId" in fields and not data.get("RecordTypeId"):
            data["RecordTypeId"] = meta.default_record_type()
        if op.sobject == "Lead" and not data.get("Status"):
            data["Status"] = schema.LEAD_STATUSES[0]
        if op.sobject == "OpportunityContactRole":
            data.setdefault("IsPrimary", False)
    if op.sobject in ("Contact", "Lead"):
        data["Name"] = " ".join(p for p in (data.get("FirstName"), data.get("LastName")) if p)
    if op.sobject == "Opportunity":
        stage = meta.stage(data.get("StageName")) or {}
        data["IsClosed"] = bool(stage.get("IsClosed"))
        data["IsWon"] = bool(stage.get("IsWon"))
        if "StageName" in op.data and "Probability" not in op.data:
            data["Probability"] = stage.get("DefaultProbability")
    return data


def apply(org: Org, meta: store.OrgMeta, ops: list[Op], all_or_none: bool = False) -> list[dict]:
    """Validate and write `ops`; one `{id, success, errors}` result per op, in order."""
    Validator(org, meta).prepare(ops)
    failed = any(op.error for op in ops)
    if all_or_none and failed:
        rolled = err(
            "ALL_OR_NONE_OPERATION_ROLLED_BACK",
            "Record rolled back because not all records were valid "
            "and the request was using AllOrNone header",
        )
        return [{"id": None, "success": False, "errors": [op.error or rolled]} for op in ops]
    good = [op for op in ops if op.error is None]
    _write(org, meta, good)
    return [
        {"id": op.new_id or op.existing.sf_id, "success": True, "errors": []}
        if op.error is None
        else {"id": op.existing.sf_id if op.existing else None, "success": False, "errors": [op.error]}
        for op in ops
    ]


def _write(org: Org, meta: store.OrgMeta, ops: list[Op]) -> None:
    moment = store.now()
    creates = [op for op in ops if op.existing is None]
    new_rows = []
    by_prefix: dict[str, list[Op]] = {}
    for op in creates:
        by_prefix.setdefault(schema.OBJECTS[op.sobject].prefix, []).append(op)
    for prefix, group in by_prefix.items():
        for op, new_id in zip(group, store.allocate_ids(org, prefix, len(group)), strict=True):
            op.new_id = new_id
    for op in creates:
        data = derive(op, meta, None)
        new_rows.append(
            Record(
                org=org,
                sobject=op.sobject,
                sf_id=op.new_id,
                data=data,
                created_date=moment,
                last_modified_date=moment,
                system_modstamp=moment,
                ext_key=_ext(data),
            )
        )
    changed = []
    for op in ops:
        if op.existing is not None:
            rec = op.existing
            rec.data = derive(op, meta, rec)
            rec.ext_key = _ext(rec.data)
            rec.last_modified_date = rec.system_modstamp = moment
            changed.append(rec)
    with transaction.atomic():
        bulk.insert_rows(Record, new_rows)
        bulk.update_rows(Record, changed, ["data", "ext_key", "last_modified_date", "system_modstamp"])
        _one_primary_role(org, [*new_rows, *changed], moment)


def _one_primary_role(org: Org, written: list[Record], moment) -> None:
    """An opportunity has at most one primary contact role: a role made primary demotes the
    others (the last one written in a request wins), which is an edit of theirs."""
    primary: dict[str, str] = {}
    for rec in written:
        if rec.sobject == "OpportunityContactRole" and rec.data.get("IsPrimary"):
            primary[rec.data["OpportunityId"]] = rec.sf_id
    if not primary:
        return
    demoted = []
    others = Record.objects.filter(
        org=org, sobject="OpportunityContactRole", is_deleted=False, data__OpportunityId__in=list(primary)
    ).exclude(sf_id__in=list(primary.values()))
    for rec in others:
        if rec.data.get("IsPrimary"):
            rec.data = {**rec.data, "IsPrimary": False}
            rec.last_modified_date = rec.system_modstamp = moment
            demoted.append(rec)
    bulk.update_rows(Record, demoted, ["data", "last_modified_date", "system_modstamp"])


def _ext(data: dict) -> str:
    value = data.get("External_Id__c")
    return value.lower() if value else ""
