"""The OAuth connect flow, for every connector with `supports_oauth`.

    /connect/<pk>/         GET: what will be requested (app, scopes, redirect URI); POST: go to
                           the app's consent page with a signed state
    /connect/callback/     the app sends the person back here with ?code= (or ?error=): the code
                           is exchanged for tokens, stored encrypted, and the connection tested

The state is signed with django.core.signing and names the connection and the user, so a
callback can be neither forged nor replayed by someone else; no session state is needed. A
state is good for one callback (OAuthStateUse): a reload of the callback URL shows the
connection's status again instead of exchanging the spent code and marking it failing.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods

from connectors import registry
from connectors.errors import ConnectorError
from connectors.http import redact, secret_values
from connectors.models import Connection, OAuthStateUse

STATE_SALT = "connectors.oauth.state"
STATE_MAX_AGE = 15 * 60  # seconds a person may spend on the consent page


def _require_perms(request: HttpRequest) -> None:
    # Connecting writes credentials: only those who may change connections and see credentials.
    if not (request.user.has_perm("connectors.change_connection")
            and request.user.has_perm("connectors.view_credentials")):
        raise PermissionDenied


def redirect_uri(request: HttpRequest) -> str:
    path = reverse("connectors:oauth_callback")
    site = getattr(settings, "SITE_URL", "")
    return f"{site}{path}" if site else request.build_absolute_uri(path)


def _change_url(connection: Connection) -> str:
    return reverse("admin:connectors_connection_change", args=[connection.pk])


@sensitive_variables("state")
@sensitive_post_parameters()
@staff_member_required
@require_http_methods(["GET", "POST"])
def start(request: HttpRequest, pk: int) -> HttpResponse:
    _require_perms(request)
    connection = get_object_or_404(Connection, pk=pk)
    try:
        cls = connection.connector_class()
    except registry.UnknownConnectorKind as exc:
        raise Http404(str(exc)) from None
    problem = ""
    if not cls.supports_oauth:
        problem = f"{cls.label} does not connect with OAuth: enter its credentials on the connection instead."
    elif not connection.credentials.get("client_id") or not connection.credentials.get("client_secret"):
        problem = "Enter the OAuth client id and client secret on the connection first, then connect."
    if request.method == "POST" and not problem:
        state = signing.dumps({"c": connection.pk, "u": request.user.pk}, salt=STATE_SALT)
        try:
            url = connection.connector().authorize_url(redirect_uri(request), state)
        except ConnectorError as exc:
            messages.error(request, f"Cannot connect {connection.name}: {_hide(exc, connection)}")
            return HttpResponseRedirect(_change_url(connection))
        return HttpResponseRedirect(url)
    context = {
        **admin.site.each_context(request),
        "title": f"Connect {cls.label}",
        "connection": connection,
        "app_label": cls.label,
        "scopes": getattr(cls, "oauth_scopes", ()),
        "optional_scopes": getattr(cls, "oauth_optional_scopes", ()),
        "redirect_uri": redirect_uri(request),
        "problem": problem,
        "change_url": _change_url(connection),
        "opts": Connection._meta,
    }
    return TemplateResponse(request, "connectors/connect.html", context)


def _hide(text: object, connection: Connection, *more: str) -> str:
    """`text` without the connection's credentials (the HTTP layer redacts already)."""
    return redact(str(text), [*secret_values(connection.credentials), *more])


def _first_use(raw_state: str, connection: Connection) -> bool:
    """Record that `raw_state` came back; False if it had already (a replay or a reload)."""
    OAuthStateUse.objects.filter(used_at__lt=timezone.now() - timedelta(seconds=STATE_MAX_AGE)).delete()
    digest = hashlib.sha256(raw_state.encode()).hexdigest()
    try:
        with transaction.atomic():
            OAuthStateUse.objects.create(digest=digest, connection=connection)
    except IntegrityError:
        return False
    return True


@sensitive_variables("credentials", "code")
@staff_member_required
@require_GET
def callback(request: HttpRequest) -> HttpResponse:
    _require_perms(request)
    raw_state = request.GET.get("state", "")
    try:
        state = signing.loads(raw_state, salt=STATE_SALT, max_age=STATE_MAX_AGE)
    except signing.BadSignature:
        return HttpResponseBadRequest("This connection link is invalid or has expired. Start connecting again.")
    if not isinstance(state, dict) or state.get("u") != request.user.pk:
        raise PermissionDenied
    if not isinstance(state.get("c"), int):
        raise Http404("No such connection.")
    connection = get_object_or_404(Connection, pk=state["c"])
    if not _first_use(raw_state, connection):
        messages.info(request, f"This connection link was already used; {connection.name} is "
                               f"{connection.get_status_display().lower()}.")
        return HttpResponseRedirect(_change_url(connection))
    if request.GET.get("error"):
        description = request.GET.get("error_description") or request.GET["error"]
        messages.warning(request, f"{connection.name} was not connected: {description}")
        return HttpResponseRedirect(_change_url(connection))
    code = request.GET.get("code", "")
    try:
        credentials = connection.connector().exchange_code(code, redirect_uri(request))
    except ConnectorError as exc:
        connection.last_error = _hide(exc, connection, code)
        connection.status = Connection.Status.FAILING
        connection.save(update_fields=["last_error", "status", "updated_at"])
        messages.error(request, f"{connection.name} was not connected: {connection.last_error}")
        return HttpResponseRedirect(_change_url(connection))
    # Keep what the connection already had (the client id and secret) beside the new tokens.
    connection.credentials = {**connection.credentials, **credentials}
    connection.save(update_fields=["credentials", "updated_at"])
    result = connection.test()
    if result.ok:
        messages.success(request, f"{connection.name} is connected.")
    else:
        messages.warning(request, f"{connection.name} is connected but failing its check: {connection.last_error}")
    return HttpResponseRedirect(_change_url(connection))
