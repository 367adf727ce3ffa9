"""Object syncs, their memory and their logs in the admin."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
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
    fields = ["field_a", "field_b", "direction", "enabled", "is_default", "value_map", "position"]


class SyncFilterInline(admin.TabularInline):
    model = SyncFilter
    extra = 0


class PipelineMappingInline(admin.TabularInline):
    model = PipelineMapping
    extra = 0
    show_change_link = True


@admin.register(ObjectSync)
class ObjectSyncAdmin(admin.ModelAdmin):
    list_display = ["__str__", "object_type", "direction", "state_badge", "in_sync", "errors", "next_run_at"]
    list_filter = ["state", "object_type", "direction", "connection_a", "connection_b"]
    search_fields = ["name", "connection_a__name", "connection_b__name"]
    list_select_related = ["connection_a", "connection_b"]
    readonly_fields = [
        "initial_sync_done_at", "initial_processed", "initial_total", "cursor_a", "cursor_b",
        "running_since", "created_at", "updated_at", "extra_cursors",
    ]
    inlines = [FieldMappingInline, SyncFilterInline, PipelineMappingInline]
    actions = [
        "turn_on", "turn_off", "run_now", "resync_deleted_in_a", "resync_deleted_in_b", "check_prerequisites",
        "mirror_pipelines",
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            n_in_sync=Count("links", filter=Q(links__status=LinkStatus.IN_SYNC)),
            n_errors=Count("links", filter=Q(links__status=LinkStatus.FAILING)),
        )

    @admin.display(description="state", ordering="state")
    def state_badge(self, obj: ObjectSync) -> str:
        if obj.running_since:
            return format_html('<strong style="color:#2471a3">Running</strong>')
        colour = {"active": "#1e8449", "off": "#7f8c8d", "draft": "#b7950b"}[obj.state]
        return format_html('<strong style="color:{}">{}</strong>', colour, obj.get_state_display())

    @admin.display(description="in sync", ordering="n_in_sync")
    def in_sync(self, obj: ObjectSync) -> int:
        return obj.n_in_sync

    @admin.display(description="errors", ordering="n_errors")
    def errors(self, obj: ObjectSync) -> int:
        return obj.n_errors

    def has_toggle_permission(self, request) -> bool:
        return permissions.can_toggle_syncs(request.user)

    @admin.action(description="Turn selected syncs on", permissions=["toggle"])
    def turn_on(self, request, queryset):
        for sync in queryset.exclude(state=ObjectSync.State.ACTIVE):
            sync.turn_on()
        self.message_user(request, "Turned on; the syncs run at their next check.", messages.SUCCESS)

    @admin.action(description="Turn selected syncs off", permissions=["toggle"])
    def turn_off(self, request, queryset):
        for sync in queryset.exclude(state=ObjectSync.State.OFF):
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
        if not obj.estimated_total:
            return str(obj.processed)
        return format_html(
            '<progress max="{}" value="{}"></progress> {} / {}',
            obj.estimated_total, obj.processed, obj.processed, obj.estimated_total,
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
