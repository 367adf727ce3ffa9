"""The project's error categories, in one place: label, transient or permanent, how-to-fix hint.

Each category is backed by at least one real vendor error (see shared/reference/peers.md 1.11).
Connectors classify every vendor error into one of these, once, in their HTTP layer; the engine
decides on retries from `transient`; the health pages show `label`, `hint` and `colour`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


@dataclass(frozen=True)
class _Info:
    label: str
    transient: bool
    hint: str
    colour: str


class ErrorCategory(enum.Enum):
    """Why a record or a call failed, with what a person should do about it."""

    INVALID_PROPERTY_VALUE = _Info(
        "Property value isn't valid",
        False,
        "The app refused a value (wrong format, or an option that does not exist there). Fix the "
        "value in the source record, or add the option / a value map to the field mapping.",
        "#c0392b",
    )
    INVALID_EMAIL = _Info(
        "Invalid email address",
        False,
        "The app refused the record's email address, and the record cannot exist there without "
        "it. Correct the address in the source record; it is retried once the record changes.",
        "#c0392b",
    )
    MISSING_REQUIRED_FIELD = _Info(
        "Missing required field",
        False,
        "The app requires a field the record has no value for. Fill it in the source record, or "
        "map a field that always has a value to it.",
        "#c0392b",
    )
    TYPE_MISMATCH = _Info(
        "Type mismatch",
        False,
        "The value cannot be converted to the type of the field on the other side. Map the field "
        "to a compatible field (e.g. a text field), or fix the value.",
        "#c0392b",
    )
    VALUE_TOO_LONG = _Info(
        "Value too long",
        False,
        "The value is longer than the target field allows. Shorten it in the source record or "
        "map it to a longer field.",
        "#c0392b",
    )
    DUPLICATE_RECORD = _Info(
        "Duplicate record",
        False,
        "A record with the same unique value (e.g. email) already exists in the other app. Merge "
        "the duplicates or change the value, then retry.",
        "#d35400",
    )
    ASSOCIATION_FAILED = _Info(
        "Association failed",
        False,
        "The app refused an association (limit reached or the associated record is invalid). "
        "Check the associated records, then retry.",
        "#d35400",
    )
    WAITING_FOR_DEPENDENCY = _Info(
        "Waiting for a dependency",
        True,
        "An associated record has not synced yet. It is completed automatically once that record "
        "syncs; check that the associated object type has a sync turned on.",
        "#7f8c8d",
    )
    PERMISSION_DENIED = _Info(
        "Permission denied",
        False,
        "The connected user lacks a permission or scope for this object or field. Grant it in "
        "the app (or reconnect with the missing scopes), then retry.",
        "#8e44ad",
    )
    AUTHENTICATION_EXPIRED = _Info(
        "Authentication expired",
        True,
        "The app no longer accepts the connection's credentials. Reconnect the app from its "
        "connection page.",
        "#8e44ad",
    )
    CREDENTIALS_UNREADABLE = _Info(
        "Credentials cannot be read",
        False,
        "The connection's credentials were encrypted with another FIELD_ENCRYPTION_KEY. Reconnect "
        "the app from its connection page, or restore the old key in FIELD_ENCRYPTION_KEY "
        "(comma-separated after the new one).",
        "#8e44ad",
    )
    RATE_LIMITED = _Info(
        "Rate limited",
        True,
        "The app's API limit was reached. The record is retried automatically once the limit "
        "resets; lower the sync frequency if it happens often.",
        "#7f8c8d",
    )
    API_LIMIT_REACHED = _Info(
        "API allocation used up",
        True,
        "The share of the app's daily API allocation given to Syncsite is spent. Syncing resumes "
        "when the allocation frees up; raise the allocated share on the connection to go faster.",
        "#7f8c8d",
    )
    RECORD_DELETED = _Info(
        "Record deleted in the other app",
        False,
        "The linked record was deleted in the other app. Use 'Resync deleted records' to "
        "recreate it, or leave it unsynced.",
        "#7f8c8d",
    )
    RECORD_LOCKED = _Info(
        "Record locked",
        True,
        "The app had the record locked by another process. It is retried automatically.",
        "#7f8c8d",
    )
    AUTOMATION_REJECTED = _Info(
        "Rejected by the app's automation",
        False,
        "A validation rule, flow or trigger in the app refused the change. Review the rule with "
        "the app's administrator, then retry.",
        "#d35400",
    )
    UNMAPPED_STAGE = _Info(
        "Unmapped stage",
        False,
        "The deal is in a pipeline or stage that has no mapping. Map the stage in the sync's "
        "pipeline settings, or move the deal to a mapped stage.",
        "#7f8c8d",
    )
    APP_UNAVAILABLE = _Info(
        "App unavailable",
        True,
        "The app did not answer or answered with a server error. It is retried automatically.",
        "#7f8c8d",
    )
    MALFORMED_RESPONSE = _Info(
        "Malformed response",
        True,
        "The app sent a response Syncsite could not read (not the JSON it documents). It is "
        "retried automatically; if it persists, report it with the message shown.",
        "#7f8c8d",
    )
    UNKNOWN = _Info(
        "Unknown error",
        False,
        "Syncsite could not classify this error. Read the app's message; retry after fixing the "
        "cause, and report it if it is unclear.",
        "#c0392b",
    )

    @property
    def label(self) -> str:
        return self.value.label

    @property
    def transient(self) -> bool:
        return self.value.transient

    @property
    def hint(self) -> str:
        return self.value.hint

    @property
    def colour(self) -> str:
        return self.value.colour

    @property
    def code(self) -> str:
        """The stable lowercase name stored in the database."""
        return self.name.lower()

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        return [(member.code, member.label) for member in cls]

    @classmethod
    def from_code(cls, code: str) -> ErrorCategory:
        """Look a category up by its stored code; an unknown code reads as UNKNOWN."""
        try:
            return cls[code.upper()]
        except KeyError:
            return cls.UNKNOWN


class ConnectorError(Exception):
    """A failure talking to an app, already classified.

    `message` keeps the vendor's own words; `vendor_code` is the vendor's error code or
    category (e.g. INVALID_EMAIL, REQUIRED_FIELD_MISSING); `status` is the HTTP status if any.
    """

    def __init__(
        self,
        category: ErrorCategory,
        message: str,
        *,
        vendor_code: str = "",
        status: int | None = None,
        field: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.category = category
        self.message = message
        self.vendor_code = vendor_code
        self.status = status
        self.field = field
        self.retry_after = retry_after

    def __str__(self) -> str:
        code = f" [{self.vendor_code}]" if self.vendor_code else ""
        return f"{self.category.label}{code}: {self.message}"
