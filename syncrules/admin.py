"""Object syncs, their memory and their logs in the admin."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from import_export.admin import ExportMixin

from connectors.errors import ErrorCategory
from syncrules import permissions
from syncrules.exports import RecordLinkResource, SafeCSV
from syncrules.models import (
    FieldMapping,
    LinkStatus,
    ObjectSync,
    PipelineMapping,
    RecordLink,
    RecordOutcome,
    StageMapping,
    SyncFilter,
    SyncRun,
)


class FieldMappingInline(admin.TabularInline):
    model = FieldMapping
    extra = 0
    fields = ["field_a", "field_b", "direction", "enabled", "is_default", "value_map", "policy", "fallback_option", "position"]
    # Compact cells: the inline's row must fit a laptop screen with the policy columns.
    formfield_overrides = {models.JSONField: {"widget": forms.Textarea(attrs={"rows": 3, "cols": 24})},
                           models.CharField: {"widget": forms.TextInput(attrs={"size": 14})}}


class SyncFilterInline(admin.TabularInline):
    model = SyncFilter
    extra = 0


class PipelineMappingInline(admin.TabularInline):
    model = PipelineMapping
    extra = 0
    show_change_link = True


def _health_count(count: int, url: str) -> str:
    """A count on the object sync list that opens exactly those records on the health pages."""
    return format_html('<a href="{}">{}</a>', url, count)


@admin.register(ObjectSync)
class ObjectSyncAdmin(admin.ModelAdmin):
    """Syncs are set up and changed through the wizard (syncrules/wizard); the raw model form is
    for superusers only, with the engine's internals read-only."""

    list_display = [
        "sync_link", "object_type", "direction", "state_badge", "in_sync", "errors", "excluded", "next_run_at",
    ]
    list_display_links = None
    list_filter = ["state", "object_type", "direction", "connection_a", "connection_b"]
    search_fields = ["name", "connection_a__name", "connection_b__name"]
    list_select_related = ["connection_a", "connection_b"]
    readonly_fields = [
        "state", "wizard_step", "options", "interval_seconds", "next_run_at", "created_by",
        "initial_sync_done_at", "initial_processed", "initial_total", "cursor_a", "cursor_b",
        "running_since", "lease_expires_at", "created_at", "updated_at", "extra_cursors",
    ]
    fieldsets = [
        (None, {"fields": ["name", "connection_a", "connection_b", "object_type", "direction", "conflict_winner",
                           "require_email", "match_records", "sync_deals"]}),
        ("Internals (read-only)", {"classes": ["collapse"], "fields": [
            "state", "wizard_step", "options", "interval_seconds", "next_run_at", "created_by",
            "initial_sync_done_at", "initial_processed", "initial_total", "cursor_a", "cursor_b", "extra_cursors",
            "running_since", "lease_expires_at", "created_at", "updated_at"]}),
    ]
    inlines = [FieldMappingInline, SyncFilterInline, PipelineMappingInline]

    def get_urls(self):
        from syncrules.wizard.urls import wizard_urls

        return wizard_urls(self.admin_site) + super().get_urls()

    def has_add_permission(self, request) -> bool:
        # Syncs are added through the wizard (add_view leads there), never the raw form.
        return False

    def add_view(self, request, form_url="", extra_context=None):
        from syncrules.permissions import can_edit_syncs

        if not can_edit_syncs(request.user):
            raise PermissionDenied
        return redirect("admin:syncrules_objectsync_wizard")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if not request.user.is_superuser:
            if not self.has_view_or_change_permission(request):
                raise PermissionDenied
            pk = object_id if str(object_id).isdigit() else 0
            return redirect("admin:syncrules_objectsync_page", pk)
        return super().change_view(request, object_id, form_url, extra_context)

    def changelist_view(self, request, extra_context=None):
        from syncrules.permissions import can_edit_syncs
        from syncrules.wizard.entry import entries

        allowed = can_edit_syncs(request.user)
        extra = {"title": "Object syncs", "can_set_up": allowed, "more_data": entries() if allowed else [],
                 **(extra_context or {})}
        return super().changelist_view(request, extra)

    @admin.display(description="sync", ordering="name")
    def sync_link(self, obj: ObjectSync) -> str:
        if obj.state == ObjectSync.State.DRAFT:
            return format_html('<a href="{}">{}</a> <em>Draft: finish setup</em>',
                               reverse("admin:syncrules_objectsync_page", args=[obj.pk]), obj)
        return format_html('<a href="{}">{}</a>', reverse("admin:syncrules_objectsync_page", args=[obj.pk]), obj)
    actions = [
        "turn_on", "turn_off", "run_now", "resync_deleted_in_a", "resync_deleted_in_b", "check_prerequisites",
        "mirror_pipelines",
    ]

    def get_queryset(self, request):
        from syncrules.health.queries import count_annotations

        # The health pages' buckets (waiting records are not errors), from the kept counts on
        # PostgreSQL: counting a million links per page view took most of a second.
        return super().get_queryset(request).annotate(**count_annotations())

    @admin.display(description="state", ordering="state")
    def state_badge(self, obj: ObjectSync) -> str:
        if obj.is_running:
            return format_html('<strong style="color:#2471a3">Running</strong>')
        if obj.running_since:  # the worker stopped renewing its lease (killed): free at the next due run
            return format_html('<strong style="color:#b9770e" title="{}">Worker stopped</strong>',
                               "Its run was interrupted; the sync runs again at its next due time.")
        colour = {"active": "#1e8449", "off": "#7f8c8d", "draft": "#b7950b"}[obj.state]
        return format_html('<strong style="color:{}">{}</strong>', colour, obj.get_state_display())

    @admin.display(description="in sync", ordering="n_in_sync")
    def in_sync(self, obj: ObjectSync) -> str:
        return _health_count(obj.n_in_sync, reverse("health:records") + f"?sync={obj.pk}&status=in_sync")

    @admin.display(description="errors", ordering="n_errors")
    def errors(self, obj: ObjectSync) -> str:
        return _health_count(obj.n_errors, reverse("health:errors", args=[obj.pk]))

    @admin.display(description="excluded", ordering="n_excluded")
    def excluded(self, obj: ObjectSync) -> str:
        return _health_count(obj.n_excluded, reverse("health:records") + f"?sync={obj.pk}&status=excluded")

    def has_toggle_permission(self, request) -> bool:
        return permissions.can_toggle_syncs(request.user)

    @admin.action(description="Turn selected syncs on", permissions=["toggle"])
    def turn_on(self, request, queryset):
        # A draft never runs: it is finished (and turned on) through the wizard.
        for sync in queryset.exclude(state__in=[ObjectSync.State.ACTIVE, ObjectSync.State.DRAFT]):
            sync.turn_on()
        self.message_user(request, "Turned on (drafts stay drafts); the syncs run at their next check.", messages.SUCCESS)

    @admin.action(description="Turn selected syncs off", permissions=["toggle"])
    def turn_off(self, request, queryset):
        for sync in queryset.exclude(state__in=[ObjectSync.State.OFF, ObjectSync.State.DRAFT]):
            sync.turn_off()
        self.message_user(request, "Turned off.", messages.SUCCESS)

    def has_run_permission(self, request) -> bool:
        return permissions.can_run_syncs(request.user)

    def has_resync_permission(self, request) -> bool:
        return permissions.can_resync_records(request.user)

    def has_call_apps_permission(self, request) -> bool:
        return permissions.can_call_apps(request.user)

    @admin.action(description="Run selected syncs now", permissions=["run"])
    def run_now(self, request, queryset):
        from syncrules.tasks import DEPENDENCY_ORDER, enqueue_run

        rows = queryset.exclude(state=ObjectSync.State.DRAFT).values_list("pk", "object_type")
        # Companies before contacts before deals, so associations complete in the same runs.
        ids = [pk for pk, kind in sorted(rows, key=lambda row: (DEPENDENCY_ORDER.get(row[1], 9), row[0]))]
        for sync_id in ids:
            enqueue_run(sync_id, trigger=SyncRun.Trigger.MANUAL)
        skipped = queryset.count() - len(ids)
        note = f" ({skipped} draft sync(s) skipped: finish their setup first)" if skipped else ""
        self.message_user(request, f"Queued {len(ids)} run(s); see the sync runs for progress{note}.", messages.SUCCESS)

    def _resync(self, request, queryset, side: str) -> None:
        from syncrules.tasks import enqueue_resync

        status = LinkStatus.DELETED_A if side == "a" else LinkStatus.DELETED_B
        total = 0
        for sync in queryset:
            count = sync.links.filter(status=status).count()
            if count:
                enqueue_resync(sync.pk, side)
                total += count
        self.message_user(request, f"Queued the resync of {total} deleted record(s) in {side.upper()}.",
                          messages.SUCCESS if total else messages.WARNING)

    @admin.action(description="Resync deleted records in A", permissions=["resync"])
    def resync_deleted_in_a(self, request, queryset):
        self._resync(request, queryset, "a")

    @admin.action(description="Resync deleted records in B", permissions=["resync"])
    def resync_deleted_in_b(self, request, queryset):
        self._resync(request, queryset, "b")

    @admin.action(description="Deal syncs: check prerequisites", permissions=["call_apps"])
    def check_prerequisites(self, request, queryset):
        """What each deal sync needs, checked against the apps (F3.5, F6.9). An action, not a
        field of the change page: that page renders inside a transaction, and HTTP calls must
        never run inside one."""
        from syncrules.deals import check_prerequisites

        for sync in queryset.filter(object_type="deals"):
            try:
                checks = check_prerequisites(sync)
            except Exception as exc:  # noqa: BLE001 - an unreachable app is a message, not a traceback
                self.message_user(request, f"{sync}: the apps could not be checked: {exc}", messages.ERROR)
                continue
            for check in checks:
                level = messages.SUCCESS if check.ok else messages.ERROR if check.blocking else messages.WARNING
                self.message_user(request, f"{sync}: {check.message}", level)

    def has_mirror_permission(self, request) -> bool:
        return permissions.can_edit_syncs(request.user)

    @admin.action(description="Deal syncs: mirror pipelines and auto-map stages", permissions=["mirror"])
    def mirror_pipelines(self, request, queryset):
        from syncrules.deals import mirror_pipelines

        for sync in queryset.filter(object_type="deals"):
            try:
                setup = mirror_pipelines(sync)
            except Exception as exc:  # noqa: BLE001 - the apps' errors are shown, never a traceback
                self.message_user(request, f"{sync}: the pipelines could not be read: {exc}", messages.ERROR)
                continue
            text = f"{sync}: created {len(setup.created)} pipeline(s), mapped {len(setup.mapped)}."
            self.message_user(request, text, messages.SUCCESS)
            for problem in setup.problems:
                self.message_user(request, f"{sync}: {problem}", messages.WARNING)


class StageMappingInline(admin.TabularInline):
    model = StageMapping
    extra = 0


@admin.register(PipelineMapping)
class PipelineMappingAdmin(admin.ModelAdmin):
    list_display = ["__str__", "object_sync"]
    list_filter = ["object_sync"]
    search_fields = ["pipeline_a", "pipeline_a_label", "pipeline_b", "pipeline_b_label"]
    inlines = [StageMappingInline]


@admin.register(StageMapping)
class StageMappingAdmin(admin.ModelAdmin):
    list_display = ["__str__", "pipeline_mapping"]
    list_filter = ["pipeline_mapping__object_sync"]
    search_fields = ["stage_a", "stage_a_label", "stage_b", "stage_b_label"]
    list_select_related = ["pipeline_mapping"]


@admin.register(FieldMapping)
class FieldMappingAdmin(admin.ModelAdmin):
    list_display = ["__str__", "object_sync", "direction", "enabled", "is_default"]
    list_filter = ["enabled", "is_default", "direction", "object_sync"]
    search_fields = ["field_a", "field_b"]
    list_select_related = ["object_sync"]


@admin.register(SyncFilter)
class SyncFilterAdmin(admin.ModelAdmin):
    list_display = ["__str__", "object_sync", "side"]
    list_filter = ["side", "operator", "object_sync"]
    search_fields = ["field", "value"]
    list_select_related = ["object_sync"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Log tables: nobody adds or edits rows by hand."""

    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def _category_cell(code: str) -> str:
    if not code:
        return "-"
    category = ErrorCategory.from_code(code)
    return format_html(
        '<span title="{}" style="color:{};border-bottom:1px dotted">{}</span>',
        category.hint, category.colour, category.label,
    )


@admin.register(RecordLink)
class RecordLinkAdmin(ExportMixin, ReadOnlyAdmin):
    # "Export" downloads the list as filtered (e.g. failing records of one category) as CSV.
    resource_classes = [RecordLinkResource]
    formats = [SafeCSV]
    skip_export_form = True
    list_display = ["__str__", "object_sync", "status", "category_display", "short_error", "last_synced_at"]
    list_filter = ["status", "error_category", "object_sync__object_type", "object_sync", "last_synced_at"]
    search_fields = ["id_a", "id_b", "last_error"]
    list_select_related = ["object_sync__connection_a", "object_sync__connection_b"]
    actions = ["retry", "resync_deleted"]

    @admin.display(description="error category", ordering="error_category")
    def category_display(self, obj: RecordLink) -> str:
        return _category_cell(obj.error_category)

    def export_action(self, request):
        """The export of the list as filtered; filters the list refuses are refused here too
        (the list shows itself unfiltered with an error marker, ?e=1), never a 500."""
        try:
            return super().export_action(request)
        except (IncorrectLookupParameters, ValidationError, ValueError, OverflowError):
            self.message_user(request, "The export's filters are not valid: showing the list unfiltered.",
                              messages.ERROR)
            return HttpResponseRedirect(reverse("admin:syncrules_recordlink_changelist") + f"?{ERROR_FLAG}=1")

    @admin.display(description="last error")
    def short_error(self, obj: RecordLink) -> str:
        return (obj.last_error[:100] + "...") if len(obj.last_error) > 100 else obj.last_error

    def has_retry_permission(self, request) -> bool:
        return permissions.can_retry_records(request.user)

    def has_resync_permission(self, request) -> bool:
        return permissions.can_resync_records(request.user)

    @admin.action(description="Retry selected records at the next run", permissions=["retry"])
    def retry(self, request, queryset):
        count = queryset.filter(status=LinkStatus.FAILING).update(next_retry_at=timezone.now(), fail_count=0)
        self.message_user(request, f"{count} failing record(s) will be retried at the next run.", messages.SUCCESS)

    @admin.action(description="Resync selected deleted records", permissions=["resync"])
    def resync_deleted(self, request, queryset):
        from syncrules.tasks import enqueue_resync

        total = 0
        for status, side in ((LinkStatus.DELETED_A, "a"), (LinkStatus.DELETED_B, "b")):
            by_sync: dict[int, list[int]] = {}
            for link_id, sync_id in queryset.filter(status=status).values_list("pk", "object_sync"):
                by_sync.setdefault(sync_id, []).append(link_id)
            for sync_id, link_ids in by_sync.items():
                enqueue_resync(sync_id, side, link_ids)
                total += len(link_ids)
        self.message_user(request, f"Queued the resync of {total} deleted record(s).",
                          messages.SUCCESS if total else messages.WARNING)


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = [
        "started_at", "object_sync", "kind", "trigger", "status", "progress", "created", "updated",
        "matched", "excluded", "failed", "deleted", "associated", "waiting", "http_calls", "duration",
    ]
    list_filter = ["status", "kind", "trigger", "object_sync"]
    list_select_related = ["object_sync__connection_a", "object_sync__connection_b"]
    date_hierarchy = "started_at"

    @admin.display(description="progress")
    def progress(self, obj: SyncRun) -> str:
        waiting = format_html("<br><small>{}</small>", obj.waiting_for) if obj.waiting_for else ""
        if not obj.estimated_total:
            return format_html("{}{}", obj.processed, waiting)
        return format_html(
            '<progress max="{}" value="{}"></progress> {} / {}{}',
            obj.estimated_total, obj.processed, obj.processed, obj.estimated_total, waiting,
        )


@admin.register(RecordOutcome)
class RecordOutcomeAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "object_sync", "action", "id_a", "id_b", "side", "category_display", "message"]
    list_filter = ["action", "category", "object_sync__object_type", "object_sync", "created_at"]
    search_fields = ["id_a", "id_b", "message"]
    list_select_related = ["object_sync__connection_a", "object_sync__connection_b"]

    @admin.display(description="error category", ordering="category")
    def category_display(self, obj: RecordOutcome) -> str:
        return _category_cell(obj.category)
