"""The state of change-triggered runs: one SyncTrigger per object sync, and the ids an app said
changed (PendingChange) until a run has read them."""

from __future__ import annotations

from django.db import models


class SyncTrigger(models.Model):
    """Debounce state of one object sync: at most one triggered run queued, and one more after a
    run during which changes arrived."""

    object_sync = models.OneToOneField(
        "syncrules.ObjectSync", on_delete=models.CASCADE, primary_key=True, related_name="trigger"
    )
    # Changes arrived that no triggered run has started reading yet.
    pending_at = models.DateTimeField(null=True, blank=True)
    # A triggered run is in the queue (not started yet).
    queued_at = models.DateTimeField(null=True, blank=True)
    # A triggered run is running: changes now wait for it to finish, then queue one more.
    running_since = models.DateTimeField(null=True, blank=True)
    last_change_at = models.DateTimeField(null=True, blank=True)
    last_webhook_at = models.DateTimeField(null=True, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    webhook_events = models.PositiveBigIntegerField(default=0)
    # Per side: where the last poll left off ({"b": {"stamp": ..., "ids": [...]}}).
    poll_cursor = models.JSONField(default=dict, blank=True)

    class Meta:
        app_label = "syncrules"
        default_permissions = ()  # internal state, never edited in the admin

    def __str__(self) -> str:
        return f"triggers of object sync {self.object_sync_id}"


class PendingChange(models.Model):
    """A record an app said changed, kept until a run of the sync has read it by id (HubSpot's
    search lags its writes, so the run cannot wait for search to see it)."""

    object_sync = models.ForeignKey("syncrules.ObjectSync", on_delete=models.CASCADE, related_name="+")
    side = models.CharField(max_length=1)
    record_id = models.CharField(max_length=64)
    received_at = models.DateTimeField()  # the last time the app said it changed

    class Meta:
        app_label = "syncrules"
        default_permissions = ()  # internal state, never edited in the admin
        constraints = [
            models.UniqueConstraint(fields=["object_sync", "side", "record_id"], name="pendingchange_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.record_id} changed on {self.side} (sync {self.object_sync_id})"


class PollLease(models.Model):
    """Which poll loop polls now (one at a time across every worker)."""

    name = models.CharField(max_length=40, primary_key=True)
    holder = models.CharField(max_length=40, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    renewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "syncrules"
        default_permissions = ()  # internal state, never edited in the admin

    def __str__(self) -> str:
        return f"poll lease {self.name}: {self.holder or 'free'}"
