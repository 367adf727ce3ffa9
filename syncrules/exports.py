"""CSV exports of record links for support staff (the errored-records list, as filtered)."""

from __future__ import annotations

from import_export import fields, resources

from connectors.errors import ErrorCategory
from syncrules.models import RecordLink


class RecordLinkResource(resources.ModelResource):
    """One row per record link: where it is, whether it syncs, and if not, why and what to do."""

    object_sync = fields.Field(column_name="object sync")
    object_type = fields.Field(attribute="object_sync__object_type", column_name="object type")
    status = fields.Field(column_name="status")
    category = fields.Field(column_name="error category")
    hint = fields.Field(column_name="how to fix")

    class Meta:
        model = RecordLink
        fields = (
            "id", "object_sync", "object_type", "id_a", "id_b", "status", "category", "last_error",
            "hint", "fail_count", "last_synced_at", "next_retry_at",
        )
        export_order = fields

    def dehydrate_object_sync(self, link: RecordLink) -> str:
        return str(link.object_sync)

    def dehydrate_status(self, link: RecordLink) -> str:
        return link.get_status_display()

    def dehydrate_category(self, link: RecordLink) -> str:
        return ErrorCategory.from_code(link.error_category).label if link.error_category else ""

    def dehydrate_hint(self, link: RecordLink) -> str:
        return ErrorCategory.from_code(link.error_category).hint if link.error_category else ""
