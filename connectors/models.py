"""Connections: one connected account of an app."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone

from connectors import registry
from connectors.base import CheckResult, Connector
from connectors.crypto import UNREADABLE_MESSAGE, EncryptedJSONField, UnreadableCredentials
from connectors.errors import ConnectorError, ErrorCategory
from connectors.http import redact, secret_values
from connectors.jsonfields import ObjectSchema, StrictJSONField


class Connection(models.Model):
    class Status(models.TextChoices):
        NEW = "new", "Not checked yet"
        CONNECTED = "connected", "Connected"
        FAILING = "failing", "Failing"
        DISCONNECTED = "disconnected", "Disconnected"

    kind = models.CharField(max_length=40, choices=registry.kind_choices, db_index=True)
    name = models.CharField("display name", max_length=120)
    base_url = models.URLField(
        "base URL", max_length=300, blank=True, help_text="Leave blank for the app's public API."
    )
    credentials = EncryptedJSONField(blank=True, default=dict, editable=False)
    options = StrictJSONField(
        default=dict, blank=True, validators=[ObjectSchema("connection_options")],
        help_text="Connector settings, e.g. the API share allocated.",
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    api_usage = models.JSONField(
        default=dict, blank=True, editable=False, help_text="API calls used and allowed, as reported by the app."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "name"]
        permissions = [("view_credentials", "Can see and set connection credentials")]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind_label})"

    @property
    def kind_label(self) -> str:
        try:
            return registry.get_class(self.kind).label
        except registry.UnknownConnectorKind:
            return f"unknown kind {self.kind!r}"

    def connector_class(self) -> type[Connector]:
        return registry.get_class(self.kind)

    @property
    def credentials_unreadable(self) -> bool:
        """Whether the stored credentials were encrypted with a key no longer configured."""
        return isinstance(self.credentials, UnreadableCredentials)

    def connector(self) -> Connector:
        """A connector for this account; refreshed credentials are saved back encrypted."""
        if self.credentials_unreadable:
            raise ConnectorError(ErrorCategory.CREDENTIALS_UNREADABLE, UNREADABLE_MESSAGE)
        cls = self.connector_class()
        connector = cls(
            self.base_url or cls.default_base_url,
            self.credentials,
            on_credentials=self._store_credentials,
            # The last known usage lets a budget-aware connector stop before its first call.
            options={**self.options, "api_usage": dict(self.api_usage or {})},
        )
        connector.on_api_usage = self.record_api_usage
        return connector

    def _store_credentials(self, credentials: dict[str, Any]) -> None:
        self.credentials = credentials
        Connection.objects.filter(pk=self.pk).update(credentials=credentials)

    def record_api_usage(self, used: int, allowed: int) -> None:
        """Remember the app's reported API usage (one UPDATE, no row lock)."""
        usage = {"used": used, "allowed": allowed, "at": timezone.now().isoformat()}
        self.api_usage = usage
        Connection.objects.filter(pk=self.pk).update(api_usage=usage)

    def test(self) -> CheckResult:
        """Check credentials and permissions, and record the outcome on the row."""
        try:
            result = self.connector().check()
        except registry.UnknownConnectorKind as exc:
            result = CheckResult(ok=False, message=str(exc))
        except ConnectorError as exc:
            result = CheckResult(ok=False, message=str(exc))
        # The connector's HTTP layer redacts already; this also covers whatever else said it.
        result.message = redact(result.message, secret_values(self.credentials))
        self.status = self.Status.CONNECTED if result.ok else self.Status.FAILING
        self.last_error = "" if result.ok else result.message
        self.last_checked_at = timezone.now()
        self.save(update_fields=["status", "last_error", "last_checked_at", "updated_at"])
        return result


class OAuthStateUse(models.Model):
    """An OAuth state that came back to the callback: a state is good for one use only.

    The signed state already names the connection and the user; this row makes a replay of
    the callback URL (a reload, the browser's history, a leaked link) harmless: it is seen,
    and answered with the connection's current status instead of a second code exchange.
    """

    digest = models.CharField(max_length=64, unique=True)  # sha256 of the state, not the state
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="+")
    used_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = "used OAuth state"

    def __str__(self) -> str:
        return f"OAuth state for connection #{self.connection_id} used at {self.used_at:%Y-%m-%d %H:%M}"
