"""The HubSpot connector (CRM v3/v4 API): the contract of connectors/base.py over
HubSpotClient. Everything is batched (100 records per call), reads page with `after`, and
incremental reads use search with a (modification time, id) keyset that never pages past
HubSpot's 10,000-result cap, however many records share one timestamp.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from connectors.base import (
    COMPANIES,
    CONTACTS,
    DEALS,
    OBJECT_TYPE_LABELS,
    PRODUCTS,
    CheckResult,
    Connector,
    CredentialParam,
    DefaultField,
    DeletedPage,
    DeletedRecord,
    FieldSpec,
    FieldType,
    ObjectTypeInfo,
    Option,
    Page,
    Pipeline,
    Record,
    Stage,
    load_option_maps,
)
from connectors.errors import ConnectorError, ErrorCategory
from connectors.fanout import parallel_calls, run_all, threads_allowed
from connectors.hubspot import reads, writes
from connectors.hubspot.client import PUBLIC_API, PUBLIC_AUTHORIZE, HubSpotClient, credentials_from_tokens
from connectors.hubspot.defaults import DEFAULT_FIELDS, OPTION_MAPS_FILE, OPTIONAL_SCOPES, REQUIRED_SCOPES
from connectors.readahead import in_consumer, read_ahead

# Where Syncsite's own HubSpot emulator is mounted: it also serves the app's record pages at
# HubSpot's paths under its base URL, so links from the health pages open there.
SANDBOX_PATH = "/sandbox/hubspot"
APP_TYPE_IDS = {CONTACTS: "0-1", COMPANIES: "0-2", DEALS: "0-3", PRODUCTS: "0-7"}
PAGE_RECORDS = 1000  # records per page of read_changes: the v4 association batch read's 1,000 inputs
_TYPES = {"string": FieldType.TEXT, "phone_number": FieldType.TEXT, "number": FieldType.NUMBER,
          "bool": FieldType.BOOL, "date": FieldType.DATE, "datetime": FieldType.DATETIME,
          "enumeration": FieldType.ENUMERATION}


class HubSpotConnector(Connector):
    key = "hubspot"
    label = "HubSpot"
    default_base_url = PUBLIC_API
    supports_oauth = True
    batch_size = 100
    credential_params = (
        CredentialParam("access_token", "Private app token or OAuth access token", secret=True, required=False,
                        help_text="A private app token (pat-...); leave blank to connect with OAuth."),
        CredentialParam("refresh_token", "OAuth refresh token", secret=True, required=False),
        CredentialParam("client_id", "OAuth client id", required=False),
        CredentialParam("client_secret", "OAuth client secret", secret=True, required=False,
                        help_text="Also verifies the signatures of HubSpot's webhooks."),
    )
    oauth_scopes = REQUIRED_SCOPES
    oauth_optional_scopes = OPTIONAL_SCOPES

    def __init__(self, base_url: str, credentials: Mapping[str, Any], **kwargs: Any) -> None:
        super().__init__(base_url, credentials, **kwargs)
        self.client = HubSpotClient(self.base_url, self.credentials, save_credentials=self._save_credentials,
                                    options=self.options, on_usage=self._report_usage)
        self._fields: dict[str, dict[str, FieldSpec]] = {}
        self._fixed_options: dict[str, set[str]] = {}  # enumerations whose options HubSpot owns

    def calls_side_by_side(self, calls):
        """Independent calls (the batches of one lookup, read or write) sent `parallel_calls`
        at a time (default 3, 1 where CONNECTOR_THREADS is off; connectors.fanout), each call's
        outcome in order."""
        return run_all(calls, workers=parallel_calls(self.options),
                       setup=self.client.http.own_session)

    def _report_usage(self, used: int, allowed: int) -> None:
        # `on_api_usage` is set on the instance by whoever wants usage figures (the Connection).
        callback = getattr(self, "on_api_usage", None)
        if callback is not None:
            in_consumer(callback, used, allowed)  # it saves to the database: never from a read-ahead thread

    # --- discovery -------------------------------------------------------------------------
    def object_types(self) -> list[ObjectTypeInfo]:
        return [ObjectTypeInfo(t, t, OBJECT_TYPE_LABELS[t]) for t in (CONTACTS, COMPANIES, DEALS, PRODUCTS)]

    def fields(self, object_type: str) -> list[FieldSpec]:
        return list(self.field_map(object_type).values())

    def field_map(self, object_type: str) -> dict[str, FieldSpec]:
        if object_type not in self._fields:
            body = self.client.json("GET", f"/crm/v3/properties/{object_type}")
            props = _results(body)
            specs = [self._field_spec(object_type, p) for p in props]
            self._fields[object_type] = {s.name: s for s in specs if s is not None}
            self._fixed_options[object_type] = {
                str(p.get("name")) for p in props
                if (p.get("modificationMetadata") or {}).get("readOnlyOptions") or p.get("externalOptions")
            }
        return self._fields[object_type]

    @staticmethod
    def _field_spec(object_type: str, prop: Any) -> FieldSpec | None:
        if not isinstance(prop, Mapping) or not prop.get("name"):
            return None
        meta = prop.get("modificationMetadata") or {}
        field_type = _TYPES.get(str(prop.get("type")), FieldType.TEXT)
        options = tuple(Option(str(o.get("value")), str(o.get("label") or o.get("value")))
                        for o in prop.get("options") or [] if isinstance(o, Mapping) and not o.get("hidden"))
        return FieldSpec(
            name=str(prop["name"]), label=str(prop.get("label") or prop["name"]), type=field_type,
            read_only=bool(meta.get("readOnlyValue") or prop.get("calculated")),
            unique=bool(prop.get("hasUniqueValue")) or (object_type == CONTACTS and prop["name"] == "email"),
            options=options if field_type is FieldType.ENUMERATION else (),
            multi=field_type is FieldType.ENUMERATION and prop.get("fieldType") == "checkbox",
        )

    def default_fields(self, object_type: str) -> list[DefaultField]:
        return list(DEFAULT_FIELDS.get(object_type, []))

    def standard_options(self, object_type: str, key: str) -> dict[str, dict[str, str]]:
        return load_option_maps(OPTION_MAPS_FILE).get(object_type, {}).get(key, {})

    def can_add_options(self, object_type: str, spec: FieldSpec) -> bool:
        """Dropdowns, radios and checkboxes gain options through the properties API, except
        those whose options HubSpot keeps itself (owners, pipelines, stages: readOnlyOptions)."""
        self.field_map(object_type)
        return (spec.type is FieldType.ENUMERATION and not spec.read_only
                and spec.name not in self._fixed_options.get(object_type, set()))

    def add_options(self, object_type: str, field_name: str, options: Sequence[Option]) -> FieldSpec:
        """PATCH the property with its options and the new ones: HubSpot replaces the whole list,
        so the current one is read first (a concurrent edit in between would be lost: rare, and
        the next run adds what is still missing)."""
        path = f"/crm/v3/properties/{object_type}/{quote(field_name, safe='')}"
        current = self.client.json("GET", path)
        existing = [o for o in (current or {}).get("options") or [] if isinstance(o, Mapping)]
        have = {str(o.get("value")) for o in existing}
        added = [{"label": o.label or o.value, "value": o.value, "displayOrder": len(existing) + i, "hidden": False}
                 for i, o in enumerate(o for o in options if o.value not in have)]
        body = current
        if added:
            body = self.client.json("PATCH", path, json={"options": [*existing, *added]})
        spec = self._field_spec(object_type, body)
        if spec is None:
            raise ConnectorError(ErrorCategory.MALFORMED_RESPONSE, "HubSpot's property has no name")
        self.field_map(object_type)[spec.name] = spec
        return spec

    def pipelines(self, object_type: str) -> list[Pipeline]:
        body = self.client.json("GET", f"/crm/v3/pipelines/{object_type}")
        return [_pipeline(p) for p in _results(body) if not p.get("archived")]

    def create_pipeline(self, object_type: str, label: str, stages: Sequence[Stage]) -> Pipeline:
        """Create a pipeline (e.g. one per Salesforce record type); won/lost stages are closed.

        Idempotent by label: when a pipeline of that label exists (an earlier run made it), it is
        returned as it is. The plan's pipeline limit is a PERMISSION_DENIED error with vendor
        code PIPELINE_LIMIT_EXCEEDED and a message saying what to do.
        """
        if object_type != DEALS:
            raise ConnectorError(ErrorCategory.INVALID_PROPERTY_VALUE, f"Syncsite only creates deal pipelines, "
                                 f"not {object_type} ones", status=400)
        count = max(1, len(stages))
        payload = {"label": label, "displayOrder": 0, "stages": [
            {"label": s.label, "displayOrder": s.order if s.order else i,
             "metadata": {"isClosed": "true" if s.closed else "false",
                          "probability": "1.0" if s.won else "0.0" if s.closed else
                          f"{min(0.9, max(0.1, round((i + 1) / (count + 1), 1))):.1f}"}}
            for i, s in enumerate(stages)]}
        try:
            return _pipeline(self.client.json("POST", f"/crm/v3/pipelines/{object_type}", json=payload))
        except ConnectorError as exc:
            if exc.category is ErrorCategory.DUPLICATE_RECORD:
                existing = [p for p in self.pipelines(object_type) if p.label == label]
                if existing:
                    return existing[0]
            if "pipeline limit" in exc.message.lower():
                raise _pipeline_limit(exc, label) from exc
            raise

    def check(self) -> CheckResult:
        try:
            granted = self._granted_scopes()
            if granted is not None:
                missing = [s for s in REQUIRED_SCOPES if s not in granted]
            else:
                missing = self._probe_scopes()
        except ConnectorError as exc:
            return CheckResult(ok=False, message=str(exc))
        if missing:
            return CheckResult(ok=False, message="Missing scopes: " + ", ".join(missing), missing=missing)
        self._learn_account()
        return CheckResult(ok=True, message="Connected")

    def _learn_account(self) -> None:
        """Remember the hub id (and the app's domain) that record links need: OAuth tokens
        bring them, a private app's token does not."""
        if self.credentials.get("hub_id"):
            return
        try:
            body = self.client.json("GET", "/account-info/v3/details")
        except ConnectorError:
            return  # only links into the app need it; the connection works without
        if isinstance(body, Mapping) and str(body.get("portalId") or "").isdigit():
            domain = {"ui_domain": str(body["uiDomain"])} if body.get("uiDomain") else {}
            self._save_credentials(hub_id=int(body["portalId"]), **domain)

    def _granted_scopes(self) -> set[str] | None:
        """The OAuth token's scopes (None for private-app tokens, which have no token-info call).

        The token response names the scopes granted, and every refresh renews them, so a token
        that carries them is checked with one bearer call instead of HubSpot's token-info call,
        whose path would hold the token itself (paths end up in proxies' and servers' logs).
        """
        if not self.client.oauth:
            return None
        self.client._auth_headers()  # refresh first if the token is about to expire
        if self.credentials.get("scopes"):
            self._verify_token()
            return set(self.credentials["scopes"])
        body = self.client.json("GET", f"/oauth/v1/access-tokens/{quote(self.credentials['access_token'], safe='')}")
        return set((body or {}).get("scopes") or [])

    def _verify_token(self) -> None:
        """One authenticated read: raises if the token no longer works (a missing scope is fine:
        the granted scopes name it)."""
        try:
            self.client.call("GET", f"/crm/v3/objects/{CONTACTS}?limit=1")
        except ConnectorError as exc:
            if exc.category is not ErrorCategory.PERMISSION_DENIED:
                raise

    def _probe_scopes(self) -> list[str]:
        """Private apps: call one read per object type and collect the scopes HubSpot names."""
        missing: list[str] = []
        for object_type in (CONTACTS, COMPANIES, DEALS):
            for path in (f"/crm/v3/objects/{object_type}?limit=1", f"/crm/v3/properties/{object_type}"):
                try:
                    self.client.call("GET", path)
                except ConnectorError as exc:
                    if exc.category is not ErrorCategory.PERMISSION_DENIED:
                        raise
                    scopes = exc.message.rsplit("(missing scopes: ", 1)
                    names = scopes[1].rstrip(")").split(", ") if len(scopes) == 2 else [f"{object_type} access"]
                    missing += [n for n in names if n not in missing]
        return missing

    # --- reads -----------------------------------------------------------------------------
    def read_changes(self, object_type: str, cursor: Any = None) -> Iterator[Page]:
        """Pages of up to `page_records` records (default 1,000): several search pages of 200
        make one page, whose associations are read in one batch of up to 1,000 ids, and whose
        records the engine looks up and writes together, in full batches (a page of 200 cost one
        association read, one lookup and two half-full write batches per 200 records). Each page
        is read while the engine works on the one before (connectors.readahead; option
        `read_ahead`, default on unless CONNECTOR_THREADS is off), so that HubSpot's rate limit
        is spent while the engine works."""
        ahead = self.options.get("read_ahead", threads_allowed())
        pages = self._joined_pages(object_type, cursor, ahead=ahead)
        if not ahead:
            return pages
        return read_ahead(pages, setup=self.client.http.own_session, name=f"hubspot {object_type} read-ahead")

    def _joined_pages(self, object_type: str, cursor: Any, *, ahead: bool = False) -> Iterator[Page]:
        size = max(1, int(self.options.get("page_records", PAGE_RECORDS)))
        searched = _grouped(reads.read_changes(self, object_type, cursor), size)
        associations = self.options.get("read_associations", True)
        if ahead and associations:
            # Search has a limit of its own (5 per second), which binds a full read: the next
            # page's searches go on while this page's associations are read.
            searched = read_ahead(searched, setup=self.client.http.own_session, name=f"hubspot {object_type} search")
        try:
            for page in searched:
                if associations:
                    self._attach_associations(object_type, page.records)
                yield page
        finally:
            getattr(searched, "close", lambda: None)()

    def _attach_associations(self, object_type: str, records: list[Record]) -> None:
        for to_type in reads.ASSOCIATED.get(object_type, ()):
            found = reads.read_associations(self, object_type, [r.id for r in records], to_type)
            for record in records:
                record.associations[to_type] = found.get(record.id, [])

    def read(self, object_type: str, ids: Sequence[str]) -> dict[str, Record]:
        return reads.read(self, object_type, ids)

    def find(self, object_type: str, field_name: str, values: Sequence[str]) -> dict[str, list[Record]]:
        return reads.find(self, object_type, field_name, values)

    def read_deleted(self, object_type: str, cursor: Any = None) -> Iterator[DeletedPage]:
        since = str((cursor or {}).get("since") or "")
        newest, after = since, None
        while True:
            params = {"archived": "true", "limit": 100, **({"after": after} if after else {})}
            body = self.client.json("GET", f"/crm/v3/objects/{object_type}", params=params)
            records = []
            for item in _results(body):
                archived_at = str(item.get("archivedAt") or item.get("updatedAt") or "")
                if archived_at > since:  # ISO-8601 UTC strings sort as times
                    records.append(DeletedRecord(str(item["id"]), reads.parse_time(archived_at)))
                    newest = max(newest, archived_at)
            after = ((body or {}).get("paging") or {}).get("next", {}).get("after")
            yield DeletedPage(records, {"since": newest if not after else since})
            if not after:
                return

    def read_associations(self, object_type: str, ids: Sequence[str], to_type: str) -> dict[str, list[str]]:
        return reads.read_associations(self, object_type, ids, to_type)

    # --- writes ----------------------------------------------------------------------------
    def write(self, object_type, creates=(), updates=None):
        return writes.write(self, object_type, creates, updates or {})

    def delete(self, object_type, ids):
        return writes.delete(self, object_type, ids)

    def write_associations(self, object_type, to_type, pairs):
        return writes.write_associations(self, object_type, to_type, pairs)

    def remove_associations(self, object_type, to_type, pairs):
        return writes.remove_associations(self, object_type, to_type, pairs)

    # --- OAuth -----------------------------------------------------------------------------
    def authorize_url(self, redirect_uri: str, state: str) -> str:
        if not self.credentials.get("client_id"):
            raise ConnectorError(ErrorCategory.AUTHENTICATION_EXPIRED, "Set the OAuth client id first.")
        base = PUBLIC_AUTHORIZE if self.base_url == PUBLIC_API else f"{self.base_url}/oauth/authorize"
        query = {"client_id": self.credentials["client_id"], "redirect_uri": redirect_uri,
                 "scope": " ".join(REQUIRED_SCOPES), "optional_scope": " ".join(OPTIONAL_SCOPES), "state": state}
        return f"{base}?{urlencode(query, quote_via=quote)}"

    def exchange_code(self, code: str, redirect_uri: str) -> dict[str, Any]:
        tokens = self.client.token_request({
            "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "client_id": self.credentials.get("client_id", ""),
            "client_secret": self.credentials.get("client_secret", ""),
        })
        credentials = {**self.credentials, **credentials_from_tokens(tokens)}
        self.credentials.update(credentials)
        return credentials

    def close(self) -> None:
        self.client.http.close()

    def record_url(self, object_type: str, record_id: str) -> str:
        hub, app = self.credentials.get("hub_id"), self.app_url()
        if not hub or not app or not record_id or object_type not in APP_TYPE_IDS:
            return ""
        return f"{app}/contacts/{quote(str(hub), safe='')}/record/{APP_TYPE_IDS[object_type]}/{quote(str(record_id), safe='')}"

    def app_url(self) -> str:
        """Where the app's pages are: HubSpot's app for its public API, the base URL itself for
        Syncsite's sandbox, the `app_url` option for anything else (a proxy); '' when unknown."""
        if self.options.get("app_url"):
            return str(self.options["app_url"]).rstrip("/")
        if self.base_url == PUBLIC_API:
            return f"https://{self.credentials.get('ui_domain') or 'app.hubspot.com'}"
        if urlsplit(self.base_url).path.rstrip("/").endswith(SANDBOX_PATH):
            return self.base_url
        return ""


def _grouped(pages: Iterator[Page], size: int) -> Iterator[Page]:
    """Consecutive pages joined into pages of at most `size` records (a single larger page
    stays whole); each carries the cursor of its last part, which covers every record before it."""
    records: list[Record] = []
    total, cursor, pending = None, None, False
    for page in pages:
        if pending and len(records) + len(page.records) > size:
            yield Page(records, cursor, total)
            records, total = [], None
        records = records + page.records
        cursor, pending = page.cursor, True
        total = page.estimated_total if total is None else total
    if pending:
        yield Page(records, cursor, total)


def _results(body: Any) -> list[dict]:
    if not isinstance(body, Mapping) or not isinstance(body.get("results"), list):
        raise ConnectorError(ErrorCategory.MALFORMED_RESPONSE, "HubSpot's response has no 'results' list")
    return [r for r in body["results"] if isinstance(r, Mapping)]


def _pipeline_limit(exc: ConnectorError, label: str) -> ConnectorError:
    limit = re.search(r"\d+", exc.message)
    allows = f"this HubSpot account's plan allows {limit.group()} deal pipelines" if limit else exc.message
    return ConnectorError(
        ErrorCategory.PERMISSION_DENIED,
        f"Pipeline limit reached: {allows}, so the pipeline {label!r} was not created. Archive an unused deal "
        "pipeline in HubSpot or upgrade the plan, then retry.",
        vendor_code="PIPELINE_LIMIT_EXCEEDED", status=exc.status)


def _pipeline(body: Any) -> Pipeline:
    if not isinstance(body, Mapping) or "id" not in body:
        raise ConnectorError(ErrorCategory.MALFORMED_RESPONSE, "HubSpot's pipeline has no id")
    stages = []
    for s in sorted(body.get("stages") or [], key=lambda s: s.get("displayOrder", 0)):
        meta = s.get("metadata") or {}
        closed = str(meta.get("isClosed", "")).lower() == "true"
        won = closed and str(meta.get("probability")) in ("1.0", "1")
        stages.append(Stage(str(s["id"]), str(s.get("label") or s["id"]), int(s.get("displayOrder") or 0), closed, won))
    return Pipeline(str(body["id"]), str(body.get("label") or body["id"]), tuple(stages))
