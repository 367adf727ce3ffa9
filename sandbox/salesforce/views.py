"""HTTP entry points: OAuth, then one dispatcher that authenticates, meters, injects faults and
routes every /services/data/vNN.N/ call to its handler (handlers.py)."""

from __future__ import annotations

import json
import logging
import random
import re
import secrets
import socket
import time
from datetime import timedelta
from functools import cached_property
from html import escape
from urllib.parse import urlencode

from django.db.models import F
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from sandbox.salesforce import handlers, replication, store
from sandbox.salesforce.models import Org, Token
from sandbox.salesforce.soql import SoqlError
from sandbox.salesforce.writes import RequestError

log = logging.getLogger(__name__)


def sf_error(status: int, code: str, message: str, fields: list | None = None) -> JsonResponse:
    """Salesforce's REST error shape: a JSON array of {message, errorCode[, fields]}."""
    entry: dict = {"message": message, "errorCode": code}
    if fields is not None:
        entry["fields"] = fields
    return JsonResponse([entry], safe=False, status=status)


def instance_url(request: HttpRequest) -> str:
    """The sandbox's base URL (login host and instance at once), wherever it is mounted."""
    path = request.path
    return request.build_absolute_uri(path[: path.index("/services/")])


class Ctx:
    """What a handler needs: the request, the org and (lazily) its metadata and JSON body."""

    def __init__(self, request: HttpRequest, org: Org) -> None:
        self.request = request
        self.org = org

    @cached_property
    def meta(self) -> store.OrgMeta:
        return store.OrgMeta(self.org)

    @cached_property
    def body(self):
        try:
            return json.loads(self.request.body or b"null", parse_constant=_no_constant, parse_float=_finite)
        except (ValueError, UnicodeDecodeError) as exc:
            raise RequestError("JSON_PARSER_ERROR", f"Unexpected character in request body: {exc}") from None
        except RecursionError:
            raise RequestError("JSON_PARSER_ERROR", "The request body is nested too deeply") from None


def _no_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _finite(text: str) -> float:
    # Salesforce's parser refuses numbers a double cannot hold, rather than storing infinity.
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text} is out of range")
    return value


ROUTES = [
    (r"", {"GET": handlers.resources}),
    (r"limits", {"GET": handlers.limits}),
    (r"(?P<kind>query|queryAll)", {"GET": handlers.query}),
    (r"(?:query|queryAll)/(?P<locator>[0-9A-Za-z]+-\d+)", {"GET": handlers.query_more}),
    (r"sobjects", {"GET": handlers.global_describe}),
    (r"sobjects/(?P<sobject>\w+)/describe", {"GET": handlers.describe}),
    (r"sobjects/(?P<sobject>\w+)/updated", {"GET": replication.updated}),
    (r"sobjects/(?P<sobject>\w+)/deleted", {"GET": replication.deleted}),
    (r"sobjects/(?P<sobject>\w+)", {"GET": handlers.sobject_info, "POST": handlers.create}),
    (
        r"sobjects/(?P<sobject>\w+)/(?P<field>\w+)/(?P<value>[^/]+)",
        {"GET": handlers.get_by_external_id, "PATCH": handlers.upsert},
    ),
    (
        r"sobjects/(?P<sobject>\w+)/(?P<sf_id>\w+)",
        {"GET": handlers.get_record, "PATCH": handlers.update, "DELETE": handlers.delete_record},
    ),
    (
        r"composite/sobjects",
        {
            "POST": handlers.collection_create,
            "PATCH": handlers.collection_update,
            "DELETE": handlers.collection_delete,
        },
    ),
    (
        r"composite/sobjects/(?P<sobject>\w+)",
        {"GET": handlers.collection_read, "POST": handlers.collection_read},
    ),
    (r"composite/sobjects/(?P<sobject>\w+)/(?P<field>\w+)", {"PATCH": handlers.collection_upsert}),
    (
        r"ui-api/object-info/(?P<sobject>\w+)/picklist-values/(?P<record_type>\w+)(?:/(?P<field>\w+))?",
        {"GET": handlers.picklist_values},
    ),
]
_COMPILED = [(re.compile(rf"^{pattern}/?$"), methods) for pattern, methods in ROUTES]


def _bearer(request: HttpRequest) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() in ("bearer", "oauth") else ""


def _session(request: HttpRequest) -> Org | None:
    token = Token.objects.select_related("org").filter(kind=Token.Kind.ACCESS, value=_bearer(request)).first()
    if token is None or token.expired or not _bearer(request):
        return None
    return token.org


def _meter(org: Org) -> bool:
    """Count the call against the rolling daily allocation; False once it is spent."""
    now = timezone.now()
    if org.api_window_start < now - timedelta(hours=24):
        Org.objects.filter(pk=org.pk).update(api_used=0, api_window_start=now)
        org.api_used = 0
    if org.api_used >= org.api_max:
        return False
    Org.objects.filter(pk=org.pk).update(api_used=F("api_used") + 1)
    org.api_used += 1
    return True


def _drop_connection(request: HttpRequest) -> HttpResponse:
    """Close the client's socket without answering (under Django's WSGI server; elsewhere a
    truncated body is the closest thing)."""
    stream = request.environ.get("wsgi.input")
    reader = getattr(getattr(stream, "_read", None), "__self__", None)
    sock = getattr(getattr(reader, "raw", None), "_sock", None)
    if isinstance(sock, socket.socket):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    return HttpResponse(b'[{"message":', content_type="application/json")


def _fault(request: HttpRequest, org: Org) -> HttpResponse | None:
    if org.fault_slow_ms:
        time.sleep(org.fault_slow_ms / 1000)
    if org.fault_drop_share and random.random() < org.fault_drop_share:
        return _drop_connection(request)
    if org.fault_500_share and random.random() < org.fault_500_share:
        return sf_error(
            500,
            "UNKNOWN_EXCEPTION",
            "An unexpected error occurred. Please include this ErrorId if "
            f"you contact support: {secrets.randbelow(10**9)}-{secrets.randbelow(10**5)} (sandbox)",
        )
    return None


@csrf_exempt
def api(request: HttpRequest, version: str, rest: str) -> HttpResponse:  # noqa: ARG001 (any vNN.N is served as v60.0)
    org = _session(request)
    if org is None:
        return sf_error(401, "INVALID_SESSION_ID", "Session expired or invalid")
    if not _meter(org):
        response = sf_error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
    else:
        response = _fault(request, org) or _route(Ctx(request, org), rest)
    response["Sforce-Limit-Info"] = f"api-usage={org.api_used}/{org.api_max}"
    return response


def _route(ctx: Ctx, rest: str) -> HttpResponse:
    for pattern, methods in _COMPILED:
        match = pattern.match(rest)
        if not match:
            continue
        handler = methods.get(ctx.request.method)
        if handler is None:
            return sf_error(
                405,
                "METHOD_NOT_ALLOWED",
                f"HTTP Method '{ctx.request.method}' not allowed. Allowed are {','.join(methods)}",
            )
        try:
            return handler(ctx, **{k: v for k, v in match.groupdict().items() if v is not None})
        except RequestError as exc:
            return sf_error(exc.status, exc.code, exc.message, exc.fields)
        except SoqlError as exc:
            return sf_error(400, exc.code, exc.message)
        except Exception:  # a sandbox bug must still look like Salesforce's own 500, and be logged
            log.exception("Salesforce sandbox failed on %s %s", ctx.request.method, rest)
            return sf_error(
                500, "UNKNOWN_EXCEPTION", "An unexpected error occurred in the sandbox (see its log)."
            )
    return sf_error(404, "NOT_FOUND", "The requested resource does not exist")


def versions(request: HttpRequest) -> JsonResponse:  # noqa: ARG001
    return JsonResponse(
        [
            {
                "label": "Spring '24",
                "url": f"/services/data/v{store.API_VERSION}",
                "version": store.API_VERSION,
            }
        ],
        safe=False,
    )


# --- OAuth 2.0 web server flow -------------------------------------------------------------------

AUTHORIZE_PAGE = """<!doctype html><html><head><title>Allow access?</title></head><body>
<h1>Allow access?</h1><p>The app <b>{client}</b> wants to access the Salesforce sandbox org <b>{org}</b>
(scopes: {scope}).</p><form method="post">{hidden}
<button name="decision" value="allow">Allow</button> <button name="decision" value="deny">Deny</button>
</form></body></html>"""


@csrf_exempt
def authorize(request: HttpRequest) -> HttpResponse:
    params = request.POST if request.method == "POST" else request.GET
    org = Org.objects.filter(client_id=params.get("client_id", "")).first()
    redirect_uri = params.get("redirect_uri", "")
    if org is None or params.get("response_type") != "code" or not redirect_uri:
        return HttpResponse(
            "error=invalid_client_id: client identifier invalid (or missing response_type / redirect_uri)",
            status=400,
            content_type="text/plain",
        )
    state = params.get("state", "")
    if request.method == "GET":
        keep = ("response_type", "client_id", "redirect_uri", "state", "scope")
        hidden = "".join(
            f'<input type="hidden" name="{k}" value="{escape(params.get(k, ""))}">' for k in keep
        )
        return HttpResponse(
            AUTHORIZE_PAGE.format(
                client=escape(org.client_id),
                org=escape(org.name),
                scope=escape(params.get("scope", "api")),
                hidden=hidden,
            )
        )
    sep = "&" if "?" in redirect_uri else "?"
    if params.get("decision") != "allow":
        query = {
            "error": "access_denied",
            "error_description": "end-user denied authorization",
            "state": state,
        }
        return HttpResponseRedirect(redirect_uri + sep + urlencode(query))
    code = Token.objects.create(
        org=org,
        kind=Token.Kind.CODE,
        value="aPrx" + secrets.token_urlsafe(24),
        redirect_uri=redirect_uri,
        expires_at=timezone.now() + timedelta(minutes=15),
    )
    return HttpResponseRedirect(redirect_uri + sep + urlencode({"code": code.value, "state": state}))


def oauth_error(error: str, description: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": error, "error_description": description}, status=status)


@csrf_exempt
def token(request: HttpRequest) -> JsonResponse:
    if request.method != "POST":
        return oauth_error("invalid_request", "must use HTTP POST", 405)
    form = request.POST
    org = Org.objects.filter(client_id=form.get("client_id", "")).first()
    if org is None:
        return oauth_error("invalid_client_id", "client identifier invalid")
    grant = form.get("grant_type")
    if grant == "authorization_code":
        if form.get("client_secret") != org.client_secret:
            return oauth_error("invalid_client", "invalid client credentials")
        code = Token.objects.filter(org=org, kind=Token.Kind.CODE, value=form.get("code", "")).first()
        if code is None or code.expired or code.redirect_uri != form.get("redirect_uri"):
            return oauth_error("invalid_grant", "invalid authorization code")
        Token.objects.filter(pk=code.pk).update(revoked=True)
        refresh = issue(org, Token.Kind.REFRESH)
        return JsonResponse(token_body(request, org, issue(org, Token.Kind.ACCESS), refresh))
    if grant == "refresh_token":
        if form.get("client_secret") and form.get("client_secret") != org.client_secret:
            return oauth_error("invalid_client", "invalid client credentials")
        refresh = Token.objects.filter(
            org=org, kind=Token.Kind.REFRESH, value=form.get("refresh_token", "")
        ).first()
        if refresh is None or refresh.expired:
            return oauth_error("invalid_grant", "expired access/refresh token")
        return JsonResponse(token_body(request, org, issue(org, Token.Kind.ACCESS), None))
    return oauth_error("unsupported_grant_type", "grant type not supported")


def issue(org: Org, kind: str) -> Token:
    prefix = "00D" + store._base62(org.pk, 12) + "!"
    expires = Token.session_expiry(org) if kind == Token.Kind.ACCESS else None
    return Token.objects.create(
        org=org, kind=kind, value=prefix + secrets.token_urlsafe(48), expires_at=expires
    )


def token_body(request: HttpRequest, org: Org, access: Token, refresh: Token | None) -> dict:
    base = instance_url(request)
    body = {
        "access_token": access.value,
        "instance_url": base,
        "id": f"{base}/id/00D{store._base62(org.pk, 12)}/{store.make_id('005', org.pk, 0)}",
        "token_type": "Bearer",
        "issued_at": str(int(time.time() * 1000)),
        "signature": secrets.token_urlsafe(32),
        "scope": "api refresh_token",
    }
    if refresh is not None:
        body["refresh_token"] = refresh.value
    return body
