"""Benchmark deals with their associations: HubSpot sandbox <-> Salesforce sandbox, initial sync.

    .venv/bin/python bench/deals_sync.py [--companies 2000] [--contacts 10000] [--deals 5000]
                                         [--hubspot-share 0.5] [--rate-limits] [--seed 1] [--port 8773]
                                         [--keep-duplicate-companies]

Uses its own SQLite file (or DATABASE_URL if set): migrates it, seeds a Salesforce org (two
opportunity record types, every contact in an account, one to three contact roles per
opportunity) and a HubSpot portal (contacts with a primary company, deals with a primary company
and one to three contacts) directly in the database, `--hubspot-share` of each count on HubSpot
and the rest on Salesforce, with no record in both (companies whose name or domain repeats are
renamed unless --keep-duplicate-companies). It starts `manage.py
sandbox_serve` in a subprocess and runs three object syncs over real HTTP: companies, contacts,
then deals (round 1, the initial sync), then two more rounds of all three, which complete the
associations that waited and should otherwise write nothing. Prints seconds, HTTP calls per 100
records, associations and waiting records by round, peak memory, then checks both apps' deals
against each other through the links. Asserts nothing.
"""

from __future__ import annotations

import argparse
import resource
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from harness import bench_database, sandbox_connections, sandbox_server

SYNCED = ("companies", "contacts", "deals")
ROUNDS = 3


@dataclass
class Timed:
    """One run of one object sync and the wall time it took."""

    round: int
    object_type: str
    run: object
    seconds: float
    cpu: float


@dataclass
class Split:
    """How many records of each type start in each app."""

    hubspot: dict[str, int] = field(default_factory=dict)
    salesforce: dict[str, int] = field(default_factory=dict)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=2000, help="companies (HubSpot) plus accounts (Salesforce)")
    parser.add_argument("--contacts", type=int, default=10000, help="contacts in both apps together")
    parser.add_argument("--deals", type=int, default=5000, help="deals (HubSpot) plus opportunities (Salesforce)")
    parser.add_argument("--hubspot-share", type=float, default=0.5,
                        help="share of each count seeded in HubSpot; the rest starts in Salesforce (no overlap)")
    parser.add_argument("--rate-limits", action="store_true",
                        help="keep the HubSpot portal's default limits (190 per 10 s, search 5/s) and the client's limiters")
    parser.add_argument("--seed", type=int, default=1, help="random seed of both apps' data")
    parser.add_argument("--keep-duplicate-companies", action="store_true",
                        help="leave companies whose name or domain another company has (the HubSpot seed copies "
                             "5%% of its companies, Faker repeats names); they fail as duplicates and their "
                             "contacts and deals wait for them")
    parser.add_argument("--port", type=int, default=8773)
    args = parser.parse_args()
    if not 0 <= args.hubspot_share <= 1:
        parser.error("--hubspot-share must be between 0 and 1")

    with bench_database("deals-bench-") as env:
        import django

        django.setup()
        from django.db import connection

        started = time.perf_counter()
        split = split_counts(args)
        portal, org = seed(args, split)
        print(f"seeded HubSpot {split.hubspot} and Salesforce {split.salesforce} in "
              f"{time.perf_counter() - started:.1f}s ({env['DATABASE_URL']})")
        connection.close()
        with sandbox_server(env, args.port, "/salesforce/services/data/") as base:
            run(base, portal, org, split, args)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"child processes (migrate, then the sandbox server): CPU {children.ru_utime + children.ru_stime:.1f}s, "
          f"largest max RSS {children.ru_maxrss / 1024:.0f} MB")


def split_counts(args) -> Split:
    split = Split()
    for name in SYNCED:
        total = getattr(args, name)
        split.hubspot[name] = round(total * args.hubspot_share)
        split.salesforce[name] = total - split.hubspot[name]
    return split


def seed(args, split: Split):
    """Both apps' records, except HubSpot's deals: they go into the pipelines that mirroring
    creates, so they are placed once the sandbox serves (see `place_hubspot_deals`)."""
    from django.utils import timezone

    from sandbox.hubspot.seed import ensure_portal, seed_records
    from sandbox.salesforce.models import Record
    from sandbox.salesforce.seed import seed_org

    portal = ensure_portal(int(time.time()) % 1_000_000 + 1_000_000, rate_limit_enabled=args.rate_limits)
    # Another seed than Salesforce's: with the same one Faker would give both apps the same companies.
    seed_records(portal, companies=split.hubspot["companies"], contacts=split.hubspot["contacts"],
                 deals=split.hubspot["deals"], seed=args.seed + 7919, deal_contacts=(1, 3))
    org = seed_org(f"deals{int(time.time())}", accounts=split.salesforce["companies"],
                   contacts=split.salesforce["contacts"], opportunities=split.salesforce["deals"],
                   record_types=2, roles=(1, 3), contact_account_share=1.0, seed=args.seed, api_max=10_000_000)
    if not args.keep_duplicate_companies:
        print(f"companies renamed so that no two share a name or domain: {make_companies_distinct(portal, org)}")
    # Existing data is older than the sync: age it so the first cursor is exact.
    Record.objects.filter(org=org.org).update(system_modstamp=timezone.now().replace(microsecond=0) - timedelta(hours=1))
    return portal, org


def make_companies_distinct(portal, org) -> int:
    """Give every company a name and a domain of its own across both apps, so none matches
    another or fails as a duplicate ("no overlap"); how many were changed."""
    from sandbox.hubspot.models import CrmObject
    from sandbox.salesforce.models import Record
    from syncrules.engine.match import normalize_domain, normalize_name

    hub = list(CrmObject.objects.filter(portal=portal, object_type="companies").order_by("pk"))
    sf = list(Record.objects.filter(org=org.org, sobject="Account").order_by("pk"))
    names, domains, changed = set(), set(), 0
    rows = [(c.properties, "name", "domain", "") for c in hub] + [(r.data, "Name", "Website", "https://") for r in sf]
    for n, (values, name, domain, scheme) in enumerate(rows):
        before = dict(values)
        if normalize_name(values.get(name)) in names:
            values[name] = f"{values[name]} {n}"
        if normalize_domain(values.get(domain)) in domains:
            values[domain] = f"{scheme}c{n}-{normalize_domain(values[domain])}"
        names.add(normalize_name(values.get(name)))
        domains.add(normalize_domain(values.get(domain)))
        changed += values != before
    CrmObject.objects.bulk_update(hub, ["properties"], batch_size=500)
    Record.objects.bulk_update(sf, ["data"], batch_size=500)
    return changed


def make_syncs(hubspot, salesforce) -> dict:
    """The three object syncs with their default mappings, less the two that cannot map."""
    from syncrules.deals import mirror_pipelines
    from syncrules.engine.mappings import create_default_mappings
    from syncrules.models import FieldMapping, ObjectSync

    syncs = {}
    for object_type in SYNCED:
        syncs[object_type] = ObjectSync.objects.create(
            connection_a=hubspot, connection_b=salesforce, object_type=object_type,
            state=ObjectSync.State.ACTIVE, sync_deals=object_type == "deals")
        create_default_mappings(syncs[object_type])
    FieldMapping.objects.filter(object_sync=syncs["companies"], field_a="industry").delete()
    FieldMapping.objects.filter(object_sync=syncs["deals"], field_a="dealtype").delete()
    print("left out: companies industry <-> Industry and deals dealtype <-> Type. HubSpot's and Salesforce's "
          "options do not overlap, and without value maps every record carrying them would fail.")
    setup = mirror_pipelines(syncs["deals"])
    print(f"mirrored pipelines: created {setup.created}, mapped {setup.mapped}, problems {setup.problems or 'none'}")
    for object_type, sync in syncs.items():
        print(f"{object_type} mappings:", ", ".join(str(m) for m in sync.field_mappings.all()))
    return syncs


def place_hubspot_deals(portal, deal_sync, seed: int) -> None:
    """Move HubSpot's seeded deals into the mirrored pipelines, a mapped stage each, so they sync."""
    from sandbox.hubspot.seed import move_deals
    from syncrules.models import PipelineMapping

    stages = [(p.pipeline_a, [s.stage_a for s in p.stage_mappings.all()])
              for p in PipelineMapping.objects.filter(object_sync=deal_sync).prefetch_related("stage_mappings")]
    if not stages:
        raise SystemExit("no mapped pipeline to put HubSpot's deals in: mirror_pipelines mapped nothing")
    moved = move_deals(portal, stages, seed=seed)
    print(f"HubSpot deals moved into {len(stages)} mirrored pipelines: {moved}")


def primary_companies(portal, from_type: str) -> dict[int, int]:
    """{HubSpot record id: its primary company id} straight from the sandbox's tables."""
    from sandbox.hubspot.models import Association
    from sandbox.hubspot.schema import ASSOCIATION_TYPES

    primary = ASSOCIATION_TYPES[(from_type, "companies")][1]
    return dict(Association.objects.filter(portal=portal, from_type=from_type, to_type="companies",
                                           type_id=primary).values_list("from_id", "to_id"))


def run(base: str, portal, org, split: Split, args) -> None:
    print("rate limits:", "HubSpot defaults (190 per 10 s, search 5/s) on both ends" if args.rate_limits else "off")
    from syncrules.engine import run_sync

    hubspot, salesforce = sandbox_connections(base, portal, org, rate_limits=args.rate_limits)
    syncs = make_syncs(hubspot, salesforce)
    place_hubspot_deals(portal, syncs["deals"], args.seed)
    rss_before = peak_rss_mb()
    timings = []
    for number in range(1, ROUNDS + 1):
        for object_type, sync in syncs.items():
            started, cpu = time.perf_counter(), time.process_time()
            result = run_sync(sync.pk)
            timings.append(Timed(number, object_type, result, time.perf_counter() - started,
                                 time.process_time() - cpu))
            print_run(timings[-1])
        if number == 1:
            print(f"peak memory after round 1 (max RSS of this process): {peak_rss_mb():.0f} MB "
                  f"(was {rss_before:.0f} MB before it)")
    summary(timings)
    print(f"peak memory (max RSS of this process): {peak_rss_mb():.0f} MB")
    verify(portal, org, syncs, split)
    failures(syncs)


def print_run(t: Timed) -> None:
    r = t.run
    per_100 = 100 * r.http_calls / r.processed if r.processed else 0
    print(f"round {t.round} {t.object_type:9s} {r.status:9s} {t.seconds:7.1f}s (engine CPU {t.cpu:6.1f}s)  processed {r.processed:6d}  "
          f"created {r.created:5d} updated {r.updated:5d} matched {r.matched:4d} skipped {r.skipped:4d} "
          f"excluded {r.excluded:4d} failed {r.failed:4d} deleted {r.deleted:3d}  associated {r.associated:6d} "
          f"waiting {r.waiting:5d}  HTTP calls {r.http_calls:5d} ({per_100:.1f} per 100 records)")
    if r.error:
        print("  note:", r.error.replace("\n", "\n        "))


def summary(timings: list[Timed]) -> None:
    """Round 1 against rounds 2 and 3, per sync and in total."""
    print("\n                          seconds  CPU s processed created matched updated failed  HTTP  per100 "
          "associated waiting")
    for label, rounds in (("round 1", {1}), ("rounds 2-3", set(range(2, ROUNDS + 1)))):
        for object_type in (*SYNCED, "total"):
            chosen = [t for t in timings if t.round in rounds and object_type in (t.object_type, "total")]
            runs = [t.run for t in chosen]
            total = {name: sum(getattr(r, name) for r in runs) for name in (
                "processed", "created", "matched", "updated", "failed", "http_calls", "associated", "waiting")}
            per_100 = 100 * total["http_calls"] / total["processed"] if total["processed"] else 0
            print(f"{label:10s} {object_type:9s} {sum(t.seconds for t in chosen):7.1f} "
                  f"{sum(t.cpu for t in chosen):6.1f} {total['processed']:9d} "
                  f"{total['created']:7d} {total['matched']:7d} {total['updated']:7d} {total['failed']:6d} "
                  f"{total['http_calls']:5d} {per_100:7.1f} {total['associated']:10d} {total['waiting']:7d}")
    print("(waiting: records left waiting for an associated record at the end of each run, summed over the runs)")


def verify(portal, org, syncs: dict, split: Split) -> None:
    """Both apps' deals, one to one through the links, with the same company and contacts."""
    from sandbox.hubspot.models import CrmObject
    from sandbox.salesforce.models import Record
    from syncrules.models import LinkStatus, RecordLink

    print("\nchecks (read from the sandboxes' tables and the links, every record):")
    hub_deals = set(CrmObject.objects.filter(portal=portal, object_type="deals", archived=False)
                    .values_list("pk", flat=True))
    opps = dict(Record.objects.filter(org=org.org, sobject="Opportunity", is_deleted=False)
                .values_list("sf_id", "data__AccountId"))
    seeded = split.hubspot["deals"] + split.salesforce["deals"]
    print(f"deals: HubSpot {len(hub_deals)}, Salesforce {len(opps)} (seeded {seeded} in all)")
    for object_type in ("companies", "contacts"):
        print(f"{object_type} links: " + ", ".join(
            f"{status} {count}" for status, count in Counter(
                RecordLink.objects.filter(object_sync=syncs[object_type]).values_list("status", flat=True)).items()))
    links = list(RecordLink.objects.filter(object_sync=syncs["deals"]).values_list("id_a", "id_b", "status"))
    print("deal links: " + ", ".join(f"{s} {n}" for s, n in Counter(s for _, _, s in links).items()))
    paired = [(int(a), b) for a, b, s in links if a and b and s == LinkStatus.IN_SYNC]
    twice_a = sum(n > 1 for n in Counter(a for a, _ in paired).values())
    twice_b = sum(n > 1 for n in Counter(b for _, b in paired).values())
    print(f"deals in sync on both sides: {len(paired)}; linked more than once: HubSpot {twice_a}, "
          f"Salesforce {twice_b}; without an in-sync link: HubSpot {len(hub_deals - {a for a, _ in paired})}, "
          f"Salesforce {len(set(opps) - {b for _, b in paired})}")
    both = [(int(a), b) for a, b, s in links if a and b and s in (LinkStatus.IN_SYNC, LinkStatus.FAILING)]
    compare_associations(portal, org, syncs, both, opps)


def linked(sync) -> dict[str, str]:
    """{HubSpot id: Salesforce id} of a sync's links that have both records."""
    from syncrules.models import RecordLink

    return dict(RecordLink.objects.filter(object_sync=sync).exclude(id_a=None).exclude(id_b=None)
                .values_list("id_a", "id_b"))


def compare_associations(portal, org, syncs: dict, pairs: list[tuple[int, str]], opps: dict) -> None:
    """Each linked deal's primary company and contacts against its opportunity's account and
    contact roles, translated through the company and contact links."""
    from sandbox.hubspot.models import Association
    from sandbox.salesforce.models import Record

    companies, contacts = linked(syncs["companies"]), linked(syncs["contacts"])
    accounts_linked, sf_contacts_linked = set(companies.values()), set(contacts.values())
    roles = defaultdict(set)
    for opp_id, contact_id in Record.objects.filter(org=org.org, sobject="OpportunityContactRole",
                                                    is_deleted=False).values_list("data__OpportunityId",
                                                                                  "data__ContactId"):
        roles[opp_id].add(contact_id)
    deal_company = primary_companies(portal, "deals")
    deal_contacts = defaultdict(set)
    for deal, person in Association.objects.filter(portal=portal, from_type="deals", to_type="contacts").values_list(
            "from_id", "to_id"):
        deal_contacts[deal].add(str(person))
    company_seen, contact_seen = Counter(), Counter()
    for deal, opp in pairs:
        hub = str(deal_company[deal]) if deal in deal_company else None
        account = opps.get(opp)
        if hub is None and account is None:
            company_seen["neither has one"] += 1
        elif hub in companies and companies[hub] == account:
            company_seen["same"] += 1
        elif hub and hub not in companies:
            company_seen["different: the HubSpot company is not linked"] += 1
        elif account and account not in accounts_linked:
            company_seen["different: the account is not linked"] += 1
        else:
            company_seen["different"] += 1
        on_hub = {contacts[c] for c in deal_contacts[deal] if c in contacts}
        if on_hub == roles[opp] and on_hub:
            contact_seen["same"] += 1
        else:
            contact_seen["different" if on_hub or roles[opp] else "none on either side"] += 1
        contact_seen["with HubSpot contacts not linked (left alone)"] += any(c not in contacts for c in deal_contacts[deal])
        contact_seen["with contact roles not linked"] += any(c not in sf_contacts_linked for c in roles[opp])
    print(f"linked deals (in sync or failing) checked: {len(pairs)}")
    print("  primary company vs the opportunity's account, through the company links: " + describe(company_seen))
    print("  contacts (linked ones) vs the opportunity's contact roles, through the contact links: "
          + describe(contact_seen))


def describe(counts: Counter) -> str:
    return ", ".join(f"{label} {n}" for label, n in counts.most_common()) or "none"


def failures(syncs: dict) -> None:
    """Failed outcomes of every run by sync and category, with the commonest messages."""
    from syncrules.models import RecordOutcome

    rows = RecordOutcome.objects.filter(object_sync__in=syncs.values(), action=RecordOutcome.Action.FAILED)
    counted = Counter(rows.values_list("object_sync__object_type", "category"))
    print(f"\nfailed outcomes (all rounds): {sum(counted.values())}")
    for (object_type, category), count in counted.most_common():
        print(f"  {object_type:9s} {category or '(none)':28s} {count:6d}")
        messages = Counter(rows.filter(object_sync__object_type=object_type, category=category)
                           .values_list("message", flat=True))
        for message, n in messages.most_common(3):
            print(f"      {n:6d} x {message[:160]}")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
