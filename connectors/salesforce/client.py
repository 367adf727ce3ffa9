"""Salesforce REST over the shared HTTP layer: error classification, session refresh, the API
budget, SOQL paging and sObject Collections."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

import requests

from connectors import ratelimit
from connectors.errors import ConnectorError, ErrorCategory
from connectors.http import HttpClient, describe_body, generic_classify, parse_json, redact, secret_values

log = logging.getLogger(__name__)

API_VERSION = "60.0"
DATA = f"/services/data/v{API_VERSION}"
LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")

# Salesforce errorCode / statusCode -> category. Why each is transient or permanent:
ERROR_CODES: dict[str, ErrorCategory] = {
    # The record lacks a value the org requires: a person must fill it (permanent).
    "REQUIRED_FIELD_MISSING": ErrorCategory.MISSING_REQUIRED_FIELD,
    # The value exceeds the field's length: only editing the value helps (permanent).
    "STRING_TOO_LONG": ErrorCategory.VALUE_TOO_LONG,
    # The org refuses the value itself (unknown option, bad email, bad number): permanent.
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": ErrorCategory.INVALID_PROPERTY_VALUE,
    "INVALID_EMAIL_ADDRESS": ErrorCategory.INVALID_EMAIL,  # the record cannot exist without it
    "NUMBER_OUTSIDE_VALID_RANGE": ErrorCategory.INVALID_PROPERTY_VALUE,
    "MALFORMED_ID": ErrorCategory.INVALID_PROPERTY_VALUE,
    "FIELD_INTEGRITY_EXCEPTION": ErrorCategory.INVALID_PROPERTY_VALUE,
    # A value of the wrong JSON type for the field: the mapping pairs incompatible fields (permanent).
    "JSON_PARSER_ERROR": ErrorCategory.TYPE_MISMATCH,
    "INVALID_TYPE_ON_FIELD_IN_RECORD": ErrorCategory.TYPE_MISMATCH,
    # A unique field or a duplicate rule matched another record: someone must merge (permanent).
    "DUPLICATE_VALUE": ErrorCategory.DUPLICATE_RECORD,
    "DUPLICATES_DETECTED": ErrorCategory.DUPLICATE_RECORD,
    "DUPLICATE_EXTERNAL_ID": ErrorCategory.DUPLICATE_RECORD,
    # The record is in the recycle bin or gone: retrying cannot bring it back (permanent).
    "ENTITY_IS_DELETED": ErrorCategory.RECORD_DELETED,
    "NOT_FOUND": ErrorCategory.RECORD_DELETED,
    # Another transaction holds the row (triggers, bulk jobs): it frees up by itself (transient).
    "UNABLE_TO_LOCK_ROW": ErrorCategory.RECORD_LOCKED,
    # A validation rule, flow or trigger refused the change: an admin must look (permanent).
    "FIELD_CUSTOM_VALIDATION_EXCEPTION": ErrorCategory.AUTOMATION_REJECTED,
    "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY": ErrorCategory.AUTOMATION_REJECTED,
    "FIELD_FILTER_VALIDATION_EXCEPTION": ErrorCategory.AUTOMATION_REJECTED,
    # Profile, permission set or field-level security: a person must grant access (permanent).
    "INSUFFICIENT_ACCESS_OR_READONLY": ErrorCategory.PERMISSION_DENIED,
    "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY": ErrorCategory.PERMISSION_DENIED,
    "INSUFFICIENT_ACCESS": ErrorCategory.PERMISSION_DENIED,
    "INVALID_FIELD_FOR_INSERT_UPDATE": ErrorCategory.PERMISSION_DENIED,
    "INVALID_FIELD": ErrorCategory.PERMISSION_DENIED,  # missing, or hidden by field-level security
    "API_DISABLED_FOR_ORG": ErrorCategory.PERMISSION_DENIED,
    # The org's rolling 24-hour allocation is spent: it frees up as the window moves (transient).
    "REQUEST_LIMIT_EXCEEDED": ErrorCategory.API_LIMIT_REACHED,
    # The session timed out or was revoked: refresh, else reconnect (transient by the taxonomy).
    "INVALID_SESSION_ID": ErrorCategory.AUTHENTICATION_EXPIRED,
    "invalid_grant": ErrorCategory.AUTHENTICATION_EXPIRED,
    # Salesforce's own failures and maintenance: they pass (transient).
    "UNKNOWN_EXCEPTION": ErrorCategory.APP_UNAVAILABLE,
    "SERVER_UNAVAILABLE": ErrorCategory.APP_UNAVAILABLE,
    # Our query or request was wrong: retrying the same thing cannot help (permanent).
    "MALFORMED_QUERY": ErrorCategory.UNKNOWN,
    "INVALID_TYPE": ErrorCategory.PERMISSION_DENIED,  # the object is missing or not visible to the user
}


def category_of(code: str, fields: list[str] | None = None, status: int | None = None) -> ErrorCategory:
    """The category of one Salesforce error code."""
    if code == "INVALID_CROSS_REFERENCE_KEY":
        # On a reference field the related record is missing; on the record itself it is gone.
        return ErrorCategory.ASSOCIATION_FAILED if fields else ErrorCategory.RECORD_DELETED
    if code in ERROR_CODES:
        return ERROR_CODES[code]
    if code.startswith("INSUFFICIENT_ACCESS"):
        return ErrorCategory.PERMISSION_DENIED
    if status is not None and status >= 500:
        return ErrorCategory.APP_UNAVAILABLE
    return ErrorCategory.UNKNOWN


def record_error(errors: list[Mapping[str, Any]]) -> ConnectorError:
    """A per-record error from sObject Collections (`statusCode`, not `errorCode`)."""
    first = errors[0] if errors else {}
    code = str(first.get("statusCode") or first.get("errorCode") or "UNKNOWN")
    fields = list(first.get("fields") or [])
    message = "; ".join(str(e.get("message", "")) for e in errors) or code
    return ConnectorError(category_of(code, fields), message, vendor_code=code, field=",".join(fields))


class ApiBudget(ratelimit.DailyBudget):
    """Refuses to send once the org's API usage reaches the connection's share of its allocation.

    It sits in the HTTP client's limiters, so it is consulted before every attempt, retries
    included (HubSpot's own Salesforce integration stops at 75%). The count is shared by every
    worker through Redis when configured (connectors.ratelimit.DailyBudget).
    """

    def __init__(self, share: float, key: str = "") -> None:
        super().__init__(key, share, account="the org's")
        self.exhausted = False

    used = property(lambda self: self.usage.get()[0], lambda self, value: self.usage.set("used", value))
    allowed = property(lambda self: self.usage.get()[1], lambda self, value: self.usage.set("allowed", value))

    def acquire(self) -> float:
        if self.exhausted:
            raise ConnectorError(
                ErrorCategory.API_LIMIT_REACHED,
                "TotalRequests Limit exceeded: the org's daily API allocation is spent.",
                vendor_code="REQUEST_LIMIT_EXCEEDED",
                status=403,
            )
        return super().acquire()


def replay_safe(method: str, path: str) -> bool:
    """Whether resending a request whose answer was lost cannot create a record twice: every
    method but POST, and the POST that reads a collection (composite/sobjects/<type>)."""
    if method.upper() != "POST":
        return True
    return bool(re.search(r"/composite/sobjects/\w+/?(\?|$)", path))


class SalesforceClient:
    """One org: data calls on the instance, token calls on the login host."""

    def __init__(
        self,
        login_url: str,
        credentials: dict[str, Any],
        *,
        save_credentials: Callable[..., None],
        on_api_usage: Callable[[int, int], None] | None = None,
        budget_share: float = 0.75,
        max_attempts: int = 5,
        backoff_base: float = 0.5,
        timeout: tuple[float, float] | None = None,
        query_batch_size: int | None = None,
    ) -> None:
        self.login_url = login_url.rstrip("/")
        self.credentials = credentials
        self.save_credentials = save_credentials
        self.on_api_usage = on_api_usage
        self.budget = ApiBudget(budget_share, key=f"salesforce:{self.instance_url}:{_org_key(credentials)}")
        self.timeout = timeout or (5.0, 60.0)
        self.token_calls = 0
        self._refresh_lock = threading.Lock()
        self._sent = threading.local()
        self.server_time: datetime | None = None  # from the last response's Date header
        # Sforce-Query-Options: batchSize=200..2000 (records per query batch; default 2000).
        self.query_headers = (
            {"Sforce-Query-Options": f"batchSize={query_batch_size}"} if query_batch_size else {}
        )
        self.http = HttpClient(
            self.instance_url,
            classify=self.classify,
            auth_headers=self._auth_headers,
            refresh_auth=self.refresh_session,
            limiters=[self.budget],
            max_attempts=max_attempts,
            backoff_base=backoff_base,
            timeout=self.timeout,
            on_response=self._on_response,
            secrets=lambda: secret_values(self.credentials),
            replay_safe=replay_safe,
        )

    @property
    def instance_url(self) -> str:
        return (self.credentials.get("instance_url") or self.login_url).rstrip("/")

    def _auth_headers(self) -> dict[str, str]:
        token = self.credentials.get("access_token", "")
        self._sent.token = token  # what this thread's request carries (see refresh_session)
        return {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    # --- classification and metering ---------------------------------------------------------
    def classify(self, response: requests.Response) -> ConnectorError:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, list) and body and isinstance(body[0], dict) and "errorCode" in body[0]:
            code = str(body[0]["errorCode"])
            fields = list(body[0].get("fields") or [])
            message = "; ".join(str(e.get("message", "")) for e in body if isinstance(e, dict))
        elif isinstance(body, dict) and "error" in body:  # OAuth-shaped
            code, fields = str(body["error"]), []
            message = str(body.get("error_description") or body["error"])
        else:
            return generic_classify(response)
        if code == "REQUEST_LIMIT_EXCEEDED" and "concurrent" in message.lower():
            # Too many long-running requests at once (reference 2.10): it passes in seconds,
            # unlike the daily allocation, so wait and retry rather than stop the connection.
            return ConnectorError(ErrorCategory.RATE_LIMITED, message, vendor_code=code,
                                  status=response.status_code)
        if code == "REQUEST_LIMIT_EXCEEDED":
            self.budget.exhausted = True  # no retry can succeed before the 24-hour window moves
        category = category_of(code, fields, response.status_code)
        if category is ErrorCategory.UNKNOWN and response.status_code != 400:
            category = generic_classify(response).category
        return ConnectorError(
            category, message, vendor_code=code, status=response.status_code, field=",".join(fields)
        )

    def _on_response(self, response: requests.Response) -> None:
        try:
            self.server_time = parsedate_to_datetime(response.headers["Date"]).astimezone(UTC)
        except (KeyError, TypeError, ValueError):
            self.server_time = datetime.now(UTC)
        match = LIMIT_INFO.search(response.headers.get("Sforce-Limit-Info", ""))
        if not match:
            return
        used, allowed = int(match.group(1)), int(match.group(2))
        self.budget.used, self.budget.allowed = used, allowed
        if self.on_api_usage is not None:
            self.on_api_usage(used, allowed)

    # --- OAuth -------------------------------------------------------------------------------
    def refresh_session(self) -> bool:
        """Trade the refresh token for a new session; raise AUTHENTICATION_EXPIRED if refused.

        One thread at a time (a read-ahead thread and the engine's may both be refused with the
        old session): a request sent with a session that another thread has replaced since is
        simply sent again, so one expired session costs one token call."""
        with self._refresh_lock:
            sent = getattr(self._sent, "token", None)
            if sent is not None and sent != self.credentials.get("access_token", ""):
                return True
            return self._refresh_session()

    def _refresh_session(self) -> bool:
        refresh_token = self.credentials.get("refresh_token")
        if not refresh_token:
            raise ConnectorError(
                ErrorCategory.AUTHENTICATION_EXPIRED,
                "Session expired or invalid, and the connection has no refresh token: reconnect the app.",
                vendor_code="INVALID_SESSION_ID",
                status=401,
            )
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": self.credentials.get("client_id", ""),
        }
        if self.credentials.get("client_secret"):
            form["client_secret"] = self.credentials["client_secret"]
        token = self.token_request(form)
        changes = {"access_token": token["access_token"]}
        if token.get("instance_url"):
            changes["instance_url"] = token["instance_url"]
        if token.get("refresh_token"):  # only with refresh-token rotation on
            changes["refresh_token"] = token["refresh_token"]
        self.save_credentials(**changes)
        self.http.base_url = self.instance_url
        log.info("Salesforce session refreshed for %s", self.instance_url)
        return True

    def token_request(self, form: dict[str, str]) -> dict[str, Any]:
        """POST the token endpoint once (no retry loop: a refused grant will not change its mind)."""
        try:
            return self._token_request(form)
        except ConnectorError as exc:
            # The body of a refused grant may echo the code or a token back.
            exc.message = redact(exc.message, [*secret_values(form), *secret_values(self.credentials)])
            exc.args = (exc.message,)
            raise

    def _token_request(self, form: dict[str, str]) -> dict[str, Any]:
        self.token_calls += 1
        url = f"{self.login_url}/services/oauth2/token"
        try:
            response = self.http.current_session().post(url, data=form, timeout=self.timeout)
        except requests.RequestException as exc:
            raise ConnectorError(
                ErrorCategory.APP_UNAVAILABLE, f"token request failed: {type(exc).__name__}"
            ) from None
        if response.status_code >= 500:
            raise ConnectorError(
                ErrorCategory.APP_UNAVAILABLE,
                f"token request: {describe_body(response)}",
                status=response.status_code,
            )
        body = parse_json(response)
        if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
            error = body.get("error", "") if isinstance(body, dict) else ""
            text = body.get("error_description", "") if isinstance(body, dict) else describe_body(response)
            raise ConnectorError(
                ErrorCategory.AUTHENTICATION_EXPIRED,
                f"The token request was refused: {error} {text}".strip(),
                vendor_code=error,
                status=response.status_code,
            )
        return body

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        query = {
            "response_type": "code",
            "client_id": self.credentials.get("client_id", ""),
            "redirect_uri": redirect_uri,
            "scope": "api refresh_token",
            "state": state,
        }
        return f"{self.login_url}/services/oauth2/authorize?{urlencode(query)}"

    # --- data calls --------------------------------------------------------------------------
    def get(self, path: str, **params: Any) -> Any:
        return self.http.json("GET", f"{DATA}/{path}", params=params or None)

    def send(self, method: str, path: str, body: Any = None, params: dict | None = None) -> Any:
        return self.http.json(method, f"{DATA}/{path}", json=body, params=params)

    @property
    def in_budget(self) -> int:
        """Bytes of URL-encoded SOQL one query may hold: soql.URI_BUDGET less the URI before `q=`."""
        from connectors.salesforce.soql import URI_BUDGET

        return URI_BUDGET - len(f"{self.instance_url}{DATA}/queryAll?q=")

    def query_pages(self, soql: str, *, include_deleted: bool = False) -> Iterator[dict]:
        """Every batch of a SOQL query, following nextRecordsUrl (one call per batch)."""
        path = f"{DATA}/{'queryAll' if include_deleted else 'query'}"
        data = self.http.json("GET", path, params={"q": soql}, headers=self.query_headers)
        while True:
            if not isinstance(data, dict) or not isinstance(data.get("records"), list):
                raise ConnectorError(
                    ErrorCategory.MALFORMED_RESPONSE, f"Expected a query result, got {str(data)[:200]}"
                )
            yield data
            next_url = data.get("nextRecordsUrl")
            if data.get("done", True) or not next_url:
                return
            data = self.http.json("GET", next_url, headers=self.query_headers)

    def query_all(self, soql: str, *, include_deleted: bool = False) -> list[dict]:
        return [
            r for page in self.query_pages(soql, include_deleted=include_deleted) for r in page["records"]
        ]

    def collection(self, method: str, records: list[dict], *, params: dict | None = None) -> list[dict]:
        """One sObject Collections call; the per-record results, checked to be one per input."""
        body = None if method == "DELETE" else {"allOrNone": False, "records": records}
        results = self.send(method, "composite/sobjects", body, params=params)
        expected = len(params["ids"].split(",")) if method == "DELETE" else len(records)
        if not isinstance(results, list) or len(results) != expected:
            raise ConnectorError(
                ErrorCategory.MALFORMED_RESPONSE,
                f"Expected {expected} collection results, got {str(results)[:200]}",
            )
        return results


def _org_key(credentials: Mapping[str, Any]) -> str:
    """The org the credentials reach (from the identity URL .../id/<org id>/<user id>), else a
    digest of the token: the key of its shared daily usage."""
    import hashlib

    identity = str(credentials.get("id") or "")
    match = re.search(r"/id/([^/]+)/", identity)
    if match:
        return match.group(1)
    token = str(credentials.get("refresh_token") or credentials.get("access_token") or "")
    return hashlib.sha256(token.encode()).hexdigest()[:16]
