"""The record view's filters: a form, so any query string is validated, never trusted."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone

from connectors.base import OBJECT_TYPE_LABELS
from connectors.errors import ErrorCategory
from connectors.models import Connection
from syncrules.health.queries import BUCKET_FILTERS, BUCKETS
from syncrules.models import ObjectSync, RecordLink

PAGE_SIZE = 50
FRAMES = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}


class RecordFilterForm(forms.Form):
    """Every filter is optional; an invalid one is reported and ignored, the others apply."""

    q = forms.CharField(label="Search", required=False, max_length=200, strip=True,
                        widget=forms.TextInput(attrs={"placeholder": "id, email, name or domain", "size": 28}))
    sync = forms.ModelChoiceField(ObjectSync.objects.select_related("connection_a", "connection_b"),
                                  required=False, empty_label="All syncs")
    object_type = forms.ChoiceField(choices=[("", "All object types"), *OBJECT_TYPE_LABELS.items()], required=False)
    status = forms.ChoiceField(choices=[("", "Any status"), *BUCKETS], required=False)
    category = forms.ChoiceField(choices=[("", "Any error category"), *ErrorCategory.choices()], required=False)
    connection = forms.ModelChoiceField(Connection.objects.all(), required=False, empty_label="All connections")
    frame = forms.ChoiceField(
        label="Last activity",
        choices=[("", "Any time"), ("hour", "Last hour"), ("day", "Last day"), ("week", "Last week"),
                 ("custom", "Custom")], required=False)
    start = forms.DateTimeField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateTimeField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    page = forms.IntegerField(required=False, min_value=1, max_value=100_000, widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            self.add_error("end", "The end of the time frame is before its start.")
        return data

    def value(self, name: str):
        """A filter's cleaned value, or None when it is missing or invalid."""
        if not hasattr(self, "cleaned_data") or name in self.errors:
            return None
        return self.cleaned_data.get(name) or None


def search_q(term: str) -> Q:
    """An id on either side, the start of the record's match key (email, domain or company
    name, lowercased) or the start of its display name on either side. Prefixes, not any
    substring: each has an index, so a search stays fast at a million links."""
    key = term.lower()
    return (Q(id_a=term) | Q(id_b=term) | Q(match_key__startswith=key)
            | Q(name_a__istartswith=term) | Q(name_b__istartswith=term))


def filtered_links(form: RecordFilterForm) -> QuerySet[RecordLink]:
    """The links the form's valid filters select, newest activity first."""
    links = RecordLink.objects.select_related("object_sync__connection_a", "object_sync__connection_b")
    if sync := form.value("sync"):
        links = links.filter(object_sync=sync)
    if object_type := form.value("object_type"):
        links = links.filter(object_sync__object_type=object_type)
    if status := form.value("status"):
        links = links.filter(BUCKET_FILTERS[status])
    if category := form.value("category"):
        links = links.filter(error_category=category)
    if connection := form.value("connection"):
        links = links.filter(Q(object_sync__connection_a=connection) | Q(object_sync__connection_b=connection))
    links = _time_frame(form, links)
    if term := form.value("q"):
        links = links.filter(search_q(term))
    return links.order_by("-updated_at", "-pk")


def _time_frame(form: RecordFilterForm, links: QuerySet[RecordLink]) -> QuerySet[RecordLink]:
    frame = form.value("frame")
    if frame in FRAMES:
        return links.filter(updated_at__gte=timezone.now() - FRAMES[frame])
    if frame == "custom":
        if start := form.value("start"):
            links = links.filter(updated_at__gte=start)
        if end := form.value("end"):
            links = links.filter(updated_at__lt=end + timedelta(days=1))
    return links


def page_of(links: QuerySet[RecordLink], page: int | None) -> tuple[list[RecordLink], int, bool]:
    """One page of links without counting them all (a count of a million rows is slow): the
    rows, the page number and whether there is a next page."""
    page = page or 1
    rows = list(links[(page - 1) * PAGE_SIZE : page * PAGE_SIZE + 1])
    return rows[:PAGE_SIZE], page, len(rows) > PAGE_SIZE
