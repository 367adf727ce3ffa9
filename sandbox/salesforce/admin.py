"""Sandbox orgs in the admin (only while the sandboxes are enabled): allocation, session policy
and fault injection are edited here for demos and manual testing."""

from django.conf import settings
from django.contrib import admin

from sandbox.salesforce.models import Org

if settings.SANDBOX_ENABLED:

    @admin.register(Org)
    class OrgAdmin(admin.ModelAdmin):
        list_display = (
            "name",
            "client_id",
            "api_used",
            "api_max",
            "multi_currency",
            "fault_500_share",
            "fault_lock_share",
            "fault_drop_share",
            "fault_slow_ms",
        )
        list_editable = (
            "api_max",
            "fault_500_share",
            "fault_lock_share",
            "fault_drop_share",
            "fault_slow_ms",
        )
        readonly_fields = ("next_id", "api_window_start")
        search_fields = ("name", "client_id")
