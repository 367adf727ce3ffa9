"""Connections in the admin: credentials are write-only and masked, and only for admins."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from connectors import registry
from connectors.base import Connector
from connectors.crypto import UNREADABLE_MESSAGE
from connectors.models import Connection

CRED_PREFIX = "cred_"


def can_see_credentials(request: HttpRequest) -> bool:
    return request.user.has_perm("connectors.view_credentials")


class ConnectionForm(forms.ModelForm):
    """Adds one field per credential the connector declares; secrets are never rendered back."""

    connector_class: type[Connector] | None = None
    base_url = forms.URLField(
        label="Base URL", required=False, assume_scheme="https", max_length=300,
        help_text="Leave blank for the app's public API.",
    )

    class Meta:
        model = Connection
        fields = ["kind", "name", "base_url", "options"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        cls = self.connector_class
        if cls is None:
            return
        existing = self.instance.credentials if self.instance.pk else {}
        for param in cls.credential_params:
            has_value = bool(existing.get(param.name))
            if param.secret:
                field = forms.CharField(
                    label=param.label,
                    required=param.required and not has_value,
                    widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
                    help_text=("Stored (hidden). Leave blank to keep it. " if has_value else "") + param.help_text,
                )
            else:
                field = forms.CharField(
                    label=param.label,
                    required=param.required,
                    initial=existing.get(param.name, ""),
                    help_text=param.help_text,
                )
            self.fields[CRED_PREFIX + param.name] = field

    @method_decorator(sensitive_variables("credentials", "value", "unreadable"))
    def save(self, commit: bool = True):
        connection = super().save(commit=False)
        unreadable = connection.credentials if connection.credentials_unreadable else None
        credentials = dict(connection.credentials or {})
        for name, value in self.cleaned_data.items():
            if not name.startswith(CRED_PREFIX):
                continue
            key = name[len(CRED_PREFIX):]
            if value:
                credentials[key] = value
            elif not isinstance(self.fields[name].widget, forms.PasswordInput):
                # A cleared plain field clears the value; a blank secret keeps the stored one.
                credentials.pop(key, None)
        # Nothing entered over unreadable credentials: keep the stored token for the old key.
        connection.credentials = credentials if credentials or unreadable is None else unreadable
        if commit:
            connection.save()
        return connection


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    form = ConnectionForm
    list_display = ["name", "kind_display", "status_badge", "last_checked_at", "short_error", "usage"]
    list_filter = ["kind", "status"]
    search_fields = ["name", "base_url", "last_error"]
    readonly_fields = ["status", "last_checked_at", "last_error", "usage", "created_at", "updated_at"]
    actions = ["test_connections"]

    @admin.display(description="app", ordering="kind")
    def kind_display(self, obj: Connection) -> str:
        return obj.kind_label

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Connection) -> str:
        colour = {"connected": "#1e8449", "failing": "#c0392b"}.get(obj.status, "#7f8c8d")
        return format_html('<strong style="color:{}">{}</strong>', colour, obj.get_status_display())

    @admin.display(description="last error")
    def short_error(self, obj: Connection) -> str:
        if obj.credentials_unreadable:
            return UNREADABLE_MESSAGE
        return (obj.last_error[:80] + "...") if len(obj.last_error) > 80 else obj.last_error

    @method_decorator(sensitive_post_parameters())
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # The DEBUG error page must never show the credentials a person just posted.
        return super().changeform_view(request, object_id, form_url, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id) if request.method == "GET" else None
        if obj is not None and obj.credentials_unreadable:
            self.message_user(request, UNREADABLE_MESSAGE, messages.ERROR)
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="API usage")
    def usage(self, obj: Connection) -> str:
        usage = obj.api_usage or {}
        if not usage.get("allowed"):
            return "-"
        return format_html(
            '<meter min="0" max="{}" value="{}"></meter> {} / {}',
            usage["allowed"], usage["used"], usage["used"], usage["allowed"],
        )

    def _kind_for(self, request: HttpRequest, obj: Connection | None) -> str:
        if obj is not None:
            return obj.kind
        return request.POST.get("kind") or request.GET.get("kind") or ""

    def _connector_class(self, request: HttpRequest, obj: Connection | None) -> type[Connector] | None:
        """The connector whose credentials the form asks for; None for users who may not see them."""
        kind = self._kind_for(request, obj)
        if not kind or not can_see_credentials(request):
            return None
        try:
            return registry.get_class(kind)
        except registry.UnknownConnectorKind:
            return None

    def get_form(self, request, obj=None, change=False, **kwargs):
        # The credential fields are added by the form itself, so the model fields come from
        # the form's Meta rather than from the fieldsets (which name the credential fields too).
        kwargs["fields"] = list(ConnectionForm.Meta.fields)
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"connector_class": self._connector_class(request, obj)})

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields.append("kind")
        return fields

    def get_fieldsets(self, request, obj=None):
        cls = self._connector_class(request, obj)
        cred_fields = [f"{CRED_PREFIX}{p.name}" for p in cls.credential_params] if cls else []
        main = ["kind", "name", "base_url"]
        fieldsets = [(None, {"fields": main})]
        if cred_fields:
            fieldsets.append(("Credentials", {"fields": cred_fields, "description": "Stored encrypted; secrets are never shown back."}))
        elif obj is None and can_see_credentials(request):
            fieldsets.append(("Credentials", {"fields": [], "description": "Choose the app and save to enter its credentials, or use a 'Connect' button on the connection list."}))
        fieldsets.append(("Status", {"fields": ["status", "last_checked_at", "last_error", "usage"]}))
        fieldsets.append(("Advanced", {"fields": ["options"], "classes": ["collapse"]}))
        return fieldsets

    def changelist_view(self, request, extra_context=None):
        extra_context = extra_context or {}
        extra_context["connector_kinds"] = registry.kind_choices()
        return super().changelist_view(request, extra_context)

    @admin.action(description="Test selected connections", permissions=["change"])
    def test_connections(self, request, queryset):
        for connection in queryset:
            result = connection.test()
            level = messages.SUCCESS if result.ok else messages.WARNING
            text = "connected" if result.ok else f"failing: {result.message}"
            self.message_user(request, f"{connection.name}: {text}", level)
