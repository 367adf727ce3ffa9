"""The contract every connector implements, and the plain dataclasses it speaks in.

The engine knows apps only through this module. Nothing vendor-specific leaks past it: object
types use the canonical names below, field values are plain Python values (str, int/float/
Decimal, bool, date, datetime, None; enumeration values are the app's option values), ids are
strings, cursors are JSON-serialisable values the engine stores and hands back unchanged.
"""

from __future__ import annotations

import enum
import functools
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from connectors.errors import ConnectorError, ErrorCategory

# Canonical object type names; each connector says which it has and what the app calls them.
CONTACTS = "contacts"
COMPANIES = "companies"
DEALS = "deals"
PRODUCTS = "products"
INVOICES = "invoices"
OBJECT_TYPE_LABELS = {
    CONTACTS: "Contacts",
    COMPANIES: "Companies",
    DEALS: "Deals",
    PRODUCTS: "Products",
    INVOICES: "Invoices",
}


class FieldType(enum.StrEnum):
    """The field types the engine converts between (FEATURES F2.4)."""

    TEXT = "text"
    NUMBER = "number"
    BOOL = "bool"
    DATE = "date"
    DATETIME = "datetime"
    ENUMERATION = "enumeration"
    REFERENCE = "reference"


@dataclass(frozen=True)
class ObjectTypeInfo:
    key: str  # canonical: contacts, companies, deals, ...
    app_name: str  # the app's own name: "Contact", "Account", "Opportunity", "contacts"
    label: str = ""


@dataclass(frozen=True)
class Option:
    value: str
    label: str


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    type: FieldType
    required: bool = False
    read_only: bool = False
    unique: bool = False
    options: tuple[Option, ...] = ()
    max_length: int | None = None
    multi: bool = False  # multi-select enumeration (values joined with ';')
    reference_to: str = ""  # canonical object type a reference points at


@dataclass(frozen=True)
class Stage:
    id: str
    label: str
    order: int = 0
    closed: bool = False
    won: bool = False


@dataclass(frozen=True)
class Pipeline:
    id: str
    label: str
    stages: tuple[Stage, ...] = ()


@dataclass
class Record:
    """One record as read from an app.

    `associations` maps a canonical object type to the ids of associated records of that type,
    primary first (only the primary company is ever synced, F4.3).
    """

    id: str
    values: dict[str, Any]
    modified_at: datetime | None = None
    associations: dict[str, list[str]] = field(default_factory=dict)
    archived: bool = False
    # Ids this record had before the app merged other records into it (HubSpot's
    # hs_merged_object_ids): links holding those ids now belong to this record.
    merged_ids: list[str] = field(default_factory=list)


@dataclass
class Page:
    """One page of changed records and the cursor to resume after it.

    `cursor` is only safe to persist once every record of this page (and those before it) has
    been durably recorded: the engine does that, the connector just reports it.
    """

    records: list[Record]
    cursor: Any
    estimated_total: int | None = None


@dataclass
class DeletedRecord:
    id: str
    deleted_at: datetime | None = None


@dataclass
class DeletedPage:
    records: list[DeletedRecord]
    cursor: Any


@dataclass
class WriteResult:
    """The result of writing one record: `ref` is the caller's key for the input (its index
    for creates, its id for updates); `id` is the app's id on success."""

    ref: Any
    id: str | None = None
    error: ConnectorError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class CheckResult:
    ok: bool
    message: str = ""
    missing: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CredentialParam:
    """A credential a connection needs; `secret` ones are encrypted and never shown back."""

    name: str
    label: str
    secret: bool = False
    required: bool = True
    help_text: str = ""


@dataclass(frozen=True)
class DefaultField:
    """A field the connector proposes for default mappings, keyed by a canonical name.

    Two connectors' defaults pair up where their `key` is the same (e.g. "email").
    """

    key: str
    field: str


def number_text(value: Any) -> str:
    """A number as plain text in one stable spelling (1000, never 1E+3 or 1000.0), for text
    fields and apps that take numbers as strings; anything else as str()."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    if not number.is_finite():
        return str(value)
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


@functools.cache
def load_option_maps(path: str) -> dict[str, dict[str, dict]]:
    """A connector's standard option maps (its option_maps.json): object type -> default key ->
    {"to_canonical", "from_canonical", "reasons"}. Read once per process."""
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    return {kind: maps for kind, maps in data.items() if not kind.startswith("_")}


class Connector:
    """Base class of every connector. Subclasses declare themselves and implement the methods.

    One instance serves one connection: it is built from the connection's base URL and
    decrypted credentials, and reports refreshed credentials through `on_credentials`.
    """

    key: ClassVar[str] = ""
    label: ClassVar[str] = ""
    default_base_url: ClassVar[str] = ""
    credential_params: ClassVar[tuple[CredentialParam, ...]] = ()
    supports_oauth: ClassVar[bool] = False
    batch_size: ClassVar[int] = 100
    # The app's deal sync needs the object sync's "Sync deals" switch on before any deal is
    # created from its records (Salesforce opportunities, FEATURES F6.1).
    deal_switch: ClassVar[bool] = False
    # Called with (used, allowed) whenever the app reports its API usage; Connection wires it.
    on_api_usage: Any = None

    def __init__(
        self,
        base_url: str,
        credentials: Mapping[str, Any],
        *,
        on_credentials: Any = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.credentials = dict(credentials)
        self.on_credentials = on_credentials
        self.options = dict(options or {})

    # --- discovery -------------------------------------------------------------------------
    def object_types(self) -> list[ObjectTypeInfo]:
        raise NotImplementedError

    def fields(self, object_type: str) -> list[FieldSpec]:
        raise NotImplementedError

    def default_fields(self, object_type: str) -> list[DefaultField]:
        raise NotImplementedError

    def pipelines(self, object_type: str) -> list[Pipeline]:
        raise NotImplementedError

    def check(self) -> CheckResult:
        raise NotImplementedError

    # --- reads -----------------------------------------------------------------------------
    def read_changes(self, object_type: str, cursor: Any = None) -> Iterator[Page]:
        """Pages of records changed since `cursor` (None: every record). One call per page."""
        raise NotImplementedError

    def read(self, object_type: str, ids: Sequence[str]) -> dict[str, Record]:
        """Records by id (batched); ids that no longer exist are absent from the result."""
        raise NotImplementedError

    def find(self, object_type: str, field_name: str, values: Sequence[str]) -> dict[str, list[Record]]:
        """Records whose `field_name` equals one of `values`, grouped by that value (batched)."""
        raise NotImplementedError

    def read_deleted(self, object_type: str, cursor: Any = None) -> Iterator[DeletedPage]:
        raise NotImplementedError

    def read_associations(
        self, object_type: str, ids: Sequence[str], to_type: str
    ) -> dict[str, list[str]]:
        """Associated ids of `to_type` for each id, primary first."""
        raise NotImplementedError

    def association_changes(self, object_type: str, to_type: str, cursor: Any = None) -> tuple[list[str], Any] | None:
        """Ids of `object_type` records whose associations to `to_type` changed since `cursor`,
        and the cursor to pass next time; None when the app cannot tell.

        An association change alone does not always touch the record's modified time, so
        `read_changes` can miss it. Apps with a change feed for associations (Salesforce's
        OpportunityContactRole has its own SystemModstamp) answer here; for the others (None)
        the engine compares the associations of linked records itself, on a slower sweep.
        With `cursor` None the answer starts from now: ([], a cursor).
        """
        return None

    # --- the app's own rules (defaults: the neutral choice) ----------------------------------
    def propagates_deletions(self, object_type: str) -> bool:
        """Whether deleting a record of this type here deletes its synced counterpart in the
        other app (Salesforce opportunities, F6.4); the reverse is the other connector's rule."""
        return False

    def mirrored_pipeline_label(self, pipeline: Pipeline, pipelines: Sequence[Pipeline]) -> str | None:
        """The label of the pipeline the other app must hold for `pipeline` (one of `pipelines`)
        when this app's pipelines are mirrored there (Salesforce: "Salesforce - <record type
        id>", F6.2); None: no mirroring, pipelines are mapped by hand or auto-map."""
        return None

    def create_pipeline(self, object_type: str, label: str, stages: Sequence[Stage]) -> Pipeline:
        """Create a pipeline with these stages (their labels and closed/won flags)."""
        raise NotImplementedError

    # --- options of enumeration fields -------------------------------------------------------
    def can_add_options(self, object_type: str, spec: FieldSpec) -> bool:
        """Whether the app's API lets Syncsite add a missing option to the enumeration `spec`
        (a mapping's "add the missing option" policy). Apps whose option lists are fixed say no
        (e.g. Salesforce restricted picklists, which only an administrator can extend)."""
        return False

    def add_options(self, object_type: str, field_name: str, options: Sequence[Option]) -> FieldSpec:
        """Add `options` (value and label) to the field, keeping every option it has; return the
        field's spec afterwards. Raises ConnectorError when the app refuses."""
        raise NotImplementedError

    def standard_options(self, object_type: str, key: str) -> dict[str, dict[str, str]]:
        """The connector's standard option map for the default mapping `key` (e.g. "industry"):
        {"to_canonical": {own value: canonical}, "from_canonical": {canonical: own value},
        "reasons": {own value: why it has no pair}}; empty when the field has none."""
        return {}

    # --- writes ----------------------------------------------------------------------------
    def write(
        self,
        object_type: str,
        creates: Sequence[Mapping[str, Any]] = (),
        updates: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> list[WriteResult]:
        """Create and update records in batches; one result per input, never an exception for
        a single bad record (whole-call failures raise ConnectorError)."""
        raise NotImplementedError

    def delete(self, object_type: str, ids: Sequence[str]) -> list[WriteResult]:
        raise NotImplementedError

    def write_associations(
        self, object_type: str, to_type: str, pairs: Sequence[tuple[str, str]]
    ) -> list[WriteResult]:
        """Associate each (from_id, to_id); the result's ref is the pair."""
        raise NotImplementedError

    def remove_associations(
        self, object_type: str, to_type: str, pairs: Sequence[tuple[str, str]]
    ) -> list[WriteResult]:
        raise NotImplementedError

    # --- OAuth (connectors with supports_oauth) ----------------------------------------------
    def authorize_url(self, redirect_uri: str, state: str) -> str:
        raise NotImplementedError

    def exchange_code(self, code: str, redirect_uri: str) -> dict[str, Any]:
        """Trade an authorization code for credentials to store on the connection."""
        raise NotImplementedError

    # --- helpers ---------------------------------------------------------------------------
    def close(self) -> None:
        """Release network resources such as kept-alive connections; the engine calls it after
        each run. The connector stays usable (a later call reconnects)."""
        return None

    def record_url(self, object_type: str, record_id: str) -> str:
        """A link a person can open to see the record in the app ('' when there is none)."""
        return ""

    def _save_credentials(self, **changes: Any) -> None:
        from connectors.readahead import in_consumer

        self.credentials.update(changes)
        if self.on_credentials:
            # Saved to the database on the consumer's thread when a read-ahead thread refreshed.
            in_consumer(self.on_credentials, dict(self.credentials))


__all__ = [
    "CONTACTS",
    "COMPANIES",
    "DEALS",
    "PRODUCTS",
    "INVOICES",
    "OBJECT_TYPE_LABELS",
    "CheckResult",
    "Connector",
    "ConnectorError",
    "CredentialParam",
    "DefaultField",
    "DeletedPage",
    "DeletedRecord",
    "ErrorCategory",
    "FieldSpec",
    "FieldType",
    "ObjectTypeInfo",
    "Option",
    "Page",
    "Pipeline",
    "Record",
    "Stage",
    "WriteResult",
]
