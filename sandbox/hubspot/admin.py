"""The HubSpot sandbox's portals and OAuth apps in the admin (only while the sandbox is on):
where a person sets a portal's rate limits, injected faults and webhook URL."""

from django.conf import settings
from django.contrib import admin
from django.db import models

from sandbox.hubspot.models import OAuthApp, Portal

if settings.SANDBOX_ENABLED:

    @admin.register(Portal)
    class PortalAdmin(admin.ModelAdmin):
        list_display = ["hub_id", "name", "rate_limit_enabled", "ten_second_limit", "search_per_second",
                        "rate_limited_count", "webhook_url"]
        readonly_fields = ["rate_limited_count", "created_at"]
        formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
        fieldsets = [
            (None, {"fields": ["hub_id", "name", "private_token", "client_secret", "scopes", "app_id"]}),
            ("Rate limits", {"fields": ["rate_limit_enabled", "ten_second_limit", "interval_ms", "search_per_second",
                                        "daily_limit", "search_cap", "rate_limited_count"]}),
            ("Faults", {"fields": ["faults", "fault_budget"],
                        "description": 'Shares of requests to fail, e.g. {"error_500": 0.05, "error_429": 0.05, '
                                       '"slow": 0.05, "slow_seconds": 3, "drop": 0.02, "html": 0.01, "bad_json": 0.01}'}),
            ("Webhooks", {"fields": ["webhook_url"]}),
            ("Plan", {"fields": ["deal_pipeline_limit"]}),
        ]

    @admin.register(OAuthApp)
    class OAuthAppAdmin(admin.ModelAdmin):
        list_display = ["name", "client_id", "token_lifetime"]
