"""OAuth 2.0: the consent page, token exchange and refresh, token info (reference 1.2).

Token errors use HubSpot's own shape (`status` such as BAD_REFRESH_TOKEN), not RFC 6749's.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta
from urllib.parse import urlencode

from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from sandbox.hubspot.models import AccessToken, AuthCode, OAuthApp, OAuthGrant, Portal

CODE_LIFETIME = timedelta(minutes=10)


def _redirect(uri: str, params: dict) -> HttpResponseRedirect:
    joiner = "&" if "?" in uri else "?"
    return HttpResponseRedirect(uri + joiner + urlencode({k: v for k, v in params.items() if v is not None}))


def authorize(request):
    """The consent page: pick the portal to install into, see the scopes, grant or deny."""
    params = request.POST if request.method == "POST" else request.GET
    app = OAuthApp.objects.filter(client_id=params.get("client_id", "")).first()
    redirect_uri = params.get("redirect_uri", "")
    scopes = [s for s in params.get("scope", "").replace("+", " ").split() if s]
    optional = [s for s in params.get("optional_scope", "").replace("+", " ").split() if s]
    if app is None or not redirect_uri or not scopes:
        return HttpResponseBadRequest("Invalid authorization request: client_id, redirect_uri and scope are required, "
                                      "and client_id must name an app.", content_type="text/plain")
    state = params.get("state")
    if request.method == "POST":
        if "deny" in request.POST:
            return _redirect(redirect_uri, {"error": "access_denied",
                                            "error_description": "The user denied access", "state": state})
        portal = Portal.objects.filter(hub_id=request.POST.get("portal") or 0).first()
        if portal is None:
            return HttpResponseBadRequest("Choose an account.", content_type="text/plain")
        code = AuthCode.objects.create(code=str(uuid.uuid4()), app=app, portal=portal, scopes=scopes + optional,
                                       redirect_uri=redirect_uri)
        return _redirect(redirect_uri, {"code": code.code, "state": state})
    return render(request, "sandbox_hubspot/authorize.html", {
        "app": app, "scopes": scopes, "optional": optional, "portals": Portal.objects.order_by("hub_id"),
        "params": request.GET.items(),
    })


def _token_error(status: str, message: str) -> JsonResponse:
    return JsonResponse({"status": status, "message": message, "correlationId": str(uuid.uuid4())}, status=400)


def _issue(grant: OAuthGrant) -> JsonResponse:
    token = AccessToken.objects.create(
        token=f"sbx-{secrets.token_urlsafe(40)}", grant=grant,
        expires_at=timezone.now() + timedelta(seconds=grant.app.token_lifetime),
    )
    return JsonResponse({
        "access_token": token.token, "refresh_token": grant.refresh_token, "expires_in": grant.app.token_lifetime,
        "token_type": "bearer", "token_use": "access_token", "hub_id": grant.portal.hub_id, "user_id": 1,
        "scopes": grant.scopes,
    })


@csrf_exempt
def token(request):
    if request.method != "POST":
        return HttpResponse(status=405)
    form = request.POST
    app = OAuthApp.objects.filter(client_id=form.get("client_id", "")).first()
    if app is None:
        return _token_error("BAD_CLIENT_ID", "missing or unknown client id")
    if not secrets.compare_digest(app.client_secret, form.get("client_secret", "")):
        return _token_error("BAD_CLIENT_SECRET", "missing or invalid client secret")
    grant_type = form.get("grant_type")
    if grant_type == "authorization_code":
        code = AuthCode.objects.filter(code=form.get("code", ""), app=app, used=False,
                                       created_at__gte=timezone.now() - CODE_LIFETIME).first()
        if code is None:
            return _token_error("BAD_AUTH_CODE", "missing or unknown auth code")
        if code.redirect_uri != form.get("redirect_uri"):
            return _token_error("BAD_REDIRECT_URI", "redirect_uri does not match the one used to authorize")
        if not AuthCode.objects.filter(pk=code.pk, used=False).update(used=True):
            return _token_error("BAD_AUTH_CODE", "auth code already used")
        grant = OAuthGrant.objects.create(refresh_token=str(uuid.uuid4()), app=app, portal=code.portal,
                                          scopes=code.scopes)
        return _issue(grant)
    if grant_type == "refresh_token":
        grant = OAuthGrant.objects.select_related("app", "portal").filter(
            refresh_token=form.get("refresh_token", ""), app=app).first()
        if grant is None:
            return _token_error("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
        return _issue(grant)
    return _token_error("BAD_GRANT_TYPE", f"unsupported grant_type {grant_type!r}")


def access_token_info(_request, token_value):
    access = AccessToken.objects.select_related("grant__portal", "grant__app").filter(token=token_value).first()
    if access is None or access.expires_at <= timezone.now():
        return JsonResponse({"status": "error", "message": "The access token is expired or invalid",
                             "category": "EXPIRED_AUTHENTICATION", "correlationId": str(uuid.uuid4())}, status=401)
    grant = access.grant
    return JsonResponse({
        "token": access.token, "user": "sandbox@example.com", "hub_domain": f"portal{grant.portal.hub_id}.example.com",
        "scopes": grant.scopes, "hub_id": grant.portal.hub_id, "app_id": grant.app.pk, "user_id": 1,
        "token_type": "access", "expires_in": int((access.expires_at - timezone.now()).total_seconds()),
    })
