"""Object syncs and their memory: mappings, filters, pipelines, record links, runs, outcomes."""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import DEFERRED, Q
from django.utils import timezone

from connectors.base import COMPANIES, CONTACTS, DEALS, OBJECT_TYPE_LABELS
from connectors.errors import ErrorCategory
from connectors.jsonfields import ObjectSchema, StrictJSONField
from connectors.models import Connection
from syncrules.permissions import CUSTOM_PERMISSIONS

# The object types the engine syncs (engine.runner.SUPPORTED_TYPES): only these are offered.
SYNCABLE_TYPES = (COMPANIES, CONTACTS, DEALS)


class Side(models.TextChoices):
    """The two sides of a sync; the engine's one vocabulary for them (never "a"/"b" literals)."""

    A = "a", "Side A"
    B = "b", "Side B"

    @property
    def other(self) -> Side:
        return Side.B if self is Side.A else Side.A

    @property
    def letter(self) -> str:
        """"A" or "B", as messages name a side in short."""
        return self.value.upper()


class Direction(models.TextChoices):
    TWO_WAY = "two_way", "Two-way"
    TO_A = "to_a", "Only to side A"
    TO_B = "to_b", "Only to side B"


def default_interval() -> int:
    return settings.SYNC_INTERVAL_SECONDS


class ObjectSync(models.Model):
    """One sync of one object type between two connections."""

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "On"
        OFF = "off", "Off"

    name = models.CharField(max_length=200, blank=True)
    connection_a = models.ForeignKey(
        Connection, on_delete=models.PROTECT, related_name="syncs_as_a", verbose_name="side A"
    )
    connection_b = models.ForeignKey(
        Connection, on_delete=models.PROTECT, related_name="syncs_as_b", verbose_name="side B"
    )
    object_type = models.CharField(
        max_length=40, choices=[(key, OBJECT_TYPE_LABELS[key]) for key in SYNCABLE_TYPES], db_index=True
    )
    direction = models.CharField(max_length=10, choices=Direction.choices, default=Direction.TWO_WAY)
    conflict_winner = models.CharField(max_length=1, choices=Side.choices, default=Side.A)
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT, db_index=True)
    wizard_step = models.CharField(max_length=20, blank=True, default="select")
    require_email = models.BooleanField(
        "only sync contacts with an email address", default=True
    )
    match_records = models.BooleanField(
        "match existing records", default=True, help_text="Contacts by email, companies by name or domain."
    )
    sync_deals = models.BooleanField(
        "sync deals",
        default=False,
        help_text="Deal syncs with an app that asks for it (Salesforce): no deal is created until this is on.",
    )
    options = StrictJSONField(default=dict, blank=True, validators=[ObjectSchema("sync_options")])
    # Who started the wizard: a draft is theirs to finish (two people never edit one draft).
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )

    initial_sync_done_at = models.DateTimeField(null=True, blank=True)
    initial_processed = models.PositiveIntegerField(default=0)
    initial_total = models.PositiveIntegerField(null=True, blank=True)
    cursor_a = models.JSONField(null=True, blank=True)
    cursor_b = models.JSONField(null=True, blank=True)
    # Cursors of the run's other reads: deletions and association changes per side, and the
    # time of the last association sweep ({"deleted_a": ..., "assoc_b_contacts": ...}).
    extra_cursors = models.JSONField(default=dict, blank=True)
    interval_seconds = models.PositiveIntegerField(default=default_interval, validators=[MinValueValidator(10)])
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    running_since = models.DateTimeField(null=True, blank=True)
    # The running worker's lease: it renews lease_expires_at while it works (syncrules.lease);
    # once that passes the claim is free. The token tells one claim from the next, so a worker
    # that lost its lease can neither renew nor release the claim another worker took.
    lease_token = models.CharField(max_length=32, blank=True, default="", editable=False)
    lease_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Outcomes older than this were pruned (OUTCOME_RETENTION_DAYS): a record's story is
    # incomplete before it.
    history_pruned_before = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        verbose_name = "object sync"
        permissions = list(CUSTOM_PERMISSIONS)
        constraints = [
            models.CheckConstraint(
                condition=~Q(connection_a=models.F("connection_b")),
                name="objectsync_two_different_connections",
            ),
        ]

    def __str__(self) -> str:
        return self.name or f"{self.get_object_type_display()}: {self.connection_a.name} <-> {self.connection_b.name}"

    def save(self, *args, **kwargs):
        # One-way syncs default the conflict winner to the side data flows from (F2.3); the
        # field's own default (A) cannot know the direction, so a new "only to A" sync is fixed here.
        if self._state.adding and self.direction == Direction.TO_A and self.conflict_winner == Side.A:
            self.conflict_winner = Side.B
        super().save(*args, **kwargs)

    def connection(self, side: str) -> Connection:
        return self.connection_a if side == Side.A else self.connection_b

    def flows_to(self, side: str) -> bool:
        """Whether data may be written to `side` under this sync's direction."""
        if self.direction == Direction.TWO_WAY:
            return True
        return self.direction == (Direction.TO_A if side == Side.A else Direction.TO_B)

    def turn_on(self) -> None:
        self.state = self.State.ACTIVE
        self.next_run_at = timezone.now()
        self.save(update_fields=["state", "next_run_at", "updated_at"])

    def turn_off(self) -> None:
        self.state = self.State.OFF
        self.next_run_at = None
        self.save(update_fields=["state", "next_run_at", "updated_at"])

    @staticmethod
    def lease_length() -> timedelta:
        return timedelta(seconds=settings.SYNC_LEASE_SECONDS)

    @classmethod
    def claim_is_free(cls, now=None) -> Q:
        """Syncs nobody runs: no claim, or a lease that expired without a heartbeat (a claim
        from before leases counts its start as its last heartbeat)."""
        now = now or timezone.now()
        return (Q(running_since__isnull=True) | Q(lease_expires_at__lt=now)
                | Q(lease_expires_at__isnull=True, running_since__lt=now - cls.lease_length()))

    @property
    def lease_expired(self) -> bool:
        """Claimed, but the worker stopped renewing its lease (it died): the claim is free."""
        if not self.running_since:
            return False
        expires = self.lease_expires_at or self.running_since + self.lease_length()
        return expires < timezone.now()

    @property
    def is_running(self) -> bool:
        """A worker holds the claim and renews its lease."""
        return bool(self.running_since) and not self.lease_expired

    def claim(self) -> bool:
        """Take this sync for one run unless a live worker holds it (a conditional UPDATE).

        The claim is a lease of SYNC_LEASE_SECONDS that the run renews (`renew`) while it works."""
        now = timezone.now()
        token = secrets.token_hex(16)
        expires = now + self.lease_length()
        claimed = ObjectSync.objects.filter(self.claim_is_free(now), pk=self.pk).update(
            running_since=now, lease_token=token, lease_expires_at=expires
        )
        if claimed:
            self.running_since, self.lease_token, self.lease_expires_at = now, token, expires
        return bool(claimed)

    def renew(self) -> bool:
        """Extend this worker's lease; False when the claim is no longer its own."""
        if not self.lease_token:
            return False
        expires = timezone.now() + self.lease_length()
        renewed = ObjectSync.objects.filter(pk=self.pk, lease_token=self.lease_token).update(lease_expires_at=expires)
        if renewed:
            self.lease_expires_at = expires
        return bool(renewed)

    def release(self) -> bool:
        """Give the claim back and schedule the next run; refused (False) when the lease expired
        and another worker has taken the sync over since."""
        if not self.lease_token:
            return False
        released = ObjectSync.objects.filter(pk=self.pk, lease_token=self.lease_token).update(
            running_since=None, lease_token="", lease_expires_at=None,
            next_run_at=timezone.now() + timedelta(seconds=self.interval_seconds),
        )
        self.running_since, self.lease_token, self.lease_expires_at = None, "", None
        return bool(released)


class ValuePolicy(models.TextChoices):
    """What a mapping does with a value the target field cannot hold (FEATURES F2.4)."""

    SKIP_FIELD = "skip_field", "Skip the field (warning)"
    FAIL_RECORD = "fail_record", "Fail the record"
    FALLBACK_OPTION = "fallback_option", "Use a fallback option"
    ADD_OPTION = "add_option", "Add the missing option"
    TRUNCATE = "truncate", "Truncate to fit"


class FieldMapping(models.Model):
    Policy = ValuePolicy

    object_sync = models.ForeignKey(ObjectSync, on_delete=models.CASCADE, related_name="field_mappings")
    field_a = models.CharField("field on side A", max_length=200)
    field_b = models.CharField("field on side B", max_length=200)
    direction = models.CharField(max_length=10, choices=Direction.choices, default=Direction.TWO_WAY)
    enabled = models.BooleanField(default=True)
    is_default = models.BooleanField("default mapping", default=False)
    value_map = StrictJSONField(
        default=dict,
        blank=True,
        validators=[ObjectSchema("value_map")],
        help_text='Enumeration options: {"a_to_b": {"A value": "B value"}, "b_to_a": {...}}.',
    )
    position = models.PositiveIntegerField(default=0)
    policy = models.CharField(
        "if a value does not fit", max_length=20, choices=ValuePolicy.choices, default=ValuePolicy.SKIP_FIELD,
        help_text="No matching option, too long, wrong format: skip the field with a warning, or as chosen.",
    )
    fallback_option = models.CharField(
        max_length=255, blank=True, help_text="The target's option used for values it has no option for."
    )

    class Meta:
        ordering = ["object_sync", "position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["object_sync", "field_a", "field_b"], name="fieldmapping_unique_pair"),
        ]

    def __str__(self) -> str:
        arrow = {"two_way": "<->", "to_a": "<-", "to_b": "->"}[self.direction]
        return f"{self.field_a} {arrow} {self.field_b}"


class SyncFilter(models.Model):
    class Operator(models.TextChoices):
        EQUALS = "eq", "is equal to"
        NOT_EQUALS = "neq", "is not equal to"
        CONTAINS = "contains", "contains"
        NOT_CONTAINS = "not_contains", "does not contain"
        IN = "in", "is any of"
        GREATER = "gt", "is greater than"
        LESS = "lt", "is less than"
        KNOWN = "known", "is known"
        UNKNOWN = "unknown", "is unknown"

    object_sync = models.ForeignKey(ObjectSync, on_delete=models.CASCADE, related_name="filters")
    side = models.CharField(
        max_length=1, choices=Side.choices, help_text="Records of this side must pass to enter the sync."
    )
    field = models.CharField(max_length=200)
    operator = models.CharField(max_length=20, choices=Operator.choices)
    value = models.CharField(max_length=500, blank=True, help_text="For 'is any of', separate values with commas.")

    class Meta:
        ordering = ["object_sync", "side", "pk"]

    def __str__(self) -> str:
        return f"{self.get_side_display()}: {self.field} {self.get_operator_display()} {self.value}".strip()


class PipelineMapping(models.Model):
    object_sync = models.ForeignKey(ObjectSync, on_delete=models.CASCADE, related_name="pipeline_mappings")
    pipeline_a = models.CharField(max_length=200)
    pipeline_a_label = models.CharField(max_length=200, blank=True)
    pipeline_b = models.CharField(max_length=200)
    pipeline_b_label = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["object_sync", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["object_sync", "pipeline_a"], name="pipelinemapping_unique_a"),
            models.UniqueConstraint(fields=["object_sync", "pipeline_b"], name="pipelinemapping_unique_b"),
        ]

    def __str__(self) -> str:
        return f"{self.pipeline_a_label or self.pipeline_a} <-> {self.pipeline_b_label or self.pipeline_b}"


class StageMapping(models.Model):
    pipeline_mapping = models.ForeignKey(PipelineMapping, on_delete=models.CASCADE, related_name="stage_mappings")
    stage_a = models.CharField(max_length=200)
    stage_a_label = models.CharField(max_length=200, blank=True)
    stage_b = models.CharField(max_length=200)
    stage_b_label = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["pipeline_mapping", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["pipeline_mapping", "stage_a"], name="stagemapping_unique_a"),
        ]

    def __str__(self) -> str:
        return f"{self.stage_a_label or self.stage_a} <-> {self.stage_b_label or self.stage_b}"


class LinkStatus(models.TextChoices):
    IN_SYNC = "in_sync", "In sync"
    EXCLUDED = "excluded", "Excluded"
    FAILING = "failing", "Failing"
    DELETED_A = "deleted_a", "Deleted on side A"
    DELETED_B = "deleted_b", "Deleted on side B"

    @classmethod
    def deleted_on(cls, side: str) -> LinkStatus:
        return cls.DELETED_A if Side(side) is Side.A else cls.DELETED_B

    @property
    def is_deleted(self) -> bool:
        return self in (LinkStatus.DELETED_A, LinkStatus.DELETED_B)


MAX_BACKOFF = timedelta(hours=6)


def backoff(fail_count: int, retry_after: float | None = None) -> timedelta:
    """Wait before retrying a transient failure: 2, 4, 8 ... minutes, at most 6 hours."""
    wait = min(timedelta(minutes=2 ** min(fail_count, 12)), MAX_BACKOFF)
    return max(wait, timedelta(seconds=retry_after or 0))


# Categories a link fails with because of its associations, not its own fields.
ASSOCIATION_CATEGORIES = frozenset({ErrorCategory.WAITING_FOR_DEPENDENCY.code, ErrorCategory.ASSOCIATION_FAILED.code})
PROBLEMS_KEY = "_pending"  # RecordLink.associations: associated type -> AssociationProblem (as a dict)


@dataclass
class AssociationProblem:
    """Why one associated object type of a link did not sync: the association step's finding,
    kept under RecordLink.associations["_pending"][type] with named keys."""

    category: str  # an ErrorCategory code: waiting_for_dependency or association_failed (or transient)
    message: str
    retry_after: float = 0
    attempts: int = 0  # runs that found it, not passes
    run: int | None = None  # the SyncRun that last counted an attempt

    @property
    def waiting(self) -> bool:
        return self.category == ErrorCategory.WAITING_FOR_DEPENDENCY.code

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, value: Any) -> AssociationProblem | None:
        """From its stored dict, or the positional list older versions stored; None if unreadable."""
        if isinstance(value, dict) and isinstance(value.get("category"), str):
            return cls(value["category"], str(value.get("message", "")), float(value.get("retry_after") or 0),
                       int(value.get("attempts") or 0), value.get("run"))
        if isinstance(value, list | tuple) and value and isinstance(value[0], str):
            padded = [*value, None, None, None, None][:5]
            return cls(padded[0], str(padded[1] or ""), float(padded[2] or 0), int(padded[3] or 0), padded[4])
        return None


class RecordLink(models.Model):
    """The identity of one synced pair of records: the sync's memory.

    A link may hold an id on one side only while the record is excluded or its create failed.
    """

    # Its own index stays: on SQLite it is (object_sync, id), the order of the association sweep.
    object_sync = models.ForeignKey(ObjectSync, on_delete=models.CASCADE, related_name="links")
    # NULL (not "") for "no record on this side", so the partial unique constraints ignore it.
    id_a = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    id_b = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    status = models.CharField(max_length=20, choices=LinkStatus.choices, default=LinkStatus.IN_SYNC)
    last_values = models.JSONField(default=dict, blank=True, help_text="Last synced value of each mapped field.")
    associations = models.JSONField(
        default=dict, blank=True, help_text="Last synced associations: object type -> links of the associated records."
    )
    modified_a = models.DateTimeField(null=True, blank=True)
    modified_b = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    error_category = models.CharField(max_length=40, choices=ErrorCategory.choices(), blank=True)
    last_error = models.TextField(blank=True)
    fail_count = models.PositiveIntegerField(default=0)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # What the engine last read of each record, so lists and searches need no API call
    # (engine.names says which fields these come from).
    name_a = models.CharField("name on side A", max_length=200, blank=True)
    name_b = models.CharField("name on side B", max_length=200, blank=True)
    match_key = models.CharField(
        max_length=255, blank=True, help_text="Lowercased email (contacts), domain or name (companies)."
    )
    # Fields not carried: [{"field", "value", "reason", "category", "side", "mapping"}], kept
    # until a later run carries them; has_warnings mirrors it for an indexed count.
    warnings = models.JSONField(default=list, blank=True)
    has_warnings = models.BooleanField("in sync with warnings", default=False)

    class Meta:
        verbose_name = "record link"
        constraints = [
            models.UniqueConstraint(
                fields=["object_sync", "id_a"], condition=Q(id_a__isnull=False), name="recordlink_unique_id_a"
            ),
            models.UniqueConstraint(
                fields=["object_sync", "id_b"], condition=Q(id_b__isnull=False), name="recordlink_unique_id_b"
            ),
            models.CheckConstraint(
                condition=Q(id_a__isnull=False) | Q(id_b__isnull=False), name="recordlink_has_an_id"
            ),
        ]
        indexes = [
            models.Index(fields=["object_sync", "status", "updated_at"], name="recordlink_status_idx"),
            # The health pages: per-sync counts by status and category (an index-only scan), the
            # record view across syncs newest first, by status, and a search by id on either side.
            models.Index(fields=["object_sync", "status", "error_category", "updated_at"], name="recordlink_health_idx"),
            models.Index(fields=["-updated_at"], name="recordlink_updated_idx"),
            models.Index(fields=["status", "-updated_at"], name="recordlink_status_time_idx"),
            models.Index(fields=["id_a"], name="recordlink_id_a_idx"),
            models.Index(fields=["id_b"], name="recordlink_id_b_idx"),
            models.Index(fields=["error_category", "-updated_at"], name="recordlink_category_time_idx"),
            # The record view's search by the start of an email or domain (LIKE 'x%'); the names'
            # case-insensitive prefix indexes are PostgreSQL's only (migration 0008).
            models.Index(fields=["match_key"], opclasses=["varchar_pattern_ops"], name="recordlink_key_prefix_idx"),
            models.Index(fields=["object_sync", "status", "has_warnings"], name="recordlink_warnings_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.id_a or '-'} <-> {self.id_b or '-'}"

    # The indexed columns a run may change. The store's UPDATE sets those that differ from what
    # was loaded only (engine.store.update_rows): SQLite rewrites the index entries of every
    # indexed column an UPDATE sets, changed or not (14 pages a link at 1M links, not 6).
    INDEXED_FIELDS = ("id_a", "id_b", "status", "error_category", "match_key", "has_warnings")

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        loaded = dict(zip(field_names, values, strict=False))
        # A field not loaded (deferred) counts as changed: never read it here (a query each).
        instance._indexed = tuple(loaded.get(name, DEFERRED) for name in cls.INDEXED_FIELDS)
        return instance

    def refresh_from_db(self, *args, **kwargs) -> None:
        super().refresh_from_db(*args, **kwargs)
        self._indexed = None  # unknown again: the next UPDATE sets every indexed column

    def mark_saved(self) -> None:
        """The indexed columns as the database now holds them (the store saved them)."""
        self._indexed = tuple(getattr(self, name) for name in self.INDEXED_FIELDS)

    def changed_indexed_fields(self) -> tuple[str, ...]:
        """The indexed fields (updated_at aside) whose values differ from those loaded or last
        saved; all of them for a link whose state in the database is not known."""
        loaded = getattr(self, "_indexed", None)
        if loaded is None:
            return self.INDEXED_FIELDS
        return tuple(n for n, old in zip(self.INDEXED_FIELDS, loaded, strict=True)
                     if old is DEFERRED or getattr(self, n) != old)

    @property
    def category(self) -> ErrorCategory | None:
        return ErrorCategory.from_code(self.error_category) if self.error_category else None

    # --- the link's state: every change of status goes through these methods ----------------
    def id_on(self, side: str) -> str | None:
        return self.id_a if Side(side) is Side.A else self.id_b

    def set_id(self, side: str, value: str | None) -> None:
        if Side(side) is Side.A:
            self.id_a = value
        else:
            self.id_b = value

    def modified_on(self, side: str) -> datetime | None:
        return self.modified_a if Side(side) is Side.A else self.modified_b

    @property
    def linked(self) -> bool:
        """Both records exist (an id on each side)."""
        return bool(self.id_a and self.id_b)

    @property
    def is_deleted(self) -> bool:
        return self.status in (LinkStatus.DELETED_A, LinkStatus.DELETED_B)

    def fail(self, category: ErrorCategory, message: str, now: datetime, retry_after: float | None = None) -> None:
        """The record's own sync failed; transient failures are retried with a backoff."""
        self.status = LinkStatus.FAILING
        self.error_category = category.code
        self.last_error = message
        self.fail_count += 1
        self.next_retry_at = now + backoff(self.fail_count, retry_after) if category.transient else None

    def succeed(self, now: datetime) -> None:
        """The record's fields synced. A problem of its associations keeps it failing (waiting)."""
        self.last_synced_at = now
        problem = self.first_problem()
        if problem is not None and self.error_category in ASSOCIATION_CATEGORIES:
            return  # still waiting: the association step reschedules it
        self.status = LinkStatus.IN_SYNC
        self.error_category = ""
        self.last_error = ""
        self.fail_count = 0
        self.next_retry_at = None
        if problem is not None:
            self._show_problem(problem, now, reschedule=True)

    def exclude(self, message: str) -> None:
        self.status = LinkStatus.EXCLUDED
        self.error_category, self.last_error, self.next_retry_at = "", message, None

    def mark_deleted(self, side: str, message: str, category: ErrorCategory = ErrorCategory.RECORD_DELETED) -> None:
        """The record on `side` is gone (or, for a merge, a duplicate now): the link stops syncing."""
        self.status = LinkStatus.deleted_on(side)
        self.error_category = category.code
        self.last_error = message
        self.fail_count = 0
        self.next_retry_at = None

    def association_problems(self) -> dict[str, AssociationProblem]:
        raw = (self.associations or {}).get(PROBLEMS_KEY)
        problems = {}
        for to_type, value in (raw.items() if isinstance(raw, dict) else ()):
            problem = AssociationProblem.from_json(value)
            if problem is not None:
                problems[to_type] = problem
        return problems

    def first_problem(self) -> AssociationProblem | None:
        return next(iter(self.association_problems().values()), None)

    def wait_for(self, to_type: str, problem: AssociationProblem | None, now: datetime) -> None:
        """Record (or clear, with None) the association problem of `to_type`, and show the first
        problem left as the link's status unless the record's own sync is failing."""
        memory = dict(self.associations or {})
        problems = {k: v.as_json() for k, v in self.association_problems().items() if k != to_type}
        if problem is not None:
            problems[to_type] = problem.as_json()
        memory[PROBLEMS_KEY] = problems
        self.associations = memory
        first = self.first_problem()
        if first is not None:
            self._show_problem(first, now, reschedule=True)
        elif self.error_category in ASSOCIATION_CATEGORIES:
            self.status, self.error_category, self.last_error, self.next_retry_at = LinkStatus.IN_SYNC, "", "", None
            self.fail_count = 0

    def _show_problem(self, problem: AssociationProblem, now: datetime, *, reschedule: bool) -> None:
        if not (self.status == LinkStatus.IN_SYNC or self.error_category in ASSOCIATION_CATEGORIES):
            return  # the record's own failure shows first
        self.status, self.error_category, self.last_error = LinkStatus.FAILING, problem.category, problem.message
        self.fail_count = problem.attempts
        if reschedule or self.next_retry_at is None:
            # The first retry at the next run, then backing off: a dependency that never syncs
            # must not cost a read every run (a run of the associated sync that links new
            # records wakes them anyway).
            tries = problem.attempts
            wait = backoff(tries - 1, problem.retry_after) if tries > 1 else timedelta(seconds=problem.retry_after)
            self.next_retry_at = now + wait

    @property
    def field_warnings(self) -> bool:
        """Some warning is about a field value (not an association): a mapping can fix it."""
        return any(isinstance(w, dict) and not w.get("association") for w in self.warnings or [])

    def set_warnings(self, warnings: list[dict]) -> None:
        """Replace the fields not carried, keeping has_warnings in step."""
        self.warnings = list(warnings)
        self.has_warnings = bool(self.warnings)


class SyncRun(models.Model):
    class Kind(models.TextChoices):
        INITIAL = "initial", "Initial sync"
        INCREMENTAL = "incremental", "Incremental sync"
        RETRY = "retry", "Retry"
        RESYNC = "resync", "Resync deleted records"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        MANUAL = "manual", "Manual"
        WIZARD = "wizard", "Save and sync"
        COMMAND = "command", "Command line"
        CHANGE = "change", "Change in an app"  # a webhook or a poll (syncrules.webhooks)

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        PARTIAL = "partial", "Finished with failures"
        FAILED = "failed", "Failed"
        INTERRUPTED = "interrupted", "Interrupted"

    object_sync = models.ForeignKey(ObjectSync, on_delete=models.CASCADE, related_name="runs")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    trigger = models.CharField(max_length=20, choices=Trigger.choices, default=Trigger.SCHEDULE)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    processed = models.PositiveIntegerField(default=0)
    estimated_total = models.PositiveIntegerField(null=True, blank=True)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    matched = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    excluded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    deleted = models.PositiveIntegerField(default=0)
    associated = models.PositiveIntegerField(default=0, help_text="Associations added or removed in either app.")
    waiting = models.PositiveIntegerField(default=0, help_text="Records left waiting for an associated record.")
    warned = models.PositiveIntegerField(default=0, help_text="Records synced with warnings (fields not carried).")
    http_calls = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    # The claim's lease token (ObjectSync.lease_token) the run ran under: a run still "running"
    # under another token lost its worker.
    lease_token = models.CharField(max_length=32, blank=True, default="", editable=False)
    # What the run is waiting for right now ("Waiting for API budget: ..."), empty when working.
    waiting_for = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["object_sync", "-started_at"], name="syncrun_sync_time_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.object_sync} at {self.started_at:%Y-%m-%d %H:%M}"

    def finish(self, error: str = "") -> None:
        self.finished_at = timezone.now()
        self.error = error
        if error:
            self.status = self.Status.FAILED
        elif self.failed:
            self.status = self.Status.PARTIAL
        else:
            self.status = self.Status.SUCCEEDED
        self.save()

    @property
    def duration(self) -> timedelta | None:
        return (self.finished_at - self.started_at) if self.finished_at else None

    @classmethod
    def close_interrupted(cls, runs: models.QuerySet) -> int:
        """Close those of `runs` still marked running, whose worker stopped (killed, out of
        memory, a deploy), as Interrupted with the counts they had saved; the number closed."""
        now, closed = timezone.now(), 0
        for run in runs.filter(status=cls.Status.RUNNING):
            error = (
                f"Interrupted: the worker stopped after {run.processed} records (created {run.created}, "
                f"updated {run.updated}, matched {run.matched}, failed {run.failed}). The next run resumed "
                "from the last saved page."
            )
            closed += cls.objects.filter(pk=run.pk, status=cls.Status.RUNNING).update(
                status=cls.Status.INTERRUPTED, finished_at=now, error=error, waiting_for=""
            )
        return closed


class RecordOutcome(models.Model):
    class Action(models.TextChoices):
        CREATED = "created", "Created"
        UPDATED = "updated", "Updated"
        MATCHED = "matched", "Matched"
        SKIPPED = "skipped", "Skipped"
        EXCLUDED = "excluded", "Excluded"
        ASSOCIATED = "associated", "Associations written"
        DELETED = "deleted", "Deleted"
        FAILED = "failed", "Failed"

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="outcomes")
    # Indexed by the composite indexes that start with them (Meta), not by indexes of their own.
    object_sync = models.ForeignKey(ObjectSync, on_delete=models.CASCADE, related_name="outcomes", db_index=False)
    link = models.ForeignKey(
        RecordLink, on_delete=models.SET_NULL, null=True, blank=True, related_name="outcomes", db_index=False
    )
    id_a = models.CharField(max_length=100, blank=True)
    id_b = models.CharField(max_length=100, blank=True)
    side = models.CharField(max_length=1, choices=Side.choices, blank=True, help_text="Where it was written.")
    action = models.CharField(max_length=20, choices=Action.choices)
    category = models.CharField(max_length=40, choices=ErrorCategory.choices(), blank=True)
    message = models.TextField(blank=True)
    hint = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Why it happened (engine.details): "changes", "matched_by", "excluded_by", "associations",
    # "next_retry_at"; JSON-safe and truncated.
    details = models.JSONField(default=dict, blank=True)
    # "Synced with warnings": the fields this run did not carry (same shape as RecordLink.warnings).
    warnings = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["object_sync", "-created_at"], name="outcome_sync_time_idx"),
            models.Index(fields=["action", "-created_at"], name="outcome_action_time_idx"),
            models.Index(fields=["object_sync", "category"], name="outcome_sync_category_idx"),
            # A record's story, and pruning that keeps each link's latest outcome per action.
            models.Index(fields=["link", "action", "-created_at"], name="outcome_link_action_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.id_a or '-'} <-> {self.id_b or '-'}"

    def save(self, *args, **kwargs):
        if self.category and not self.hint:
            self.hint = ErrorCategory.from_code(self.category).hint
        super().save(*args, **kwargs)


class SyncPreview(models.Model):
    """A dry run of an object sync's initial run (the wizard's Review step): what it would do,
    computed by the engine's own code with every write replaced by a recorder."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    object_sync = models.ForeignKey(ObjectSync, on_delete=models.CASCADE, related_name="previews")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    processed = models.PositiveIntegerField(default=0)
    estimated_total = models.PositiveIntegerField(null=True, blank=True)
    http_calls = models.PositiveIntegerField(default=0)
    result = models.JSONField(default=dict, blank=True, help_text="What the initial run would do (see engine.preview).")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Preview of {self.object_sync} ({self.get_status_display()})"
class LinkCount(models.Model):
    """How many links each object sync has per status and error category, for the health pages.

    On PostgreSQL, triggers on the record link table keep it exact (migration 0008 and
    syncrules/health/counts.sql), so the overview reads a few dozen rows instead of counting a
    million links. SQLite has no such triggers: there the pages count the links themselves.
    The sync is a plain number, not a foreign key, so that deleting a sync with its links never
    trips over the rows the triggers are still writing for it.
    """

    object_sync_pk = models.BigIntegerField()
    status = models.CharField(max_length=20)
    error_category = models.CharField(max_length=40, blank=True)
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["object_sync_pk", "status", "error_category"], name="linkcount_unique"),
        ]

    def __str__(self) -> str:
        return f"sync {self.object_sync_pk}: {self.n} {self.status} {self.error_category}".strip()


# Change-triggered runs (webhooks, polling) keep their state in models of their own module.
from syncrules.webhooks.models import PendingChange, PollLease, SyncTrigger  # noqa: E402, F401
