"""The Salesforce connector (REST API v60.0): contacts, companies (Account), deals (Opportunity)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import quote

from connectors.base import (
    COMPANIES,
    CONTACTS,
    DEALS,
    OBJECT_TYPE_LABELS,
    CheckResult,
    Connector,
    CredentialParam,
    DefaultField,
    DeletedPage,
    DeletedRecord,
    FieldSpec,
    ObjectTypeInfo,
    Page,
    Pipeline,
    Record,
    Stage,
    WriteResult,
    load_option_maps,
)
from connectors.errors import ConnectorError, ErrorCategory
from connectors.fanout import in_parallel, parallel_calls, threads_allowed
from connectors.readahead import in_consumer, read_ahead
from connectors.salesforce import associations, deals, defaults, soql
from connectors.salesforce.client import SalesforceClient, record_error
from connectors.salesforce.convert import field_spec, from_salesforce, to_salesforce
from connectors.salesforce.soql import chunks, in_chunks


class SalesforceConnector(Connector):
    key = "salesforce"
    label = "Salesforce"
    default_base_url = "https://login.salesforce.com"
    supports_oauth = True
    batch_size = 200
    deal_switch = True  # opportunities become deals only once the sync's switch is on (F6.1)
    credential_params = (
        CredentialParam("access_token", "Access token", secret=True),
        CredentialParam("refresh_token", "Refresh token", secret=True, required=False),
        CredentialParam("instance_url", "Instance URL", required=False),
        CredentialParam("client_id", "Connected app consumer key", required=False),
        CredentialParam("client_secret", "Connected app consumer secret", secret=True, required=False),
    )

    def __init__(
        self,
        base_url: str,
        credentials: Mapping[str, Any],
        *,
        on_credentials: Any = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(base_url, credentials, on_credentials=on_credentials, options=options)
        opts = self.options
        timeout = opts.get("timeout")
        usage = opts.get("on_api_usage")
        self.client = SalesforceClient(
            self.base_url,
            self.credentials,
            save_credentials=self._save_credentials,
            on_api_usage=partial(in_consumer, usage if callable(usage) else self._report_usage),
            budget_share=float(opts.get("api_budget_share", 0.75)),
            max_attempts=int(opts.get("max_attempts", 5)),
            backoff_base=float(opts.get("backoff_base", 0.5)),
            timeout=(float(timeout), float(timeout)) if isinstance(timeout, (int, float)) else None,
            query_batch_size=opts.get("query_batch_size"),
        )
        self.on_api_usage = None  # Connection.connector() sets it to Connection.record_api_usage
        self._seed_budget(opts.get("api_usage") or {})
        self._describes: dict[str, dict] = {}
        self._field_metas: dict[str, dict[str, dict]] = {}

    def _seed_budget(self, seen: Mapping[str, Any]) -> None:
        """Start from the usage the connection last saw, if recent, so the budget can stop the
        first call too. Older readings are ignored: the 24-hour window has moved since."""
        try:
            at = datetime.fromisoformat(seen["at"])
            used, allowed = int(seen["used"]), int(seen["allowed"])
        except (KeyError, TypeError, ValueError):
            return
        if allowed > 0 and datetime.now(UTC) - at < timedelta(hours=1):
            self.client.budget.used, self.client.budget.allowed = used, allowed

    def side_by_side(self, calls: Sequence[Any]) -> list:
        """Independent calls (the queries of one lookup, the Collections calls of one write) sent
        `parallel_calls` at a time (default 3, 1 where CONNECTOR_THREADS is off; connectors.fanout);
        their results in order, the first error in order raised."""
        return in_parallel(calls, workers=parallel_calls(self.options),
                           setup=self.client.http.own_session)

    def _report_usage(self, used: int, allowed: int) -> None:
        if self.on_api_usage is not None:
            self.on_api_usage(used, allowed)

    @property
    def api_usage(self) -> tuple[int | None, int | None]:
        return self.client.budget.used, self.client.budget.allowed

    # --- discovery -------------------------------------------------------------------------
    def sobject(self, object_type: str) -> str:
        if object_type == CONTACTS and self.options.get("contacts_object") == "Lead":
            return "Lead"
        try:
            return defaults.OBJECTS[object_type]
        except KeyError:
            raise ConnectorError(
                ErrorCategory.UNKNOWN, f"Salesforce has no object type {object_type!r}"
            ) from None

    def object_types(self) -> list[ObjectTypeInfo]:
        return [
            ObjectTypeInfo(key, self.sobject(key), OBJECT_TYPE_LABELS[key])
            for key in (CONTACTS, COMPANIES, DEALS)
        ]

    def describe(self, sobject: str) -> dict:
        if sobject not in self._describes:
            try:
                self._describes[sobject] = self.client.get(f"sobjects/{sobject}/describe")
            except ConnectorError as exc:
                if exc.status != 404:
                    raise
                # A standard object "does not exist" only when the user's profile cannot see it.
                raise ConnectorError(
                    ErrorCategory.PERMISSION_DENIED,
                    f"The object {sobject} is not visible to the integration user ({exc.message})",
                    vendor_code=exc.vendor_code,
                    status=404,
                ) from None
        return self._describes[sobject]

    def _field_meta(self, object_type: str) -> dict[str, dict]:
        sobject = self.sobject(object_type)
        if sobject not in self._field_metas:
            described = self.describe(sobject)
            if not isinstance(described, dict) or not isinstance(described.get("fields"), list):
                raise ConnectorError(
                    ErrorCategory.MALFORMED_RESPONSE,
                    f"Expected a describe result, got {str(described)[:200]}",
                )
            self._field_metas[sobject] = {
                f["name"]: f for f in described["fields"] if f.get("type") not in defaults.UNSYNCABLE_TYPES
            }
        return self._field_metas[sobject]

    def fields(self, object_type: str) -> list[FieldSpec]:
        return [field_spec(f) for f in self._field_meta(object_type).values()]

    def default_fields(self, object_type: str) -> list[DefaultField]:
        if object_type == CONTACTS and self.sobject(CONTACTS) == "Lead":
            return list(defaults.LEAD_DEFAULT_FIELDS)
        return list(defaults.DEFAULT_FIELDS.get(object_type, []))


    def standard_options(self, object_type: str, key: str) -> dict[str, dict[str, str]]:
        # Picklists cannot gain values through the REST API (restricted ones only by an
        # administrator), so can_add_options stays the base's "no".
        return load_option_maps(defaults.OPTION_MAPS_FILE).get(object_type, {}).get(key, {})
    def pipelines(self, object_type: str) -> list[Pipeline]:
        return deals.pipelines(self) if object_type == DEALS else []

    # --- the app's own rules (FEATURES F6) ----------------------------------------------------
    def propagates_deletions(self, object_type: str) -> bool:
        """Deleting an opportunity deletes its synced deal (F6.4); nothing else propagates."""
        return object_type == DEALS

    def mirrored_pipeline_label(self, pipeline: Pipeline, pipelines: Sequence[Pipeline]) -> str | None:
        return deals.mirrored_label(pipeline, pipelines)

    def create_pipeline(self, object_type: str, label: str, stages: Sequence[Stage]) -> Pipeline:
        """Record types and sales processes are metadata: the REST API cannot create them."""
        raise ConnectorError(
            ErrorCategory.PERMISSION_DENIED,
            f"Salesforce cannot create the pipeline {label!r} through its REST API: an administrator "
            "creates an Opportunity record type with its sales process in Setup.",
        )

    def check(self) -> CheckResult:
        try:
            described = self.client.get("sobjects")
            if not isinstance(described, dict):
                raise ConnectorError(
                    ErrorCategory.MALFORMED_RESPONSE, f"Expected a global describe, got {described!r:.200}"
                )
            listed = {o["name"]: o for o in described.get("sobjects", [])}
            missing = []
            for sobject in (
                "Contact",
                "Account",
                "Opportunity",
                "OpportunityContactRole",
                "OpportunityStage",
                "RecordType",
            ):
                if sobject not in listed:
                    missing.append(f"object {sobject} (not visible to the integration user)")
            for object_type in (CONTACTS, COMPANIES, DEALS):
                sobject = self.sobject(object_type)
                if sobject not in listed:
                    continue
                meta = self._field_meta(object_type)
                wanted = [d.field for d in self.default_fields(object_type)]
                wanted += ["AccountId"] if sobject in ("Contact", "Opportunity") else []
                if sobject == "Opportunity" and not deals.has_record_types(self.describe(sobject)):
                    wanted.remove("RecordTypeId")  # the field exists only once record types do
                for name in wanted:
                    if name not in meta:
                        missing.append(f"{sobject}.{name} (field not visible)")
                    elif not meta[name].get("updateable"):
                        missing.append(f"{sobject}.{name} (read-only for the integration user)")
        except ConnectorError as exc:
            return CheckResult(ok=False, message=str(exc))
        used, allowed = self.api_usage
        usage = f" API calls used today: {used} of {allowed}." if allowed else ""
        if missing:
            return CheckResult(
                ok=False, message="Missing permissions: " + "; ".join(missing) + "." + usage, missing=missing
            )
        return CheckResult(ok=True, message="Connected; all objects and fields are accessible." + usage)

    def close(self) -> None:
        self.client.http.close()

    def record_url(self, object_type: str, record_id: str) -> str:
        """The Lightning record page on the instance (Syncsite's sandbox serves it too)."""
        if not record_id or object_type not in defaults.OBJECTS:
            return ""
        return f"{self.client.instance_url}/lightning/r/{self.sobject(object_type)}/{quote(str(record_id), safe='')}/view"

    # --- values ----------------------------------------------------------------------------
    def _select(self, object_type: str) -> list[str]:
        return list(self._field_meta(object_type))

    def _record(self, object_type: str, raw: dict) -> Record:
        meta = self._field_meta(object_type)
        values = {
            name: from_salesforce(meta[name]["type"], value) for name, value in raw.items() if name in meta
        }
        record = Record(
            id=raw["Id"],
            values=values,
            modified_at=values.get("SystemModstamp"),
            archived=bool(raw.get("IsDeleted")),
        )
        if "AccountId" in raw and object_type in (CONTACTS, DEALS):
            # An empty list says "no account" (known), so nobody needs to ask again.
            record.associations[COMPANIES] = [raw["AccountId"]] if raw["AccountId"] else []
        if object_type == DEALS:
            deals.incoming_record_type(values)
        return record

    def _outgoing(self, object_type: str, values: Mapping[str, Any]) -> dict[str, Any]:
        meta = self._field_meta(object_type)
        if object_type == DEALS:
            values = deals.outgoing_record_type(values, meta)
        return {
            name: to_salesforce(meta.get(name, {}).get("type", ""), value) for name, value in values.items()
        }

    # --- reads -----------------------------------------------------------------------------
    def read_changes(self, object_type: str, cursor: Any = None) -> Iterator[Page]:
        """Records by SystemModstamp then Id; the cursor (timestamp, id) resumes exactly after the
        last record delivered even when thousands share one timestamp. Each query batch is read
        while the engine works on the one before (connectors.readahead; option `read_ahead`,
        default on unless CONNECTOR_THREADS is off)."""
        pages = self._changed_pages(object_type, cursor)
        if not self.options.get("read_ahead", threads_allowed()):
            return pages
        return read_ahead(pages, setup=self.client.http.own_session, name=f"salesforce {object_type} read-ahead")

    def _changed_pages(self, object_type: str, cursor: Any) -> Iterator[Page]:
        delivered = False
        for batch, after in self.batches_since(self.sobject(object_type), self._select(object_type), cursor):
            records = [self._record(object_type, raw) for raw in batch["records"]]
            if object_type == DEALS:
                self._attach_contacts(records)
            delivered = True
            yield Page(records, after, estimated_total=batch.get("totalSize"))
        if not delivered:
            yield Page([], cursor, estimated_total=0)

    def batches_since(
        self,
        sobject: str,
        fields: Sequence[str],
        cursor: Any,
        *,
        where: str = "",
        include_deleted: bool = False,
    ) -> Iterator[tuple[dict, dict[str, str]]]:
        """Non-empty query batches of `sobject` rows modified after `cursor` (None: all), by
        SystemModstamp then Id, each with the cursor that resumes right after it; `fields` must
        hold Id and SystemModstamp."""
        where = " AND ".join(w for w in (where, self._after(cursor) if cursor else "") if w)
        text = soql.select(fields, sobject, where, "SystemModstamp ASC, Id ASC")
        for batch in self.client.query_pages(text, include_deleted=include_deleted):
            if batch["records"]:
                yield batch, self._cursor(batch["records"][-1], final=bool(batch.get("done", True)))

    @property
    def settle_seconds(self) -> float:
        """How long a SystemModstamp may still be overtaken by a slower transaction's write."""
        return float(self.options.get("settle_seconds", 10))

    def _cursor(self, last: dict, *, final: bool) -> dict[str, str]:
        """(SystemModstamp, Id) of the last record delivered.

        Within a run the id makes resuming exact. SystemModstamp has one-second precision, so
        a record written later in the same second as the final cursor could sort before its id
        and be skipped: when the final timestamp is that recent (by the server's clock), the
        next run re-reads that whole second instead (re-reads are harmless, gaps are not).
        """
        stamp = last["SystemModstamp"]
        if final:
            modified = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
            now = self.client.server_time or datetime.now(UTC)
            if (now - modified).total_seconds() < self.settle_seconds:
                return {"modstamp": stamp, "id": ""}
        return {"modstamp": stamp, "id": last["Id"]}

    @staticmethod
    def _after(cursor: Mapping[str, str]) -> str:
        stamp = soql.datetime_literal(datetime.fromisoformat(str(cursor["modstamp"]).replace("Z", "+00:00")))
        last_id = soql.string(cursor["id"])
        return f"(SystemModstamp > {stamp} OR (SystemModstamp = {stamp} AND Id > {last_id}))"

    def _attach_contacts(self, records: list[Record]) -> None:
        if self.sobject(CONTACTS) == "Lead":
            return  # contact roles link Contacts, never Leads
        roles = associations.read(self, DEALS, [r.id for r in records], CONTACTS)
        for record in records:
            record.associations[CONTACTS] = roles.get(record.id, [])

    def read(self, object_type: str, ids: Sequence[str]) -> dict[str, Record]:
        found: dict[str, Record] = {}
        fields, sobject = self._select(object_type), self.sobject(object_type)
        by_id = lambda in_: soql.select(fields, sobject, f"Id IN {in_}")  # noqa: E731
        for raw in self._query_each(in_chunks(list(dict.fromkeys(ids)), by_id, budget=self.client.in_budget)):
            found[raw["Id"]] = self._record(object_type, raw)
        if object_type == DEALS and found:
            self._attach_contacts(list(found.values()))
        return found

    def find(self, object_type: str, field_name: str, values: Sequence[str]) -> dict[str, list[Record]]:
        """Matches by value; Salesforce compares text case-insensitively, and so does this."""
        meta = self._field_meta(object_type)
        if field_name not in meta:
            raise ConnectorError(
                ErrorCategory.PERMISSION_DENIED,
                f"{self.sobject(object_type)} has no field {field_name!r} visible to the integration user",
                vendor_code="INVALID_FIELD",
            )
        wanted: dict[str, list[str]] = {}
        for value in values:
            if value not in (None, ""):
                wanted.setdefault(str(value).lower(), []).append(value)
        result: dict[str, list[Record]] = {}
        fields, sobject = self._select(object_type), self.sobject(object_type)
        # As many values per query as the URI holds (hundreds of emails), not a fixed few.
        lookup = lambda in_: soql.select(fields, sobject, f"{field_name} IN {in_}")  # noqa: E731
        for raw in self._query_each(in_chunks(list(wanted), lookup, budget=self.client.in_budget)):
            record = self._record(object_type, raw)
            for original in wanted.get(str(raw.get(field_name) or "").lower(), []):
                result.setdefault(original, []).append(record)
        return result

    def _query_each(self, queries) -> list[dict]:
        """The rows of each (values, SOQL) query, in order; the queries sent side by side."""
        answers = self.side_by_side([partial(self.client.query_all, text) for _, text in queries])
        return [raw for rows in answers for raw in rows]

    def read_deleted(self, object_type: str, cursor: Any = None) -> Iterator[DeletedPage]:
        """Deleted records from the recycle bin through queryAll (IsDeleted = true)."""
        delivered = False
        sobject = self.sobject(object_type)
        fields = ["Id", "SystemModstamp"]
        for batch, after in self.batches_since(
            sobject, fields, cursor, where="IsDeleted = true", include_deleted=True
        ):
            records = [
                DeletedRecord(r["Id"], from_salesforce("datetime", r["SystemModstamp"]))
                for r in batch["records"]
            ]
            delivered = True
            yield DeletedPage(records, after)
        if not delivered:
            yield DeletedPage([], cursor)

    def read_associations(self, object_type: str, ids: Sequence[str], to_type: str) -> dict[str, list[str]]:
        return associations.read(self, object_type, ids, to_type)

    def association_changes(
        self, object_type: str, to_type: str, cursor: Any = None
    ) -> tuple[list[str], Any] | None:
        return associations.changes(self, object_type, to_type, cursor)

    # --- writes ----------------------------------------------------------------------------
    def write(
        self,
        object_type: str,
        creates: Sequence[Mapping[str, Any]] = (),
        updates: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> list[WriteResult]:
        sobject = self.sobject(object_type)
        results: list[WriteResult] = []
        create_items = [
            (i, {"attributes": {"type": sobject}, **self._outgoing(object_type, v)})
            for i, v in enumerate(creates)
        ]
        update_items = [
            (rid, {"attributes": {"type": sobject}, **self._outgoing(object_type, v), "id": rid})
            for rid, v in (updates or {}).items()
        ]
        calls = [partial(self._write_chunk, method, chunk)
                 for method, items in (("POST", create_items), ("PATCH", update_items))
                 for chunk in chunks(items, self.batch_size)]
        for answers in self.side_by_side(calls):
            results.extend(answers)
        return results

    def _write_chunk(self, method: str, chunk: Sequence[tuple[Any, dict]]) -> list[WriteResult]:
        try:
            answers = self.client.collection(method, [body for _, body in chunk])
        except ConnectorError as exc:
            if exc.category.transient or exc.category is ErrorCategory.PERMISSION_DENIED:
                raise  # the whole call failed for a reason no single record caused
            if len(chunk) == 1:
                return [WriteResult(chunk[0][0], error=exc)]
            # One bad value (e.g. JSON_PARSER_ERROR) fails the whole call: halve the batch until
            # the culprits stand alone, so the other records still go through.
            middle = len(chunk) // 2
            return self._write_chunk(method, chunk[:middle]) + self._write_chunk(method, chunk[middle:])
        return [
            self._result(ref, answer, ref if method == "PATCH" else None)
            for (ref, _), answer in zip(chunk, answers, strict=True)
        ]

    @staticmethod
    def _result(ref: Any, answer: dict, known_id: str | None = None) -> WriteResult:
        if answer.get("success"):
            return WriteResult(ref, id=answer.get("id") or known_id)
        return WriteResult(ref, id=known_id, error=record_error(answer.get("errors") or []))

    def delete(self, object_type: str, ids: Sequence[str]) -> list[WriteResult]:
        results = []
        for chunk in chunks(list(ids), self.batch_size):
            answers = self.client.collection(
                "DELETE", [], params={"ids": ",".join(chunk), "allOrNone": "false"}
            )
            for rid, answer in zip(chunk, answers, strict=True):
                codes = {e.get("statusCode") for e in answer.get("errors") or []}
                if codes == {"ENTITY_IS_DELETED"}:
                    answer = {"success": True, "id": rid}  # already gone: the goal is reached
                results.append(self._result(rid, answer, rid))
        return results

    def write_associations(
        self, object_type: str, to_type: str, pairs: Sequence[tuple[str, str]]
    ) -> list[WriteResult]:
        return associations.write(self, object_type, to_type, pairs)

    def remove_associations(
        self, object_type: str, to_type: str, pairs: Sequence[tuple[str, str]]
    ) -> list[WriteResult]:
        return associations.remove(self, object_type, to_type, pairs)

    # --- OAuth -----------------------------------------------------------------------------
    def authorize_url(self, redirect_uri: str, state: str) -> str:
        return self.client.authorize_url(redirect_uri, state)

    def exchange_code(self, code: str, redirect_uri: str) -> dict[str, Any]:
        token = self.client.token_request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "client_id": self.credentials.get("client_id", ""),
                "client_secret": self.credentials.get("client_secret", ""),
            }
        )
        credentials = {
            k: self.credentials[k] for k in ("client_id", "client_secret") if self.credentials.get(k)
        }
        credentials.update(
            {k: token[k] for k in ("access_token", "refresh_token", "instance_url") if token.get(k)}
        )
        return credentials
