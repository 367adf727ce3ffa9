"""Associations across object syncs (F4): contact -> company, deal -> company, deal -> contacts.

An association is synced through the links of the associated object sync between the same two
connections (F4.2: no such sync, no association sync). Each link remembers the associations it
last synced as keys of the associated links ("id_a|id_b" of that sync), and a run merges the
two apps' current associations against that memory like field values:

- deal -> contacts is a set: what one side added is added on the other, what one side removed
  (and the sync had synced) is removed on the other, associations to records the sync does not
  know are never touched;
- contact/deal -> company is one value, the primary company only (F4.3): a change on one side
  replaces the company on the other, a change on both is settled by the conflict rules.

An associated record that has not synced yet, or whose own sync fails for a passing reason,
makes the link wait ("waiting for a dependency"): it is retried (backing off), a run of the
associated sync wakes the waiting ones, and a wait writes one outcome when it starts and one when
it ends. An associated record that will not sync until someone acts (its own sync failed
permanently, e.g. a duplicate; it is excluded; it was deleted) does not hold the record back:
the record syncs its own fields and carries the reason as a warning on that association
("company Acme could not sync: Duplicate record - fix it there"); each run re-checks those
associated links (no API call while nothing changed) and completes the association once they sync.

Association changes alone do not always touch a record's modified time, so reading changed
records misses them. Where the app has a change feed (`Connector.association_changes`) the run
reads it after both sides. Elsewhere (HubSpot) a run sweeps every `association_sweep_seconds`
(default 300), and a sweep costs the same at any size: records that changed are compared as
their pages are read (after_page, every run; a HubSpot associationChange webhook queues both
records for the run to read by id), so the sweep only looks for association-only changes that
reached no run, in a slice of ASSOCIATION_SWEEP_SLICE links (default 2,000: two batched reads
per side on HubSpot) that continues where the last sweep stopped (`sweep_after_pk` in the
sweep's state) and wraps around, so every link is compared within ceil(links / slice) sweeps.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings

from connectors.base import COMPANIES, CONTACTS, DEALS, Record, WriteResult
from connectors.errors import ConnectorError, ErrorCategory
from syncrules.engine import details, store
from syncrules.engine.context import StepResult
from syncrules.engine.extensions import Extension
from syncrules.engine.merge import A, B, other, pick_winner
from syncrules.engine.store import LinkChange, Outcome
from syncrules.engine.values import with_warnings
from syncrules.models import AssociationProblem, LinkStatus, ObjectSync, RecordLink, RecordOutcome, Side

if TYPE_CHECKING:
    from syncrules.engine.context import RunContext as Engine  # the run as this step sees it

ASSOCIATED = {CONTACTS: (COMPANIES,), DEALS: (COMPANIES, CONTACTS)}
SINGLE = {COMPANIES}  # only the primary company syncs
SWEEP_BATCH = 1000
ACTIVE = (LinkStatus.IN_SYNC, LinkStatus.FAILING)
WAIT, SKIP = "wait", "skip"
SINGULAR = {COMPANIES: "company", CONTACTS: "contact", DEALS: "deal"}


@dataclass
class Target:
    """The associated object type of a sync, the object sync that links its records, and how
    that sync's sides line up with ours (its connections may be the other way round)."""

    to_type: str
    sync: ObjectSync
    sides: dict[str, str]
    why: dict[str, str] = field(default_factory=dict)  # waiting ids whose own sync failed -> why
    # SKIP ids that will not sync until someone acts -> (name, category code, the reason to show)
    blocked: dict[str, tuple[str, str, str]] = field(default_factory=dict)

    def key(self, link: RecordLink) -> str:
        return f"{link.id_a}|{link.id_b}"

    def id_on(self, key: str, side: str) -> str:
        id_a, id_b = key.split("|", 1)
        return id_a if self.sides[side] == A else id_b

    def resolve(self, side: str, ids: Sequence[str]) -> dict[str, str]:
        """Our side's ids -> the associated link's key, WAIT (not synced yet) or SKIP (never)."""
        theirs = self.sides[side]
        links = {link.id_on(theirs): link for link in RecordLink.objects.filter(
            object_sync=self.sync, **{f"id_{theirs}__in": list(set(ids))}
        )}
        out = {}
        for rid in ids:
            link = links.get(rid)
            category = link.category if link is not None else None
            if link is not None and link.status == LinkStatus.FAILING and not link.linked and category is not None \
                    and not category.transient:
                out[rid] = SKIP  # its own sync failed until someone fixes it: no waiting
                self.block(rid, link, theirs, category.code, f"could not sync: {category.label} - fix it there")
            elif link is None or (link.status == LinkStatus.FAILING and not link.linked):
                out[rid] = WAIT
                if category is not None:
                    self.why[rid] = f"its own sync failed: {category.label}"
            elif link.status in ACTIVE and link.linked:
                out[rid] = self.key(link)
            else:
                out[rid] = SKIP
                if link.status == LinkStatus.EXCLUDED:
                    self.block(rid, link, theirs, "", f"is excluded from its sync: {link.last_error}".rstrip(": "))
                elif link.is_deleted:
                    gone = A if link.status == LinkStatus.DELETED_A else B
                    self.block(rid, link, theirs, link.error_category, f"was deleted on side {gone.letter}")
        return out

    def block(self, rid: str, link: RecordLink, side: str, category: str, why: str) -> None:
        name = (link.name_a if side == A else link.name_b) or rid
        self.blocked[rid] = (name, category, f"{SINGULAR.get(self.to_type, self.to_type)} {name} {why}")


def find_targets(sync: ObjectSync) -> list[Target]:
    """The associated syncs between the same two connections that are not turned off (F4.1, F4.2)."""
    targets = []
    pair = {sync.connection_a_id, sync.connection_b_id}
    for to_type in ASSOCIATED.get(sync.object_type, ()):
        for candidate in ObjectSync.objects.filter(object_type=to_type).exclude(state=ObjectSync.State.OFF).order_by("pk"):
            if {candidate.connection_a_id, candidate.connection_b_id} == pair:
                same = candidate.connection_a_id == sync.connection_a_id
                targets.append(Target(to_type, candidate, {A: A if same else B, B: B if same else A}))
                break
    return targets


@dataclass
class Work:
    """One link's association merge for one target, and the writes it needs."""

    link: RecordLink
    mine: list[str]  # keys on the side read
    theirs: list[str] | None = None
    waiting: list[tuple[str, str]] = field(default_factory=list)  # (side, id) of associated records not synced yet
    blocked: list[tuple[str, str]] = field(default_factory=list)  # (side, id) of ones that will not sync
    final: list[str] = field(default_factory=list)
    writes: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (side, add|remove) -> keys
    failed: list[tuple[str, ConnectorError]] = field(default_factory=list)
    done: Counter = field(default_factory=Counter)  # (side, add|remove) -> associations written
    done_ids: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))  # their ids there


class Associations(Extension):
    def __init__(self) -> None:
        self.found: list[Target] | None = None
        self.waiting: set[int] = set()  # links of this run left waiting for an associated record

    def targets_of(self, engine: Engine) -> list[Target]:
        if self.found is None:
            self.found = find_targets(engine.sync)
        return self.found

    # --- hooks ---------------------------------------------------------------------------
    def before_sides(self, engine: Engine) -> StepResult | None:
        """A first run of each (side, associated type) notes whether the app has a change feed."""
        self.found = find_targets(engine.sync)
        initial = engine.sync.initial_sync_done_at is None
        cursors, new = engine.sync.extra_cursors or {}, {}
        for side in (A, B):
            for target in self.found:
                key = f"assoc_{side}_{target.to_type}"
                if key in cursors:
                    continue
                feed = self.feed(engine, side, target, None)
                # An initial run reads every record with its associations: no sweep needed yet.
                new[key] = {
                    "cursor": feed[1] if feed else None, "feed": feed is not None,
                    "swept_at": engine.now().isoformat() if initial else None,
                }
        return StepResult(cursors=new) if new else None

    def after_page(self, engine: Engine, side: str, records: Sequence[Record]) -> StepResult | None:
        if not records or not self.targets_of(engine):
            return None
        links = store.load_links(engine.sync, side, [r.id for r in records])
        items = []
        for record in records:
            link = links.get(record.id)
            if link is not None and self.syncs(link):
                items.append((link, record.associations))
        return self.reconcile(engine, side, items)

    def after_sides(self, engine: Engine) -> Iterator[StepResult]:
        """Association changes the record reads missed: the feed's, else a sweep's when due."""
        cursors = engine.sync.extra_cursors or {}
        for side in (A, B):
            for target in self.targets_of(engine):
                key = f"assoc_{side}_{target.to_type}"
                state = dict(cursors.get(key) or {})
                if state.get("feed"):
                    answer = self.feed(engine, side, target, state.get("cursor"))
                    if answer is not None:
                        ids, state["cursor"] = answer
                        for start in range(0, len(ids), SWEEP_BATCH):
                            yield self.reconcile_ids(engine, side, ids[start:start + SWEEP_BATCH], only=target)
                elif self.sweep_due(engine, state):
                    yield from self.sweep(engine, side, target, state)
                    state["swept_at"] = engine.now().isoformat()
                if state != cursors.get(key):
                    yield StepResult(cursors={key: state})

    # --- reading -------------------------------------------------------------------------
    @staticmethod
    def syncs(link: RecordLink) -> bool:
        """Links whose associations sync: both records exist and the deal's stage is mapped."""
        if not (link.id_a and link.id_b) or link.status not in ACTIVE:
            return False
        return link.error_category != ErrorCategory.UNMAPPED_STAGE.code

    @staticmethod
    def feed(engine: Engine, side: str, target: Target, cursor: Any) -> tuple[list[str], Any] | None:
        try:
            return engine.connectors[side].association_changes(engine.kind, target.to_type, cursor)
        except NotImplementedError:
            return None
        except ConnectorError as exc:
            engine.problems.append(f"Association changes on {Side(side).letter} could not be read: {exc}")
            return None

    @staticmethod
    def sweep_due(engine: Engine, state: dict) -> bool:
        if not state.get("swept_at"):
            return True
        every = engine.sync.options.get("association_sweep_seconds", settings.ASSOCIATION_SWEEP_SECONDS)
        return engine.now() - datetime.fromisoformat(state["swept_at"]) >= timedelta(seconds=float(every))

    def sweep(self, engine: Engine, side: str, target: Target, state: dict) -> Iterator[StepResult]:
        """Compare the associations of the next slice of linked records of `side` with what was synced.

        The slice is the next ASSOCIATION_SWEEP_SLICE links by primary key after the last
        sweep's (`state["sweep_after_pk"]`, moved here), going on from the first link once past
        the last one but never reaching where it began: no link twice in one sweep, and each
        link within ceil(links / slice) sweeps.
        """
        rows = RecordLink.objects.filter(object_sync=engine.sync, status__in=ACTIVE).exclude(
            id_a__isnull=True).exclude(id_b__isnull=True).order_by("pk")
        start = after = int(state.get("sweep_after_pk") or 0)
        left, wrapped = max(1, int(settings.ASSOCIATION_SWEEP_SLICE)), False
        while left > 0:
            asked = min(SWEEP_BATCH, left)
            batch = list(rows.filter(pk__gt=after, **({"pk__lte": start} if wrapped else {}))[:asked])
            if batch:
                after, left = batch[-1].pk, left - len(batch)
                yield self.reconcile(engine, side, [(link, None) for link in batch if self.syncs(link)], only=target)
            if len(batch) < asked:  # past the last link: on from the first, unless begun there
                if wrapped or start == 0:
                    break
                wrapped, after = True, 0
        state["sweep_after_pk"] = after

    def reconcile_ids(self, engine: Engine, side: str, ids: Sequence[str], only: Target | None = None) -> StepResult:
        links = store.load_links(engine.sync, side, ids)
        return self.reconcile(engine, side, [(link, None) for link in links.values() if self.syncs(link)], only=only)

    def read(self, engine: Engine, side: str, to_type: str, ids: Sequence[str]) -> dict[str, list[str]] | None:
        if not ids:
            return {}
        try:
            return engine.connectors[side].read_associations(engine.kind, list(ids), to_type)
        except ConnectorError as exc:
            engine.problems.append(f"{engine.kind} -> {to_type} associations on {Side(side).letter} could not be read: {exc}")
            return None

    # --- the merge -----------------------------------------------------------------------
    def reconcile(
        self, engine: Engine, side: str, items: Sequence[tuple[RecordLink, dict | None]], only: Target | None = None
    ) -> StepResult:
        """Merge the associations of `items` (links, with the associations read on `side` when
        known), write what the apps lack, and return the links' new memory and outcomes."""
        changes: dict[int, LinkChange] = {}
        for target in ([only] if only else self.targets_of(engine)) if items else ():
            works = self.plan(engine, side, target, items)
            if works:
                self.write(engine, target, works)
                for work in works:
                    self.settle(engine, side, target, work, changes)
        return StepResult(changes=list(changes.values()))

    def plan(self, engine: Engine, side: str, target: Target, items) -> list[Work]:
        to, there = target.to_type, other(side)
        unknown = [link.id_on(side) for link, known in items if known is None or to not in known]
        read = self.read(engine, side, to, unknown)
        if read is None:
            return []
        ids_of = {}
        for link, known in items:
            rid = link.id_on(side)
            ids = read.get(rid, []) if known is None or to not in known else known[to]
            ids_of[link.pk] = ids[:1] if to in SINGLE else list(ids)
        resolved = target.resolve(side, [i for ids in ids_of.values() for i in ids])
        works = []
        for link, _ in items:
            ids = ids_of[link.pk]
            keys = [resolved[i] for i in ids if resolved[i] not in (WAIT, SKIP)]
            work = Work(link, keys, waiting=[(side, i) for i in ids if resolved[i] == WAIT],
                        blocked=[(side, i) for i in ids if resolved[i] == SKIP and i in target.blocked])
            synced = list((link.associations or {}).get(to, []))
            if (sorted(keys) != sorted(synced) or work.waiting or work.blocked or to in link.association_problems()
                    or warnings_of(link, to)):
                works.append(work)
        if not works:
            return []
        fresh = engine.created[there]
        asked = [w.link.id_on(there) for w in works if w.link.id_on(there) not in fresh]
        theirs = self.read(engine, there, to, asked)
        if theirs is None:
            return []
        their_ids = {}
        for work in works:
            ids = theirs.get(work.link.id_on(there), [])
            their_ids[work.link.pk] = ids[:1] if to in SINGLE else list(ids)
        resolved = target.resolve(there, [i for ids in their_ids.values() for i in ids])
        for work in works:
            ids = their_ids[work.link.pk]
            work.theirs = [resolved[i] for i in ids if resolved[i] not in (WAIT, SKIP)]
            if to in SINGLE and ids and resolved[ids[0]] == WAIT:
                work.waiting.append((there, ids[0]))
            work.blocked += [(there, i) for i in ids if resolved[i] == SKIP and i in target.blocked]
            self.merge(engine, side, target, work)
        return works

    def merge(self, engine: Engine, side: str, target: Target, work: Work) -> None:
        there = other(side)
        synced = list((work.link.associations or {}).get(target.to_type, []))
        values = {side: work.mine, there: work.theirs or []}
        if target.to_type in SINGLE:
            last = synced[0] if synced else None
            now = {s: (v[0] if v else None) for s, v in values.items()}
            if work.waiting:  # a primary company has not synced yet: nothing changes meanwhile
                work.final = [last] if last else []
                return
            if now[A] == now[B]:
                final = now[A]
            elif now[side] != last and now[there] == last:
                final = now[side]
            elif now[there] != last and now[side] == last:
                final = now[there]
            else:
                winner = pick_winner(work.link.modified_a, work.link.modified_b, engine.sync.conflict_winner)
                final = now[winner] if now[winner] is not None else now[other(winner)]
            work.final = [final] if final else []
        else:
            mine, theirs, last = set(values[A]), set(values[B]), set(synced)
            work.final = sorted((mine & theirs) | (mine - last) | (theirs - last))
        final = set(work.final)
        for s in (A, B):
            if not engine.sync.flows_to(s):
                continue
            current = set(values[s])
            work.writes[(s, "remove")] = sorted(k for k in current - final if k in synced or target.to_type in SINGLE)
            work.writes[(s, "add")] = sorted(final - current)

    def write(self, engine: Engine, target: Target, works: Sequence[Work]) -> None:
        """Removes before adds (a lookup such as Salesforce's AccountId holds one value)."""
        connectors = engine.connectors
        for op in ("remove", "add"):
            for s in (A, B):
                pairs: dict[tuple[str, str], list[Work]] = defaultdict(list)
                for work in works:
                    for key in work.writes.get((s, op), []):
                        pairs[(work.link.id_on(s), target.id_on(key, s))].append(work)
                if not pairs:
                    continue
                call = connectors[s].write_associations if op == "add" else connectors[s].remove_associations
                for result in self.call(call, engine.kind, target.to_type, list(pairs)):
                    for work in pairs.get(tuple(result.ref), []):
                        if result.ok:
                            work.done[(s, op)] += 1
                            work.done_ids[(s, op)].append(result.ref[1])
                        else:
                            work.failed.append((op, result.error))
                            key = next(k for k in work.writes[(s, op)] if target.id_on(k, s) == result.ref[1])
                            if op == "add" and key in work.final:
                                work.final.remove(key)  # not there yet: tried again next time
                            elif op == "remove" and key not in work.final:
                                work.final.append(key)

    @staticmethod
    def call(method, kind: str, to_type: str, pairs: list[tuple[str, str]]) -> list[WriteResult]:
        try:
            return method(kind, to_type, pairs)
        except NotImplementedError:
            error = ConnectorError(ErrorCategory.ASSOCIATION_FAILED, f"The app cannot associate {kind} with {to_type}.")
        except ConnectorError as exc:
            error = exc
        return [WriteResult(pair, error=error) for pair in pairs]

    def settle(self, engine: Engine, side: str, target: Target, work: Work, changes: dict[int, LinkChange]) -> None:
        """The link's new association memory and the outcomes that explain it.

        What the step finds for this type (a failed write, a wait) is recorded as the link's
        AssociationProblem of that type; RecordLink.wait_for decides the link's status from it
        (the record's own failure shows first), so settling one type never clears another's.
        A wait writes an outcome when it starts and when it ends, not at every run.
        """
        link, to = work.link, target.to_type
        change = changes.setdefault(link.pk, LinkChange(link))
        memory = dict(link.associations or {})
        memory[to] = sorted(work.final)
        link.associations = memory
        engine.run.associated += sum(work.done.values())
        written = []
        for s in (A, B):
            added, removed = work.done.get((s, "add"), 0), work.done.get((s, "remove"), 0)
            if added or removed:
                outcome = Outcome(
                    RecordOutcome.Action.ASSOCIATED, s, None,
                    f"{to.capitalize()}: {added} associated, {removed} removed.",
                    details.associations(to, work.done_ids[(s, "add")], work.done_ids[(s, "remove")]),
                )
                change.outcomes.append(outcome)
                written.append(outcome)
        previous = link.association_problems().get(to)
        # Attempts count runs, not passes: a run may settle a link more than once (both sides' pages).
        same_run = previous is not None and previous.run == engine.run.pk
        attempts = (previous.attempts if previous else 0) + (0 if same_run else 1)
        problem = None
        if work.failed:
            op, error = work.failed[0]
            category = error.category if error.category.transient else ErrorCategory.ASSOCIATION_FAILED
            message = f"Could not {op} a {to} association: {error.message}"
            problem = AssociationProblem(category.code, message, error.retry_after or 0, attempts, engine.run.pk)
            change.outcomes.append(Outcome(RecordOutcome.Action.FAILED, "", category, message))
        elif work.waiting:
            names = ", ".join(
                f"{rid} on {Side(s).letter}" + (f" ({target.why[rid]})" if rid in target.why else "")
                for s, rid in work.waiting[:5]
            ) + ("..." if len(work.waiting) > 5 else "")
            message = f"Waiting for {to} {names} to sync before associating them."
            problem = AssociationProblem(ErrorCategory.WAITING_FOR_DEPENDENCY.code, message, 0, attempts, engine.run.pk)
            if previous is None or not previous.waiting:  # the wait starts
                change.outcomes.append(Outcome(RecordOutcome.Action.FAILED, "", ErrorCategory.WAITING_FOR_DEPENDENCY,
                                               message))
        if previous is not None and previous.waiting and problem is None:  # the wait ends
            ended = f"No longer waiting for {to} to sync."
            if written:
                written[0].message = f"{written[0].message} {ended}"
            else:
                change.outcomes.append(Outcome(RecordOutcome.Action.ASSOCIATED, "", None, ended,
                                               details.associations(to, [], [])))
        self.carry_blocked(target, work, change)
        link.wait_for(to, problem, engine.now())
        (self.waiting.add if any(p.waiting for p in link.association_problems().values())
         else self.waiting.discard)(link.pk)
        engine.run.waiting = len(self.waiting)

    @staticmethod
    def carry_blocked(target: Target, work: Work, change: LinkChange) -> None:
        """Associated records that will not sync until someone acts: the reason goes on the
        link's warnings (kept while it lasts) and, when it is new, on an outcome."""
        link, to = work.link, target.to_type
        new = []
        for s, rid in work.blocked:
            name, category, reason = target.blocked[rid]
            new.append({"association": to, "field": SINGULAR.get(to, to), "value": name, "reason": reason,
                        "category": category, "side": other(s), "on": s, "id": rid})
        old = warnings_of(link, to)
        if new == old:
            return
        link.set_warnings([w for w in link.warnings or [] if w not in old] + new)
        fresh = [w for w in new if w not in old]
        if fresh:
            outcome = next((o for o in change.outcomes if o.action == RecordOutcome.Action.ASSOCIATED), None)
            if outcome is None:
                outcome = Outcome(RecordOutcome.Action.ASSOCIATED, "", None, "", details.associations(to, [], []))
                change.outcomes.append(outcome)
            outcome.warnings = [*outcome.warnings, *fresh]
            reasons = "; ".join(w["reason"] for w in fresh)
            outcome.message = f"{outcome.message} Not associated: {reasons}.".strip()

    def after_retries(self, engine: Engine) -> Iterator[StepResult]:
        """Re-check links carrying a blocked association: once the associated record's link
        changes (fixed, included again, resynced), the association completes. One query per
        1,000 links (per status: see values.with_warnings); the apps are read only for links
        whose associated record changed."""
        for target in self.targets_of(engine):
            seen: set[int] = set()  # a link this pass made failing is not checked again as such
            for status in ACTIVE:
                last = 0
                while batch := list(with_warnings(engine.sync, status).filter(pk__gt=last)[:SWEEP_BATCH]):
                    last = batch[-1].pk
                    fresh = [link for link in batch if link.pk not in seen]
                    seen.update(link.pk for link in fresh)
                    yield self.recheck(engine, target, fresh)

    def recheck(self, engine: Engine, target: Target, batch: Sequence[RecordLink]) -> StepResult:
        """Reconcile those of `batch` whose blocked associated records changed since."""
        carrying = [(link, warnings_of(link, target.to_type)) for link in batch if self.syncs(link)]
        carrying = [(link, items) for link, items in carrying if items]
        resolved = {}
        for s in (A, B):
            ids = [item["id"] for _, items in carrying for item in items if item["on"] == s]
            resolved[s] = target.resolve(s, ids) if ids else {}
        changed = [link for link, items in carrying if any(
            resolved[item["on"]].get(item["id"]) != SKIP
            or target.blocked.get(item["id"], ("", "", ""))[2] != item.get("reason") for item in items)]
        return self.reconcile(engine, A, [(link, None) for link in changed], only=target)


def warnings_of(link: RecordLink, to_type: str) -> list[dict]:
    """The link's warnings about its associations of `to_type` (Associations.carry_blocked)."""
    return [w for w in link.warnings or [] if isinstance(w, dict) and w.get("association") == to_type
            and isinstance(w.get("on"), str) and isinstance(w.get("id"), str)]
