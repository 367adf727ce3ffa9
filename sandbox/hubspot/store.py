"""Reading and writing sandbox records the way HubSpot does: string values, validation with
per-property errors, duplicate emails, last-modified dates maintained on every write, and a
webhook event for every change (reference 1.3, 1.12, 1.14)."""

from __future__ import annotations

import functools
import json
import re
from datetime import UTC, date, datetime, time

from django.db import transaction
from django.utils import timezone

from sandbox import bulk
from sandbox.hubspot import associations, rollups, schema, webhooks
from sandbox.hubspot.models import CrmObject, Pipeline, Portal
from sandbox.hubspot.schema import DEFAULT_PROPERTIES, OBJECT_TYPES, PROPERTY_INDEX

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
NUMBER_RE = re.compile(r"^-?\d+(\.\d+)?$")
MAX_LENGTH = 65_536


def now_ms() -> datetime:
    now = timezone.now()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


@functools.lru_cache(maxsize=1024)  # a batch's records share their create and modify moments
def iso(value: datetime | None) -> str | None:
    """HubSpot's form of a moment: UTC to the millisecond, 2026-12-03T14:28:23.123Z."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(timespec="milliseconds")[:23] + "Z"


def epoch_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def parse_time(value: str) -> datetime | None:
    """Epoch milliseconds or ISO-8601, as HubSpot accepts on write and in filters."""
    value = str(value).strip()
    if re.fullmatch(r"-?\d+", value):
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def lastmod_property(object_type: str) -> str:
    return OBJECT_TYPES[object_type][2]


def serialize(obj: CrmObject, properties: list[str] | None = None, *, trace_id: str | None = None) -> dict:
    """A SimplePublicObject: only the requested properties (or the type's defaults)."""
    wanted = properties or DEFAULT_PROPERTIES[obj.object_type]
    known = PROPERTY_INDEX[obj.object_type]
    values = obj.properties
    props = {name: values.get(name) for name in wanted if name in known}
    ident, created, updated = str(obj.pk), iso(obj.created_at), iso(obj.updated_at)
    props["hs_object_id"] = ident
    props["createdate"] = created
    props[OBJECT_TYPES[obj.object_type][2]] = updated
    body = {"id": ident, "properties": props, "createdAt": created, "updatedAt": updated, "archived": obj.archived}
    if obj.archived:
        body["archivedAt"] = iso(obj.archived_at)
    if trace_id:
        body["objectWriteTraceId"] = trace_id
    return body


class Invalid(Exception):
    """A write HubSpot refuses; `status`, `category` and `body_errors` shape the response."""

    def __init__(self, status: int, category: str, message: str, errors: list | None = None, **extra) -> None:
        super().__init__(message)
        self.status, self.category, self.message = status, category, message
        self.errors = errors or []
        self.extra = extra

    def as_batch_error(self, context: dict) -> dict:
        body = {"status": "error", "category": self.category, "message": self.message, "context": context,
                "errors": self.errors, "links": {}}
        return body


def _check_value(portal: Portal, object_type: str, name: str, value: str, props: dict) -> tuple[str, str] | None:
    """(code, message) when `value` is not valid for property `name`, else None."""
    spec = PROPERTY_INDEX[object_type][name]
    kind = spec["type"]
    if len(value) > MAX_LENGTH:
        return "VALUE_TOO_LONG", f"Property {name} value exceeds the maximum length of {MAX_LENGTH} characters"
    if value == "":
        return None
    if name == "email" and not EMAIL_RE.match(value):
        return "INVALID_EMAIL", f"Email address {value} is invalid"
    if kind == "number" and not NUMBER_RE.match(value):
        return "INVALID_INTEGER", f"{value!r} is not a valid number"
    if kind == "bool" and value not in ("true", "false"):
        return "INVALID_BOOLEAN", f"{value!r} is not a valid boolean; use true or false"
    if kind in ("date", "datetime") and parse_time(value) is None:
        return "INVALID_DATE", f"{value!r} is not a valid date; use epoch milliseconds or ISO-8601"
    if kind == "date" and parse_time(value).astimezone(UTC).time() != time(0):
        # HubSpot stores date properties as midnight UTC and refuses any other time of day.
        moment = parse_time(value).astimezone(UTC)
        return "INVALID_DATE", f"{value} is at {moment:%H:%M:%S} UTC, not midnight!"
    if kind == "enumeration":
        allowed = _options(portal, object_type, name, props)
        chosen = value.split(";") if spec["fieldType"] == "checkbox" else [value]
        bad = [v for v in chosen if v not in allowed]
        if bad:
            return "INVALID_OPTION", f"{bad[0]} was not one of the allowed options: [{', '.join(allowed)}]"
    return None


def _options(portal: Portal, object_type: str, name: str, props: dict) -> list[str]:
    if object_type == "deals" and name == "pipeline":
        return list(Pipeline.objects.filter(portal=portal, object_type="deals", archived=False)
                    .values_list("pipeline_id", flat=True))
    if object_type == "deals" and name == "dealstage":
        pipeline = Pipeline.objects.filter(portal=portal, object_type="deals",
                                           pipeline_id=props.get("pipeline") or "default").first()
        return [stage["id"] for stage in pipeline.stages] if pipeline else []
    custom = (portal.property_options or {}).get(object_type, {}).get(name)
    return [opt["value"] for opt in custom] if custom is not None else _builtin_options(object_type, name)


@functools.cache  # the built-in lists never change; a batch checks one per record
def _builtin_options(object_type: str, name: str) -> list[str]:
    return [opt["value"] for opt in PROPERTY_INDEX[object_type][name]["options"]]


def _normalise(object_type: str, name: str, value: str) -> str:
    kind = PROPERTY_INDEX[object_type][name]["type"]
    if value and kind == "datetime":
        return iso(parse_time(value))
    if value and kind == "date":
        return parse_time(value).date().isoformat()
    return value


def _as_string(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def validate(portal: Portal, object_type: str, current: dict, incoming) -> dict:
    """The record's new property map, or Invalid with one error per bad property."""
    if not isinstance(incoming, dict):
        raise Invalid(400, "VALIDATION_ERROR", "Invalid input JSON: properties must be an object")
    known = PROPERTY_INDEX[object_type]
    merged = dict(current)
    problems = []
    values = {name: _as_string(value) for name, value in incoming.items()}
    if object_type == "deals" and "pipeline" in values and "dealstage" not in values and current.get("dealstage"):
        values["dealstage"] = current["dealstage"]  # a stage must belong to its (new) pipeline
    for name, value in values.items():
        if name not in known:
            problems.append((name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist'))
            continue
        if known[name]["modificationMetadata"]["readOnlyValue"]:
            problems.append((name, "READ_ONLY_VALUE", f'"{name}" is a read only property; its value cannot be set.'))
            continue
        problem = _check_value(portal, object_type, name, value, {**merged, **values})
        if problem:
            problems.append((name, *problem))
            continue
        if value == "":
            merged.pop(name, None)
        else:
            merged[name] = _normalise(object_type, name, value)
    if problems:
        details = [{"isValid": False, "message": msg, "error": code, "name": name} for name, code, msg in problems]
        raise Invalid(
            400, "VALIDATION_ERROR", "Property values were not valid: " + json.dumps(details),
            errors=[{"message": msg, "code": code, "context": {"propertyName": [name]}} for name, code, msg in problems],
        )
    if object_type == "deals":
        merged.setdefault("pipeline", "default")
    return merged


def existing_emails(portal: Portal, emails) -> dict[str, int]:
    """{lowercased email: contact id} for the live contacts among `emails` (one query)."""
    wanted = sorted({str(e).lower() for e in emails if e})
    if not wanted:
        return {}
    # Live and not merged-away are checked here: in the WHERE clause they would lead SQLite to
    # the (portal, type, archived) index, walking every contact instead of the emails' entries.
    rows = bulk.values(CrmObject, ["email", "id", "archived", "merged_into_id"],
                       f"portal_id = %s AND object_type = %s AND email IN ({bulk.marks(len(wanted))})",
                       [portal.pk, "contacts", *wanted])
    found: dict[str, int] = {}
    for email, pk, archived, merged_into in sorted(rows, key=lambda row: row[1]):
        if not archived and merged_into is None:
            found.setdefault(email, pk)
    return found


def check_unique_email(portal: Portal, object_type: str, props: dict, exclude_id: int | None = None,
                       known: dict[str, int] | None = None) -> None:
    """409 when another live contact has this email; `known` (from existing_emails) saves a query."""
    if object_type != "contacts" or not props.get("email"):
        return
    email = props["email"].lower()
    if known is not None and exclude_id is None:
        existing = known.get(email)
    else:
        existing = (CrmObject.objects.filter(portal=portal, object_type="contacts", archived=False, email=email)
                    .exclude(pk=exclude_id).values_list("pk", flat=True).first())
    if existing:
        raise Invalid(409, "CONFLICT", f"Contact already exists. Existing ID: {existing}")


def create(portal: Portal, object_type: str, incoming: dict, *, source: str = "INTEGRATION",
           known_emails: dict[str, int] | None = None) -> CrmObject:
    obj = prepare_create(portal, object_type, incoming, known_emails=known_emails)
    obj.save(force_insert=True)
    created_events(portal, obj, source=source)
    return obj


def prepare_create(portal: Portal, object_type: str, incoming: dict, *,
                   known_emails: dict[str, int] | None = None, stamp: datetime | None = None) -> CrmObject:
    """A new record, validated but not saved (batch creates insert them together, created at
    the batch's `stamp`)."""
    props = validate(portal, object_type, {}, incoming)
    check_unique_email(portal, object_type, props, known=known_emails)
    stamp = stamp or now_ms()
    return bulk.new(CrmObject, id=None, portal_id=portal.pk, object_type=object_type, properties=props,
                    email=props.get("email", "").lower(), created_at=stamp, updated_at=stamp, archived=False,
                    archived_at=None, merged_into_id=None)


def created_events(portal: Portal, obj: CrmObject, *, source: str = "INTEGRATION") -> None:
    if not portal.webhook_url:  # nothing to send: skip a call per property of every new record
        return
    webhooks.record_change(portal, obj.object_type, obj.pk, "creation", source=source)
    for name, value in obj.properties.items():
        webhooks.record_change(portal, obj.object_type, obj.pk, "propertyChange", name=name, value=value,
                               source=source)


UPDATE_FIELDS = ["properties", "email", "updated_at"]


def save_changes(updates: list[tuple[CrmObject, dict, bool]]) -> None:
    """Write what `update(..., deferred=...)` collected: per record only the keys that changed
    (an empty value removes its key), and the email column only where the email changed (its
    index is then left alone), in two executemany at most."""
    merged: dict[int, list] = {}
    for obj, changed, email_changed in updates:
        entry = merged.setdefault(obj.pk, [{}, obj, False])
        entry[0].update({k: v if v != "" else None for k, v in changed.items()})
        entry[1], entry[2] = obj, entry[2] or email_changed
    bulk.patch_json(CrmObject, "properties", [(pk, patch, obj.email, obj.updated_at)
                                              for pk, (patch, obj, email) in merged.items() if email],
                    also=["email", "updated_at"])
    bulk.patch_json(CrmObject, "properties", [(pk, patch, obj.updated_at)
                                              for pk, (patch, obj, email) in merged.items() if not email],
                    also=["updated_at"])


def update(portal: Portal, obj: CrmObject, incoming: dict, *, source: str = "INTEGRATION",
           deferred: list | None = None, stamp: datetime | None = None) -> CrmObject:
    """Validate and apply `incoming`; with `deferred`, (record, changed properties, whether its
    email changed) is appended there for the caller to save with the others of its batch (one
    UPDATE for the batch, of the changed keys alone) instead of saved now."""
    props = validate(portal, obj.object_type, obj.properties, incoming)
    email = props.get("email", "").lower()
    if email != obj.email:  # HubSpot checks an email when it changes
        check_unique_email(portal, obj.object_type, props, exclude_id=obj.pk)
    changed = {k: v for k, v in props.items() if obj.properties.get(k) != v}
    changed.update({k: "" for k in obj.properties if k not in props})
    email_changed = email != obj.email
    obj.properties = props
    obj.email = email
    obj.updated_at = stamp or now_ms()  # HubSpot bumps the last-modified date on every write
    if deferred is None:
        obj.save(update_fields=UPDATE_FIELDS)
    else:
        deferred.append((obj, changed, email_changed))
    for name, value in changed.items() if portal.webhook_url else ():
        webhooks.record_change(portal, obj.object_type, obj.pk, "propertyChange", name=name, value=value, source=source)
    if obj.object_type == "deals" and rollups.DEAL_INPUTS & changed.keys():
        rollups.touch_deals(portal, [obj.pk])
    return obj


def archive(portal: Portal, obj: CrmObject) -> None:
    if obj.archived:
        return
    stamp = now_ms()
    CrmObject.objects.filter(pk=obj.pk).update(archived=True, archived_at=stamp, updated_at=stamp)
    webhooks.record_change(portal, obj.object_type, obj.pk, "deletion")
    if obj.object_type == "deals":  # its associations stay (a restore brings them back), the roll-ups drop it
        rollups.touch_deals(portal, [obj.pk])


def resolve(portal: Portal, object_type: str, ident: str, *, id_property: str = "", archived: bool = False):
    """The record an id (or unique property value) names; merged-away ids resolve to the winner."""
    return resolve_many(portal, object_type, [str(ident)], id_property=id_property,
                        archived=archived).get(str(ident))


def resolve_many(portal: Portal, object_type: str, idents: list[str], *, id_property: str = "",
                 archived: bool = False) -> dict[str, CrmObject]:
    """{ident: record} for the idents `resolve` would find, in one query (plus one per merge hop)."""
    if id_property and id_property != "hs_object_id":
        if id_property != "email" or object_type != "contacts":
            raise Invalid(400, "VALIDATION_ERROR", f"Property {id_property} is not a unique identifier property")
        by_email: dict[str, CrmObject] = {}
        emails = sorted({str(i).lower() for i in idents})
        if emails:
            found = bulk.fetch(CrmObject, f"portal_id = %s AND object_type = %s AND email IN ({bulk.marks(len(emails))})",
                               [portal.pk, object_type, *emails])  # archived below: see existing_emails
            for obj in sorted(found, key=lambda o: o.pk):
                if obj.archived == archived:
                    by_email.setdefault(obj.email, obj)
        return {i: by_email[str(i).lower()] for i in idents if str(i).lower() in by_email}
    # By primary key alone (the (portal, type, ...) indexes would scan the portal's records).
    rows = {obj.pk: obj for obj in _by_ids({int(i) for i in idents if schema.is_id(i)})
            if obj.portal_id == portal.pk and obj.object_type == object_type}
    hops = 0
    while hops < 10:
        pending = {o.merged_into_id for o in rows.values() if o.merged_into_id and o.merged_into_id not in rows}
        if not pending:
            break
        rows.update({obj.pk: obj for obj in _by_ids(pending)})
        hops += 1
    out = {}
    for ident in idents:
        obj = rows.get(int(ident)) if schema.is_id(ident) else None
        steps = 0
        while obj is not None and obj.merged_into_id and steps < 10:
            obj, steps = rows.get(obj.merged_into_id), steps + 1
        if obj is not None and obj.archived == archived:
            out[ident] = obj
    return out


def _by_ids(ids) -> list[CrmObject]:
    ids = sorted(ids)
    return bulk.fetch(CrmObject, f"id IN ({bulk.marks(len(ids))})", ids) if ids else []


NEW_ID_ON_MERGE = ("contacts", "companies")


def merge(portal: Portal, object_type: str, primary_id: str, other_id: str) -> CrmObject:
    """Merge `other_id` into `primary_id` (the primary's values win).

    Contacts and companies come out of a merge as a NEW record with a new id, as HubSpot's do:
    both old ids resolve to it and its hs_merged_object_ids lists them. Other types keep the
    primary's id."""
    primary = resolve(portal, object_type, primary_id)
    other = resolve(portal, object_type, other_id)
    if primary is None or other is None:
        raise Invalid(404, "OBJECT_NOT_FOUND", "Object not found. objectId are usually numeric.")
    if primary.pk == other.pk:
        raise Invalid(400, "VALIDATION_ERROR", "Cannot merge a record with itself")
    new_id = object_type in NEW_ID_ON_MERGE
    with transaction.atomic():
        merged_ids = [i for obj in (primary, other)
                      for i in (obj.properties.get("hs_merged_object_ids") or "").split(";") if i]
        gone = [primary, other] if new_id else [other]
        merged_ids += [str(obj.pk) for obj in gone]
        props = {**{k: v for k, v in other.properties.items() if k != "email"}, **primary.properties}
        props["hs_merged_object_ids"] = ";".join(dict.fromkeys(merged_ids))
        stamp = now_ms()
        if new_id:
            survivor = CrmObject.objects.create(
                portal=portal, object_type=object_type, properties=props, email=primary.email,
                created_at=min(primary.created_at, other.created_at), updated_at=stamp)
        else:
            survivor = primary
            survivor.properties, survivor.updated_at = props, stamp
            survivor.save(update_fields=["properties", "updated_at"])
        CrmObject.objects.filter(pk__in=[obj.pk for obj in gone]).update(merged_into=survivor, email="")
        CrmObject.objects.filter(merged_into__in=[obj.pk for obj in gone]).update(merged_into=survivor)
        if new_id:
            associations.move_all(portal, object_type, primary.pk, survivor.pk)
        associations.move_all(portal, object_type, other.pk, survivor.pk)
        if object_type == "contacts":
            rollups.touch_contacts(portal, [survivor.pk])
        elif object_type == "deals":
            rollups.touch_deals(portal, [survivor.pk])
    webhooks.record_change(portal, object_type, primary.pk, "merge", merged=[int(other.pk)],
                           newObjectId=int(survivor.pk))
    return survivor
