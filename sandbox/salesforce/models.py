"""State of the Salesforce sandbox: orgs, OAuth tokens, records and query cursors.

Every sObject lives in one `Record` table (type, id, field values as JSON) with the columns the
API filters on most (SystemModstamp, IsDeleted, the external id) copied out and indexed. The
object schemas themselves are plain Python (schema.py), so the sandbox needs no migration to
add a field.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.utils import timezone


class Org(models.Model):
    """One Salesforce org: its connected app, API allocation, session policy and faults."""

    name = models.SlugField(max_length=60, unique=True)
    client_id = models.CharField(max_length=100, unique=True)
    client_secret = models.CharField(max_length=100)
    multi_currency = models.BooleanField(default=False)
    currencies = models.JSONField(default=list, blank=True)  # ISO codes; first is the corporate one
    api_max = models.PositiveIntegerField(default=15000)  # the daily allocation (Developer Edition)
    api_used = models.PositiveIntegerField(default=0)
    api_window_start = models.DateTimeField(default=timezone.now)
    session_seconds = models.PositiveIntegerField(default=7200)
    next_id = models.BigIntegerField(default=1)
    # Field-level and object-level security of the integration user:
    # {"hidden_objects": ["Lead"], "hidden_fields": ["Contact.Phone"], "readonly_fields": [...]}
    restrictions = models.JSONField(default=dict, blank=True)
    duplicate_rule_on_email = models.BooleanField(default=False)
    # Fault injection: shares are probabilities in [0, 1]; slow_ms delays every API response.
    fault_500_share = models.FloatField(default=0)
    fault_lock_share = models.FloatField(default=0)
    fault_drop_share = models.FloatField(default=0)
    fault_slow_ms = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return self.name


class Token(models.Model):
    """An OAuth artefact: an authorization code, an access token (session) or a refresh token."""

    class Kind(models.TextChoices):
        CODE = "code"
        ACCESS = "access"
        REFRESH = "refresh"

    org = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="tokens")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    value = models.CharField(max_length=120, unique=True)
    redirect_uri = models.CharField(max_length=500, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.kind} for {self.org}"

    @property
    def expired(self) -> bool:
        return self.revoked or (self.expires_at is not None and self.expires_at <= timezone.now())

    @classmethod
    def session_expiry(cls, org: Org):
        return timezone.now() + timedelta(seconds=org.session_seconds)


class Record(models.Model):
    """One sObject record. `data` holds the writable fields in their JSON form."""

    org = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="records")
    sobject = models.CharField(max_length=40)
    sf_id = models.CharField(max_length=18, unique=True)
    data = models.JSONField(default=dict)
    is_deleted = models.BooleanField(default=False)
    created_date = models.DateTimeField()
    last_modified_date = models.DateTimeField()
    system_modstamp = models.DateTimeField()
    deleted_date = models.DateTimeField(null=True, blank=True)
    ext_key = models.CharField(max_length=255, blank=True, default="")  # External_Id__c, lowercased

    class Meta:
        indexes = [
            models.Index(fields=["org", "sobject", "system_modstamp"], name="sf_rec_modstamp"),
            models.Index(fields=["org", "sobject", "is_deleted"], name="sf_rec_deleted"),
            models.Index(fields=["org", "sobject", "ext_key"], name="sf_rec_extkey"),
            models.Index(fields=["org", "sobject", "deleted_date"], name="sf_rec_deleted_date"),
        ]

    def __str__(self) -> str:
        return f"{self.sobject} {self.sf_id}"


class QueryCursor(models.Model):
    """The snapshot of ids a query matched, served page by page through nextRecordsUrl."""

    org = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="cursors")
    locator = models.CharField(max_length=40, unique=True)
    sobject = models.CharField(max_length=40)
    fields = models.JSONField(default=list)
    ids = models.JSONField(default=list)
    include_deleted = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.locator
