"""How to fix each error category, as steps a person can follow, naming where to click.

The ErrorCategory hint says what is wrong in one sentence; these steps say where to go in the
app that refused the record (the target) or the app it came from (the source). Apps we know
get their own menu paths; any other app gets a generic wording.
"""

from __future__ import annotations

from connectors.base import OBJECT_TYPE_LABELS
from connectors.errors import ErrorCategory
from syncrules.models import ObjectSync

# Where things are in each app: {object} is the app's name of the object type (plural).
PLACES = {
    "hubspot": {
        "record": "CRM > {object}, search the record and edit the property in the left sidebar",
        "fields": "Settings > Data Management > Properties, pick the {object} object and open the property",
        "access": "Settings > Integrations > Private Apps (or reconnect with the missing scopes)",
        "automation": "Automation > Workflows, and the property's validation rules in Settings > Properties",
        "duplicates": "CRM > {object} > Actions > Manage duplicates",
    },
    "salesforce": {
        "record": "App Launcher > {object}, open the record and click Edit",
        "fields": "Setup > Object Manager > {object} > Fields & Relationships",
        "access": "Setup > Users > Permission Sets (or the integration user's profile)",
        "automation": "Setup > Object Manager > {object} > Validation Rules, and Setup > Flows",
        "duplicates": "Setup > Duplicate Rules, or open both records and use Merge",
    },
}
GENERIC = {
    "record": "the app's {object} list, open the record and edit it",
    "fields": "the app's field settings for {object}",
    "access": "the app's user and permission settings",
    "automation": "the app's validation rules and automations",
    "duplicates": "the app's duplicate management",
}

STEPS: dict[ErrorCategory, list[str]] = {
    ErrorCategory.INVALID_PROPERTY_VALUE: [
        "Read the message below: it names the field and the value {target} refused.",
        "In {source}, go to {source_record}, and correct the value.",
        "Or, if the value is right, add it as an option in {target}: {target_fields}; or give the field mapping a value map in the sync's settings.",
        "Come back here and click Retry.",
    ],
    ErrorCategory.MISSING_REQUIRED_FIELD: [
        "In {source}, go to {source_record}, and fill in the field the message names.",
        "Or map a field that always has a value to it in the sync's field mappings.",
        "Click Retry.",
    ],
    ErrorCategory.TYPE_MISMATCH: [
        "Check which field the message names: in {target}, {target_fields}.",
        "Map it to a field of a compatible type (a text field takes anything), or fix the value in {source}: {source_record}.",
        "Click Retry.",
    ],
    ErrorCategory.VALUE_TOO_LONG: [
        "In {source}, go to {source_record}, and shorten the value the message names.",
        "Or map it to a longer field in {target} ({target_fields}).",
        "Click Retry.",
    ],
    ErrorCategory.DUPLICATE_RECORD: [
        "In {target}, find the record that already holds the same unique value (e.g. the email): {target_duplicates}.",
        "Merge the duplicates, or change the value on one of them in {source}: {source_record}.",
        "Click Retry: the record then matches or is created.",
    ],
    ErrorCategory.ASSOCIATION_FAILED: [
        "Open the associated records in {target} ({target_record}) and check they exist and are valid.",
        "Remove associations over the app's limit, then click Retry.",
    ],
    ErrorCategory.WAITING_FOR_DEPENDENCY: [
        "Nothing to do if the associated object type has a sync turned on: the record completes once that record syncs.",
        "If it keeps waiting, open the associated sync's errors and fix the associated record first.",
    ],
    ErrorCategory.PERMISSION_DENIED: [
        "In {target}, grant the connected user access to this object and its fields: {target_access}.",
        "Test the connection from its page in Syncsite, then click Retry.",
    ],
    ErrorCategory.AUTHENTICATION_EXPIRED: [
        "Open the connection in Syncsite (Connections) and reconnect it (Connect with OAuth, or a new token).",
        "Runs resume at their next check; failed records are retried automatically.",
    ],
    ErrorCategory.RATE_LIMITED: [
        "Nothing to do: the record is retried once the app's limit resets.",
        "If it happens often, raise the sync's interval in its settings.",
    ],
    ErrorCategory.API_LIMIT_REACHED: [
        "Nothing to do: syncing resumes when the app's daily allocation frees up.",
        "To go faster, raise the share of the allocation Syncsite may use on the connection's page (api_budget_share).",
    ],
    ErrorCategory.RECORD_DELETED: [
        "Decide whether the record should exist in both apps.",
        "If so, click 'Resync deleted records' on this page to recreate it; otherwise leave it unsynced.",
    ],
    ErrorCategory.RECORD_LOCKED: [
        "Nothing to do: the record is retried automatically once the other process releases it.",
    ],
    ErrorCategory.AUTOMATION_REJECTED: [
        "Read the message: it is the rule's own text.",
        "Review the rule with the app's administrator in {target}: {target_automation}.",
        "Fix the record in {source} ({source_record}) to satisfy the rule, then click Retry.",
    ],
    ErrorCategory.UNMAPPED_STAGE: [
        "Map the deal's pipeline and stage in the sync's pipeline mappings in Syncsite.",
        "Or move the deal to a mapped stage in {source}: {source_record}. It syncs on the next run.",
    ],
    ErrorCategory.APP_UNAVAILABLE: ["Nothing to do: the record is retried automatically when the app answers again."],
    ErrorCategory.MALFORMED_RESPONSE: [
        "Nothing to do at first: it is retried automatically.",
        "If it persists, report it with the message shown.",
    ],
    ErrorCategory.UNKNOWN: [
        "Read the app's message below; fix the cause in the record ({source_record}) or the app.",
        "Click Retry; report the message if it stays unclear.",
    ],
}


def _place(kind: str, where: str, object_name: str) -> str:
    return PLACES.get(kind, GENERIC).get(where, GENERIC[where]).format(object=object_name)


def steps(category: ErrorCategory, source: tuple[str, str, str], target: tuple[str, str, str]) -> list[str]:
    """The category's steps for a record refused by `target`, each a (kind, app name, object
    name in that app) triple; `source` is the app the record's values came from."""
    names = {"source": source[1], "target": target[1]}
    for prefix, (kind, _name, object_name) in (("source", source), ("target", target)):
        for where in GENERIC:
            names[f"{prefix}_{where}"] = _place(kind, where, object_name)
    return [step.format(**names) for step in STEPS.get(category, STEPS[ErrorCategory.UNKNOWN])]


# What each app calls an object type, where it differs from the canonical label.
APP_OBJECT_NAMES = {"salesforce": {"companies": "Accounts", "deals": "Opportunities"}}


def steps_for(sync: ObjectSync, category: ErrorCategory, target_side: str) -> list[str]:
    """The steps for a record of `sync` refused by the app on `target_side` ("a" or "b")."""

    def app(side: str) -> tuple[str, str, str]:
        conn = sync.connection(side)
        name = APP_OBJECT_NAMES.get(conn.kind, {}).get(sync.object_type) or OBJECT_TYPE_LABELS.get(
            sync.object_type, sync.object_type.title())
        return conn.kind, conn.name, name

    source_side = "a" if target_side == "b" else "b"
    return steps(category, app(source_side), app(target_side))
