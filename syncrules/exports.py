"""CSV exports of record links for support staff (the errored-records list, as filtered)."""

from __future__ import annotations

from django.conf import settings
from import_export import fields, resources
from import_export.formats.base_formats import CSV

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


# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets (OWASP
# "CSV injection"); a tab or carriage return can hide one behind whitespace.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class SafeCSV(CSV):
    """CSV whose cells cannot run as spreadsheet formulas.

    The library's own setting (IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT, on in settings.py) turns
    the escaping on; its escaping only drops a leading "=", so this one quotes every formula
    prefix with a leading apostrophe instead, which spreadsheets show as text and keep whole.
    """

    def _escape_formulae(self, dataset) -> None:  # noqa: ANN001 - a tablib Dataset
        if not getattr(settings, "IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT", False):
            return
        for _ in range(len(dataset)):
            dataset.append([escape_formula(cell) for cell in dataset.lpop()])


def escape_formula(cell: object) -> object:
    """`cell` as text a spreadsheet will not evaluate (numbers and empty cells unchanged)."""
    if isinstance(cell, str) and cell.startswith(FORMULA_PREFIXES):
        return "'" + cell
    return cell
