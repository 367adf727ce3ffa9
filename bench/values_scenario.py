"""The scenario of issue 16: a new user's default company and contact syncs, HubSpot <-> Salesforce.

    .venv/bin/python bench/values_scenario.py [--contacts 1000] [--companies 200] [--runs 3] [--before] [--port 8781]

Seeds both sandboxes as `sandbox_seed` does by default (portal 1001 with its own seed, org seed 1;
1,000 contacts and 200 companies per side), gives half the Salesforce contacts the email of a
HubSpot contact, sets up a two-way company sync and a two-way contact sync with nothing but the
default mappings, then runs company sync, contact sync, `--runs` times, over real HTTP. After
each round it prints failed companies by category, warnings by field, and contacts waiting for
their company; at the end, outcomes written per link. `--before` replays the old behaviour
(no standard option maps, every mapping failing its record) for comparison. Asserts nothing.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from datetime import timedelta

from harness import bench_database, sandbox_connections, sandbox_server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1000, help="contacts seeded on each side")
    parser.add_argument("--companies", type=int, default=200, help="companies seeded on each side")
    parser.add_argument("--overlap", type=float, default=0.5, help="share of contacts sharing an email")
    parser.add_argument("--runs", type=int, default=3, help="rounds of company sync then contact sync")
    parser.add_argument("--before", action="store_true", help="no standard option maps, every mapping fails its record")
    parser.add_argument("--port", type=int, default=8781)
    args = parser.parse_args()
    with bench_database("values-scenario-") as env:
        import django

        django.setup()
        from django.db import connection

        portal, org = seed(args)
        connection.close()
        with sandbox_server(env, args.port, "/salesforce/services/data/") as base:
            run(base, portal, org, args)


def seed(args):
    from django.utils import timezone

    from sandbox.hubspot.seed import ensure_portal, seed_records
    from sandbox.salesforce.models import Record
    from sandbox.salesforce.seed import seed_org

    portal = ensure_portal(1001, rate_limit_enabled=False)
    seed_records(portal, contacts=args.contacts, companies=args.companies)
    org = seed_org("acme", contacts=args.contacts, accounts=args.companies, seed=1)
    share_emails(portal, org, args)
    Record.objects.filter(org=org.org).update(system_modstamp=timezone.now().replace(microsecond=0) - timedelta(hours=1))
    print(f"seeded {args.contacts} contacts and {args.companies} companies on each side")
    return portal, org


def share_emails(portal, org, args) -> None:
    from sandbox.hubspot.models import CrmObject
    from sandbox.salesforce.models import Record

    wanted = int(args.overlap * args.contacts)
    hub = list(CrmObject.objects.filter(portal=portal, object_type="contacts").exclude(email="").order_by("pk")[:wanted])
    sf = list(Record.objects.filter(org=org.org, sobject="Contact").order_by("pk")[: len(hub)])
    for source, target in zip(hub, sf, strict=False):
        target.data = {**target.data, "Email": source.properties["email"]}
    Record.objects.bulk_update(sf, ["data"], batch_size=500)
    print(f"{len(sf)} Salesforce contacts share an email with a HubSpot contact")


def run(base: str, portal, org, args) -> None:
    from connectors.base import COMPANIES, CONTACTS
    from syncrules.engine import run_sync
    from syncrules.engine.mappings import create_default_mappings
    from syncrules.models import FieldMapping, ObjectSync

    hubspot, salesforce = sandbox_connections(base, portal, org, rate_limits=False)
    syncs = {}
    for kind in (COMPANIES, CONTACTS):
        syncs[kind] = ObjectSync.objects.create(connection_a=hubspot, connection_b=salesforce, object_type=kind,
                                                state=ObjectSync.State.ACTIVE)
        create_default_mappings(syncs[kind])
        if args.before:
            FieldMapping.objects.filter(object_sync=syncs[kind]).update(value_map={}, policy="fail_record")
    print("behaviour:", "before (no option maps, fail record)" if args.before else "default mappings and policies")
    for round_no in range(1, args.runs + 1):
        for kind in (COMPANIES, CONTACTS):
            started = time.perf_counter()
            result = run_sync(syncs[kind].pk)
            print(f"round {round_no} {kind}: created {result.created}, matched {result.matched}, updated "
                  f"{result.updated}, failed {result.failed}, warned {result.warned}, waiting {result.waiting} "
                  f"({time.perf_counter() - started:.1f}s)")
        report(syncs, round_no)
    per_link(syncs)


def report(syncs, round_no: int) -> None:
    from connectors.base import COMPANIES, CONTACTS
    from syncrules.models import LinkStatus, RecordLink

    companies = RecordLink.objects.filter(object_sync=syncs[COMPANIES])
    failing = Counter(companies.filter(status=LinkStatus.FAILING).values_list("error_category", flat=True))
    warnings = Counter(w["field"] for link in companies.filter(has_warnings=True) for w in link.warnings)
    contacts = RecordLink.objects.filter(object_sync=syncs[CONTACTS])
    waiting = list(contacts.filter(status=LinkStatus.FAILING, error_category="waiting_for_dependency")
                   .values_list("last_error", flat=True))
    on_duplicates = sum("its own sync failed: Duplicate record" in message for message in waiting)
    contact_failures = Counter(contacts.filter(status=LinkStatus.FAILING).values_list("error_category", flat=True))
    print(f"  after round {round_no}: failed companies by category {dict(failing) or 0}; "
          f"company warnings by field {dict(warnings) or 0}; contacts waiting for their company {len(waiting)} "
          f"(of which {on_duplicates} wait for a company that failed as a duplicate); "
          f"failing contacts by category {dict(contact_failures) or 0}")
    in_sync = {k: RecordLink.objects.filter(object_sync=s, status=LinkStatus.IN_SYNC) for k, s in syncs.items()}
    print("  in sync / with warnings / errors: " + "; ".join(
        f"{k} {q.filter(has_warnings=False).count()} / {q.filter(has_warnings=True).count()} / "
        f"{RecordLink.objects.filter(object_sync=syncs[k], status=LinkStatus.FAILING).count()}"
        for k, q in in_sync.items()))


def per_link(syncs) -> None:
    from syncrules.models import RecordLink, RecordOutcome

    for kind, sync in syncs.items():
        links = RecordLink.objects.filter(object_sync=sync).count()
        outcomes = RecordOutcome.objects.filter(object_sync=sync)
        actions = Counter(outcomes.values_list("action", flat=True))
        print(f"outcomes written per link after the runs, {kind}: {outcomes.count() / max(1, links):.2f} "
              f"({outcomes.count()} outcomes, {links} links; {dict(actions)})")


if __name__ == "__main__":
    main()
