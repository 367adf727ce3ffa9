"""HubSpot sandbox state: portals, apps and tokens, CRM records, associations, pipelines.

Record ids are the rows' primary keys (digits, unique across portals, as HubSpot's are in
practice). Timestamps are kept to the millisecond, like HubSpot's, so a search filter on an
epoch-millisecond value matches exactly on every database.
"""

from __future__ import annotations

import secrets

from django.db import models


def _private_token() -> str:
    return f"pat-na1-{secrets.token_hex(16)}"


def _secret() -> str:
    return secrets.token_hex(16)


class Portal(models.Model):
    """One HubSpot account (a "hub"), reachable with its private-app token."""

    hub_id = models.BigIntegerField(unique=True)
    name = models.CharField(max_length=120, blank=True)
    private_token = models.CharField(max_length=200, unique=True, default=_private_token)
    # The private app's client secret: it signs the webhooks this portal sends.
    client_secret = models.CharField(max_length=100, default=_secret)
    scopes = models.JSONField(default=list, blank=True, help_text="Scopes granted to the private app.")
    # Rate limits (a Professional private app by default).
    rate_limit_enabled = models.BooleanField(default=True)
    ten_second_limit = models.PositiveIntegerField(default=190)
    interval_ms = models.PositiveIntegerField(default=10_000)
    search_per_second = models.PositiveIntegerField(default=5)
    daily_limit = models.PositiveIntegerField(default=625_000)
    search_cap = models.PositiveIntegerField(default=10_000, help_text="Search results reachable per query.")
    # Deal pipelines allowed by the plan (Sales Hub Professional allows 15, Starter 2, Free 1 [U]).
    deal_pipeline_limit = models.PositiveIntegerField(default=15, help_text="Deal pipelines the plan allows.")
    rate_limited_count = models.PositiveIntegerField(default=0, help_text="429s sent for real limits.")
    # Options this portal's users (or apps, through PATCH /crm/v3/properties) set on enumeration
    # properties: {object type: {property name: [option, ...]}}, replacing the built-in list.
    property_options = models.JSONField(default=dict, blank=True)
    # Fault injection: {"error_500": share, "error_429": share, "slow": share, "slow_seconds": s,
    # "drop": share, "html": share, "bad_json": share}; fault_budget caps how many are injected.
    faults = models.JSONField(default=dict, blank=True)
    fault_budget = models.IntegerField(null=True, blank=True)
    webhook_url = models.URLField(max_length=500, blank=True)
    app_id = models.BigIntegerField(default=1000001)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"portal {self.hub_id}"


class OAuthApp(models.Model):
    """A (public) OAuth app that portals can install through the consent page."""

    name = models.CharField(max_length=120, default="Syncsite")
    client_id = models.CharField(max_length=100, unique=True)
    client_secret = models.CharField(max_length=100, default=_secret)
    token_lifetime = models.PositiveIntegerField(default=1800, help_text="expires_in, seconds.")

    def __str__(self) -> str:
        return self.name


class AuthCode(models.Model):
    code = models.CharField(max_length=100, unique=True)
    app = models.ForeignKey(OAuthApp, on_delete=models.CASCADE)
    portal = models.ForeignKey(Portal, on_delete=models.CASCADE)
    scopes = models.JSONField(default=list)
    redirect_uri = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)
    used = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"code for {self.portal_id}"


class OAuthGrant(models.Model):
    """An app installed in a portal: the refresh token lives as long as the install."""

    refresh_token = models.CharField(max_length=200, unique=True)
    app = models.ForeignKey(OAuthApp, on_delete=models.CASCADE)
    portal = models.ForeignKey(Portal, on_delete=models.CASCADE)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"grant {self.pk}"


class AccessToken(models.Model):
    token = models.CharField(max_length=300, unique=True)
    grant = models.ForeignKey(OAuthGrant, on_delete=models.CASCADE, related_name="tokens")
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"token {self.pk}"


class CrmObject(models.Model):
    """A contact, company, deal or product; `properties` holds the settable values as strings."""

    portal = models.ForeignKey(Portal, on_delete=models.CASCADE)
    object_type = models.CharField(max_length=20)
    properties = models.JSONField(default=dict)
    email = models.CharField(max_length=254, blank=True, default="")  # contacts, lowercased
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    archived = models.BooleanField(default=False)
    archived_at = models.DateTimeField(null=True, blank=True)
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        indexes = [
            models.Index(fields=["portal", "object_type", "archived", "updated_at", "id"], name="hs_obj_modified"),
            models.Index(fields=["portal", "object_type", "archived", "id"], name="hs_obj_list"),
            models.Index(fields=["portal", "object_type", "email"], name="hs_obj_email"),
        ]

    def __str__(self) -> str:
        return f"{self.object_type} {self.pk}"


class Association(models.Model):
    portal = models.ForeignKey(Portal, on_delete=models.CASCADE)
    from_type = models.CharField(max_length=20)
    from_id = models.BigIntegerField()
    to_type = models.CharField(max_length=20)
    to_id = models.BigIntegerField()
    type_id = models.PositiveIntegerField()
    category = models.CharField(max_length=30, default="HUBSPOT_DEFINED")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["from_type", "from_id", "to_type", "to_id", "type_id"], name="hs_assoc_unique"
            )
        ]
        indexes = [models.Index(fields=["portal", "from_type", "from_id", "to_type"], name="hs_assoc_from")]

    def __str__(self) -> str:
        return f"{self.from_type} {self.from_id} -> {self.to_type} {self.to_id} ({self.type_id})"


class Pipeline(models.Model):
    portal = models.ForeignKey(Portal, on_delete=models.CASCADE)
    object_type = models.CharField(max_length=20)
    pipeline_id = models.CharField(max_length=60)
    label = models.CharField(max_length=200)
    display_order = models.IntegerField(default=0)
    stages = models.JSONField(default=list)  # [{id, label, displayOrder, metadata}]
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    archived = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["portal", "object_type", "pipeline_id"], name="hs_pipeline_unique")
        ]

    def __str__(self) -> str:
        return self.label
