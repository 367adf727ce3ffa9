"""No credential ever leaves the credential store: with OAuth and token connections whose vendor
calls fail in every way the sandboxes can fail, no page, message, log record, stored error,
outcome or export holds any of them.

Over real HTTP against the sandboxes (live server), through the real connectors, the engine,
the admin actions and the OAuth callback.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.contrib import admin
from django.contrib.messages import get_messages
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from connectors import views as connect_views
from connectors.models import Connection
from sandbox.hubspot import gate
from sandbox.hubspot.models import AccessToken, OAuthApp, OAuthGrant, Portal
from sandbox.hubspot.seed import ensure_portal, seed_records
from sandbox.salesforce.models import Org, Token
from sandbox.salesforce.seed import seed_org
from syncrules.engine import run_sync
from syncrules.models import ObjectSync, RecordLink, RecordOutcome, SyncRun

pytestmark = pytest.mark.django_db(transaction=True)

HUBSPOT_FAULTS = {
    "HubSpot answers 500": {"error_500": 1.0},
    "HubSpot answers 429": {"error_429": 1.0, "retry_after": 0},
    "HubSpot is slow": {"slow": 1.0, "slow_seconds": 1.5},
    "HubSpot drops the connection": {"drop": 1.0},
    "HubSpot answers an HTML page": {"html": 1.0},
    "HubSpot answers broken JSON": {"bad_json": 1.0},
}
SALESFORCE_FAULTS = {
    "Salesforce answers 500": {"fault_500_share": 1.0},
    "Salesforce drops the connection": {"fault_drop_share": 1.0},
    "Salesforce's allocation is spent": {"api_max": 0},
    "Salesforce locks rows": {"fault_lock_share": 1.0},
}


class Site:
    """Two apps connected three ways, with every secret the connections hold."""

    def __init__(self, live_url: str) -> None:
        gate.reset_rate_limits()
        self.portal = ensure_portal(810001, rate_limit_enabled=False)
        seed_records(self.portal, contacts=3, companies=1, seed=5)
        app = OAuthApp.objects.create(client_id="leak-test-client", name="Syncsite")
        grant = OAuthGrant.objects.create(refresh_token="leak-refresh-8c7b6a5f4e3d2c1b", app=app,
                                          portal=self.portal, scopes=list(self.portal.scopes))
        access = AccessToken.objects.create(token="sbx-leak-access-1a2b3c4d5e6f7a8b9c0d", grant=grant,
                                            expires_at=timezone.now() + timedelta(hours=1))
        self.org = seed_org("leakorg", contacts=3, accounts=1)
        hub = f"{live_url}/sandbox/hubspot"
        sf = f"{live_url}/sandbox/salesforce"
        fast = {"client_rate_limit": False, "max_attempts": 1, "read_timeout": 0.5, "search_lag_seconds": 0}
        # No "scopes" beside the OAuth token: its scope check must ask HubSpot about the token.
        self.oauth = Connection.objects.create(kind="hubspot", name="HubSpot OAuth", base_url=hub, options=fast,
                                               credentials={"access_token": access.token, "client_id": app.client_id,
                                                            "client_secret": app.client_secret,
                                                            "refresh_token": grant.refresh_token,
                                                            "expires_at": time.time() + 3600})
        self.private = Connection.objects.create(kind="hubspot", name="HubSpot private app", base_url=hub,
                                                 options=fast, credentials={"access_token": self.portal.private_token})
        self.salesforce = Connection.objects.create(
            kind="salesforce", name="Salesforce", base_url=sf, options={"max_attempts": 1, "backoff_base": 0,
                                                                        "timeout": 1.0},
            credentials={"access_token": self.org.access_token, "refresh_token": self.org.refresh_token,
                         "instance_url": sf, "client_id": self.org.org.client_id,
                         "client_secret": self.org.org.client_secret})
        self.secrets = [access.token, grant.refresh_token, app.client_secret, self.portal.private_token,
                        self.org.access_token, self.org.refresh_token, self.org.org.client_secret]
        self.syncs = [
            ObjectSync.objects.create(connection_a=self.oauth, connection_b=self.salesforce, object_type="contacts",
                                      state="active"),
            ObjectSync.objects.create(connection_a=self.private, connection_b=self.salesforce,
                                      object_type="deals", state="active", sync_deals=True),
        ]
        for sync in self.syncs:
            sync.field_mappings.create(field_a="email" if sync.object_type == "contacts" else "dealname",
                                       field_b="Email" if sync.object_type == "contacts" else "Name")

    def break_hubspot(self, faults: dict) -> None:
        Portal.objects.filter(pk=self.portal.pk).update(faults=faults, fault_budget=None)

    def break_salesforce(self, fields: dict) -> None:
        Org.objects.filter(pk=self.org.org.pk).update(**fields)

    def heal(self) -> None:
        Portal.objects.filter(pk=self.portal.pk).update(faults={})
        Org.objects.filter(pk=self.org.org.pk).update(fault_500_share=0, fault_drop_share=0, fault_lock_share=0,
                                                       api_max=15000)

    def leaks(self, text: str) -> list[str]:
        return [s for s in self.secrets if s in text or quote(s, safe="") in text]


@pytest.fixture
def site(live_server, admin_client):  # noqa: ARG001 - admin_client logs a superuser in
    return Site(live_server.url)


def _use_everything(site: Site, client) -> list[str]:
    """Everything a person does with failing apps; returns every text it produced."""
    texts = []
    for connection in (site.oauth, site.private, site.salesforce):
        connection.test()
    for sync in site.syncs:
        run_sync(sync.pk)
    changelist = reverse("admin:connectors_connection_changelist")
    response = client.post(changelist, {"action": "test_connections",
                                        "_selected_action": [site.oauth.pk, site.private.pk, site.salesforce.pk]},
                           follow=True)
    texts.append(response.content.decode())
    response = client.post(reverse("admin:syncrules_objectsync_changelist"),
                           {"action": "check_prerequisites", "_selected_action": [s.pk for s in site.syncs]},
                           follow=True)
    texts.append(response.content.decode())
    texts += [str(m) for m in get_messages(response.wsgi_request)]
    return texts


def _every_page(client) -> list[str]:
    texts = []
    request = client.get(reverse("admin:index")).wsgi_request
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in {"connectors", "syncrules"}:
            continue
        info = (model._meta.app_label, model._meta.model_name)
        texts.append(client.get(reverse("admin:%s_%s_changelist" % info)).content.decode())
        for obj in model_admin.get_queryset(request).order_by("pk")[:5]:
            for view in ("change", "history"):
                texts.append(client.get(reverse(f"admin:%s_%s_{view}" % info, args=[obj.pk])).content.decode())
    texts.append(client.get(reverse("admin:syncrules_recordlink_export")).content.decode())
    texts.append(client.get(reverse("admin:index")).content.decode())
    return texts


def _stored(site: Site) -> list[str]:
    texts = [c.last_error for c in Connection.objects.all()]
    texts += list(SyncRun.objects.values_list("error", flat=True))
    texts += list(RecordOutcome.objects.values_list("message", flat=True))
    texts += list(RecordLink.objects.values_list("last_error", flat=True))
    return texts


def _logged(caplog) -> list[str]:
    texts = []
    for record in caplog.records:
        texts.append(record.getMessage())
        if record.exc_info:
            texts.append(logging.Formatter().formatException(record.exc_info))
    return texts


FAILURES = [("hubspot", name, faults) for name, faults in HUBSPOT_FAULTS.items()] + [
    ("salesforce", name, fields) for name, fields in SALESFORCE_FAULTS.items()] + [("down", "both apps are down", {})]


@pytest.mark.parametrize(("app", "failure", "setting"), FAILURES, ids=[f for _, f, _ in FAILURES])
def test_no_credential_shows_anywhere_when_the_apps_fail(site, admin_client, caplog, app, failure, setting):
    caplog.set_level(logging.DEBUG)
    if app == "hubspot":
        site.break_hubspot(setting)
    elif app == "salesforce":
        site.break_salesforce(setting)
    else:
        Connection.objects.update(base_url="http://127.0.0.1:9")
        Connection.objects.filter(kind="salesforce").update(
            credentials={**site.salesforce.credentials, "instance_url": "http://127.0.0.1:9"})
    texts = _use_everything(site, admin_client)
    site.heal()  # the pages are read while the apps answer again: no call is made by them anyway
    texts += _every_page(admin_client) + _stored(site) + _logged(caplog)
    leaks = [(secret, text[:300]) for text in texts for secret in site.leaks(text)]
    assert not leaks, f"{failure}: {leaks[:3]}"
    # The failure did reach the places checked (else this test could not fail).
    assert any(_stored(site)), failure


def test_the_oauth_callback_never_shows_the_code_or_the_tokens_when_the_exchange_fails(site, admin_client, caplog):
    caplog.set_level(logging.DEBUG)
    user = admin_client.get(reverse("admin:index")).wsgi_request.user
    Connection.objects.filter(pk=site.oauth.pk).update(base_url="http://127.0.0.1:9")
    code = "leak-auth-code-5d4c3b2a1f0e"
    site.secrets.append(code)
    state = signing.dumps({"c": site.oauth.pk, "u": user.pk}, salt=connect_views.STATE_SALT)
    response = admin_client.get(reverse("connectors:oauth_callback"), {"code": code, "state": state}, follow=True)
    texts = [response.content.decode(), *_stored(site), *_logged(caplog)]
    assert not [t for t in texts if site.leaks(t)]
    site.oauth.refresh_from_db()
    assert site.oauth.status == Connection.Status.FAILING and site.oauth.last_error


def test_a_revoked_salesforce_session_and_refresh_token_show_no_secret(site, caplog):
    caplog.set_level(logging.DEBUG)
    Token.objects.filter(org=site.org.org).update(revoked=True)
    result = site.salesforce.test()
    assert not result.ok
    texts = [result.message, *_stored(site), *_logged(caplog)]
    assert not [t for t in texts if site.leaks(t)]
