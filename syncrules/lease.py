"""A run's lease on its object sync: renewed by a heartbeat thread while the run works.

`ObjectSync.claim` takes the sync for SYNC_LEASE_SECONDS; `RunLease` renews it every quarter of
that from its own thread and its own database connection, so the engine needs no change to
keep it (nor a renewal between its steps). A worker that dies stops renewing, and the claim is
free once the lease expires. A worker that lost its lease (paused past it, and another worker
took the sync over) is refused renewal, and the HTTP layer stops its run at the next request.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import DatabaseError, connections
from django.utils import timezone

from connectors.ratelimit import RunHooks, run_hooks
from syncrules.models import ObjectSync, SyncRun

logger = logging.getLogger(__name__)

# A wait shorter than this is not worth a write to show it on the run.
SHOW_WAITS_FROM = 1.0


class LeaseLost(Exception):
    """Another worker took this run's sync over: this run must stop at once."""


class Heartbeat:
    """Renews one claim's lease every `interval` seconds from a thread of its own."""

    def __init__(self, sync: ObjectSync, interval: float | None = None) -> None:
        # A copy holding only what renew() needs: the run's own instance is not shared with a thread.
        self.claim = ObjectSync(pk=sync.pk, lease_token=sync.lease_token)
        self.interval = interval if interval is not None else settings.SYNC_LEASE_SECONDS / 4
        self.lost = False
        self.beats = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-sync-{sync.pk}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=max(5.0, self.interval))

    def beat(self) -> bool:
        """Renew once; False when the claim is no longer ours. A database error (SQLite busy
        past its timeout) is logged and retried at the next beat: the lease has time to spare."""
        try:
            if self.claim.renew():
                self.beats += 1
                return True
            holder = ObjectSync.objects.filter(pk=self.claim.pk).values_list("lease_token", flat=True).first()
        except DatabaseError:
            logger.warning("could not renew the lease of object sync %s; trying again", self.claim.pk, exc_info=True)
            return True
        # A row this connection cannot see (deleted) is not another worker's claim.
        if holder is not None and holder != self.claim.lease_token:
            logger.error("object sync %s was taken over by another worker: this run stops", self.claim.pk)
            self.lost = True
        return not self.lost

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                if not self.beat():
                    break
        finally:
            connections.close_all()  # this thread's own connections only


class RunLease:
    """Holds a claimed sync's lease for the length of a `with` block and tells the HTTP layer
    (through `connectors.ratelimit.run_hooks`) how to show waits and when to stop."""

    def __init__(self, sync: ObjectSync, interval: float | None = None) -> None:
        self.sync = sync
        self.heartbeat = Heartbeat(sync, interval)
        self.run_pk: int | None = None
        self._shown = ""
        self._reset = None

    def __enter__(self) -> RunLease:
        self.heartbeat.start()
        self._reset = run_hooks.set(RunHooks(check=self.check, on_wait=self.on_wait))
        return self

    def __exit__(self, *exc) -> None:
        run_hooks.reset(self._reset)
        self.heartbeat.stop()
        if self._shown:
            self._show("")

    def attach(self, run: SyncRun) -> None:
        """The run whose waits are shown (and that carries the lease's token)."""
        self.run_pk = run.pk

    def check(self) -> None:
        if self.heartbeat.lost:
            raise LeaseLost(
                f"Object sync {self.sync.pk} was taken over by another worker after this run stopped renewing "
                "its lease; this run stopped so that the two never write at once."
            )

    def on_wait(self, note: str, seconds: float) -> None:
        """Show a wait on the run ("Waiting for API budget: ..."), or clear it (note "")."""
        if note and seconds < SHOW_WAITS_FROM:
            return
        if note != self._shown:
            self._show(note)

    def _show(self, note: str) -> None:
        if self.run_pk is None:
            return
        self._shown = note
        try:
            SyncRun.objects.filter(pk=self.run_pk).update(waiting_for=note[:200])
        except DatabaseError:  # only a display: never worth failing the run for
            logger.warning("could not show the wait of run %s", self.run_pk, exc_info=True)


def reap_expired_claims(now=None) -> list[int]:
    """Free the claims whose lease expired (their worker died) and close those workers' runs as
    Interrupted; the ids of the syncs freed. Conditional on the token, so a claim taken anew
    meanwhile is left alone."""
    now = now or timezone.now()
    freed = []
    expired = ObjectSync.objects.filter(ObjectSync.claim_is_free(now), running_since__isnull=False)
    for pk, token in expired.values_list("pk", "lease_token"):
        taken = ObjectSync.objects.filter(ObjectSync.claim_is_free(now), pk=pk, lease_token=token,
                                          running_since__isnull=False)
        if taken.update(running_since=None, lease_token="", lease_expires_at=None):
            SyncRun.close_interrupted(SyncRun.objects.filter(object_sync_id=pk, lease_token=token))
            freed.append(pk)
    return freed


def seconds_since_heartbeat(sync: ObjectSync) -> float | None:
    """How long ago the running worker last renewed its lease (None when nobody runs it)."""
    if not sync.running_since or not sync.lease_expires_at:
        return None
    renewed = sync.lease_expires_at - ObjectSync.lease_length()
    return max(0.0, (timezone.now() - renewed).total_seconds())


__all__ = ["Heartbeat", "LeaseLost", "RunLease", "reap_expired_claims", "seconds_since_heartbeat"]
