"""Seed HubSpot sandbox portals: `manage.py sandbox_seed hubspot --portal P --contacts N ...`.

Records are realistic (Faker names, emails, domains), include some duplicates (same person or
company twice under another email) and some contacts without email, and share modification
timestamps in bulk, as records imported together do.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from faker import Faker

from sandbox.hubspot import rollups
from sandbox.hubspot.models import Association, CrmObject, OAuthApp, Pipeline, Portal
from sandbox.hubspot.schema import (
    ASSOCIATION_TYPES,
    DEFAULT_PIPELINE_STAGES,
    INDUSTRIES,
    OWNERS,
    inverse_type,
)

ALL_SCOPES = [
    "oauth",
    *[f"crm.objects.{t}.{a}" for t in ("contacts", "companies", "deals", "products") for a in ("read", "write")],
    *[f"crm.schemas.{t}.{a}" for t in ("contacts", "companies", "deals") for a in ("read", "write")],
]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def add_arguments(parser) -> None:
    parser.add_argument("--portal", type=int, default=1001, help="Portal (hub) id; created if missing.")
    parser.add_argument("--contacts", type=int, default=0)
    parser.add_argument("--companies", type=int, default=0)
    parser.add_argument("--deals", type=int, default=0)
    parser.add_argument("--products", type=int, default=0)
    parser.add_argument("--token", default="", help="Private-app token to set (default: keep or generate).")
    parser.add_argument("--no-rate-limit", action="store_true", help="Turn the portal's rate limits off.")
    parser.add_argument("--ten-second-limit", type=int, default=None, help="Requests per 10 s (default 190).")
    parser.add_argument("--search-per-second", type=int, default=None, help="Searches per second (default 5).")
    parser.add_argument("--webhook-url", default="", help="POST signed webhook events for every change here.")
    parser.add_argument("--oauth-client-id", default="", help="Also create an OAuth app with this client id.")
    parser.add_argument("--oauth-client-secret", default="")
    parser.add_argument("--seed", type=int, default=0, help="Random seed (same seed, same data).")
    parser.add_argument("--deal-pipeline", default="default", help="Pipeline id the seeded deals are in.")
    parser.add_argument("--contact-company-share", type=float, default=0.85,
                        help="Share of contacts given a primary company (0 to 1; default 0.85).")
    parser.add_argument("--deal-pipeline-limit", type=int, default=None,
                        help="Deal pipelines the portal's plan allows (default 15).")


def run(stdout, /, **options) -> None:
    for name in ("contacts", "companies", "deals", "products"):
        if options.get(name, 0) < 0:
            raise ValueError(f"--{name} must be zero or more")
    portal = ensure_portal(options["portal"], token=options.get("token") or "")
    changes = {"rate_limit_enabled": False} if options.get("no_rate_limit") else {}
    for name in ("ten_second_limit", "search_per_second", "webhook_url", "deal_pipeline_limit"):
        if options.get(name):
            changes[name] = options[name]
    if changes:
        Portal.objects.filter(pk=portal.pk).update(**changes)
    if options.get("oauth_client_id"):
        app, _ = OAuthApp.objects.get_or_create(client_id=options["oauth_client_id"])
        if options.get("oauth_client_secret"):
            app.client_secret = options["oauth_client_secret"]
            app.save(update_fields=["client_secret"])
        stdout.write(f"OAuth app {app.client_id} (secret {app.client_secret})")
    counts = seed_records(portal, contacts=options.get("contacts", 0), companies=options.get("companies", 0),
                          deals=options.get("deals", 0), products=options.get("products", 0),
                          seed=options.get("seed", 0), deal_pipeline=options.get("deal_pipeline") or "default",
                          contact_company_share=options.get("contact_company_share", 0.85))
    stdout.write(f"Portal {portal.hub_id}: token {portal.private_token}; created " +
                 ", ".join(f"{n} {t}" for t, n in counts.items()))


def ensure_portal(hub_id: int, *, token: str = "", scopes: list[str] | None = None, **fields) -> Portal:
    """The portal `hub_id` with its default deal pipeline, created if missing."""
    defaults = {"name": f"Sandbox portal {hub_id}", "scopes": scopes if scopes is not None else ALL_SCOPES, **fields}
    if token:
        defaults["private_token"] = token
    portal, created = Portal.objects.get_or_create(hub_id=hub_id, defaults=defaults)
    if not created and (token or fields or scopes is not None):
        for key, value in defaults.items():
            setattr(portal, key, value)
        portal.save()
    Pipeline.objects.get_or_create(
        portal=portal, object_type="deals", pipeline_id="default",
        defaults={
            "label": "Sales Pipeline", "display_order": 0, "created_at": EPOCH, "updated_at": EPOCH,
            "stages": [{"id": sid, "label": label, "displayOrder": i,
                        "metadata": {"probability": prob, "isClosed": "true" if closed else "false"}}
                       for i, (sid, label, prob, closed) in enumerate(DEFAULT_PIPELINE_STAGES)],
        },
    )
    return portal


def _stamps(rng: random.Random, n: int) -> list[datetime]:
    """Modification times: a few import batches share one millisecond, the rest spread out."""
    base = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=400)
    batch_times = [base + timedelta(days=rng.randint(0, 365)) for _ in range(3)]
    out = []
    for _ in range(n):
        if rng.random() < 0.4:
            out.append(rng.choice(batch_times))
        else:
            out.append(base + timedelta(seconds=rng.randint(0, 365 * 86400), milliseconds=rng.randint(0, 999)))
    return out


def seed_records(portal: Portal, *, contacts: int = 0, companies: int = 0, deals: int = 0, products: int = 0,
                 seed: int = 0, deal_pipeline: str = "default", contact_company_share: float = 0.85,
                 deal_contacts: tuple[int, int] = (1, 3)) -> dict[str, int]:
    """Bulk-insert realistic records, the same for the same seed.

    A share of the contacts (`contact_company_share`) gets a primary company. Deals are in
    `deal_pipeline` (a pipeline id of the portal), each with a primary company and
    `deal_contacts` (min, max) contacts, taken from that company's contacts where it has any.
    Contacts' deal roll-ups are computed as the sandbox computes them on every change.
    """
    if not 0 <= contact_company_share <= 1:
        raise ValueError("the share of contacts with a company must be between 0 and 1")
    pipeline = Pipeline.objects.filter(portal=portal, object_type="deals", pipeline_id=deal_pipeline,
                                       archived=False).first()
    if deals and pipeline is None:
        raise ValueError(f"portal {portal.hub_id} has no deal pipeline {deal_pipeline!r}")
    fake = Faker()
    fake.seed_instance(seed or portal.hub_id)
    rng = random.Random(seed or portal.hub_id)
    rows = {"companies": _company_props(fake, rng, companies)}
    rows.update({
        "contacts": _contact_props(rng, contacts, _pools(fake)),
        "deals": _deal_props(fake, rng, deals, pipeline),
        "products": [{"name": fake.bs().title(), "price": f"{rng.randint(1, 999)}.00", "hs_sku": f"SKU-{i:05d}",
                      "description": fake.sentence()} for i in range(products)],
    })
    with transaction.atomic():
        ids = {object_type: _bulk(portal, object_type, props, rng) for object_type, props in rows.items()}
        company_of_contact: dict[int, int] = {}
        company_of_deal: dict[int, int] = {}
        if ids["companies"]:
            with_company = [c for c in ids["contacts"] if rng.random() < contact_company_share]
            company_of_contact = _associate(portal, "contacts", with_company, ids["companies"], rng)
            company_of_deal = _associate(portal, "deals", ids["deals"], ids["companies"], rng)
        _associate_deal_contacts(portal, ids["deals"], ids["contacts"], company_of_deal, company_of_contact,
                                 deal_contacts, rng)
        if ids["deals"] and ids["contacts"]:
            rollups.recompute(portal, ids["contacts"], events=False, modified=False)
    return {"contacts": contacts, "companies": companies, "deals": deals, "products": products}


def _pools(fake: Faker, size: int = 400) -> dict[str, list[str]]:
    """Values drawn once from Faker and then picked at random: Faker's own draws cost ~0.1 ms
    each, which made seeding tens of thousands of records take seconds for names alone."""
    return {"first": [fake.first_name() for _ in range(size)], "last": [fake.last_name() for _ in range(size)],
            "job": [fake.job() for _ in range(size // 2)], "mail": [fake.free_email_domain() for _ in range(10)]}


def _phone(rng: random.Random) -> str:
    return f"+1 {rng.randint(200, 989)}-{rng.randint(200, 999)}-{rng.randint(1000, 9999)}"


def _company_props(fake: Faker, rng: random.Random, n: int) -> list[dict]:
    """Companies drawn straight from Faker, as they always were: tests elsewhere count on which
    of them a seed duplicates."""
    owner_ids = [o[0] for o in OWNERS]
    industries = [i[0] for i in INDUSTRIES]
    out = []
    for i in range(n):
        if out and rng.random() < 0.05:
            out.append(dict(out[-1]))  # a duplicate company
            continue
        out.append({"name": fake.company(), "domain": f"{fake.domain_word()}{i}.{fake.tld()}",
                    "phone": fake.phone_number(), "industry": rng.choice(industries), "city": fake.city(),
                    "hubspot_owner_id": rng.choice(owner_ids)})
    return out


def _contact_props(rng: random.Random, n: int, pools: dict[str, list[str]]) -> list[dict]:
    owner_ids = [o[0] for o in OWNERS]
    out = []
    for i in range(n):
        first, last = rng.choice(pools["first"]), rng.choice(pools["last"])
        props = {"firstname": first, "lastname": last, "jobtitle": rng.choice(pools["job"]), "phone": _phone(rng),
                 "lifecyclestage": rng.choice(["lead", "subscriber", "customer", "opportunity"]),
                 "hubspot_owner_id": rng.choice(owner_ids)}
        if out and rng.random() < 0.05:  # the same person again, under another address
            props.update(firstname=out[-1]["firstname"], lastname=out[-1]["lastname"])
        if rng.random() >= 0.08:  # some contacts have no email
            props["email"] = f"{first}.{last}.{i}@{rng.choice(pools['mail'])}".lower().replace(" ", "")
        out.append(props)
    return out


def _deal_props(fake: Faker, rng: random.Random, n: int, pipeline: Pipeline | None) -> list[dict]:
    owner_ids = [o[0] for o in OWNERS]
    stages = [s["id"] for s in pipeline.stages] if pipeline else []
    now = datetime.now(UTC)
    return [{"dealname": f"{fake.catch_phrase()} deal", "amount": str(rng.randint(5, 500) * 100),
             "pipeline": pipeline.pipeline_id, "dealstage": rng.choice(stages),
             "dealtype": rng.choice(["newbusiness", "existingbusiness"]),
             "closedate": (now + timedelta(days=rng.randint(-90, 180))).strftime("%Y-%m-%dT00:00:00.000Z"),
             "hubspot_owner_id": rng.choice(owner_ids)} for _ in range(n)]


def _bulk(portal: Portal, object_type: str, rows: list[dict], rng: random.Random) -> list[int]:
    if not rows:
        return []
    stamps = _stamps(rng, len(rows))
    objs = [CrmObject(portal=portal, object_type=object_type, properties=props, email=props.get("email", ""),
                      created_at=stamp - timedelta(days=rng.randint(0, 30)), updated_at=stamp)
            for props, stamp in zip(rows, stamps, strict=True)]
    created = CrmObject.objects.bulk_create(objs, batch_size=500)
    if created and created[0].pk is None:  # databases that do not return ids from bulk inserts
        return sorted(CrmObject.objects.filter(portal=portal, object_type=object_type)
                      .order_by("-pk").values_list("pk", flat=True)[: len(rows)])
    return [o.pk for o in created]


def _associate(portal: Portal, from_type: str, ids: list[int], company_ids: list[int],
               rng: random.Random) -> dict[int, int]:
    """Give each record a primary company; returns {record id: company id}."""
    chosen = {from_id: rng.choice(company_ids) for from_id in ids}
    _insert_pairs(portal, from_type, "companies", list(chosen.items()), primary=True)
    return chosen


def _associate_deal_contacts(portal: Portal, deal_ids: list[int], contact_ids: list[int],
                             company_of_deal: dict[int, int], company_of_contact: dict[int, int],
                             span: tuple[int, int], rng: random.Random) -> None:
    if not deal_ids or not contact_ids:
        return
    staff: dict[int, list[int]] = {}
    for contact, company in company_of_contact.items():
        staff.setdefault(company, []).append(contact)
    pairs = []
    for deal in deal_ids:
        pool = staff.get(company_of_deal.get(deal)) or contact_ids
        wanted = min(len(pool), rng.randint(*span))
        pairs += [(deal, contact) for contact in rng.sample(pool, wanted)]
    _insert_pairs(portal, "deals", "contacts", pairs, primary=False)


def _insert_pairs(portal: Portal, from_type: str, to_type: str, pairs: list[tuple[int, int]], *,
                  primary: bool) -> None:
    """Association rows for new records, both directions, in bulk (no events, no roll-ups)."""
    unlabeled, primary_id = ASSOCIATION_TYPES[(from_type, to_type)]
    forward_types = [unlabeled, primary_id] if primary and primary_id is not None else [unlabeled]
    rows = []
    for from_id, to_id in pairs:
        for forward in forward_types:
            rows.append((portal.pk, from_type, from_id, to_type, to_id, forward, "HUBSPOT_DEFINED"))
            rows.append((portal.pk, to_type, to_id, from_type, from_id, inverse_type(from_type, to_type, forward),
                         "HUBSPOT_DEFINED"))
    # One prepared statement for every row: the ORM's bulk_create spends most of its time
    # building SQL for tens of thousands of rows.
    names = ["portal", "from_type", "from_id", "to_type", "to_id", "type_id", "category"]
    q = connection.ops.quote_name  # identifiers from the model's own metadata, values as parameters
    columns = ", ".join(q(Association._meta.get_field(name).column) for name in names)
    sql = f"INSERT INTO {q(Association._meta.db_table)} ({columns}) VALUES ({', '.join(['%s'] * len(names))})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def move_deals(portal: Portal, stages: Sequence[tuple[str, Sequence[str]]], *, seed: int = 0) -> int:
    """Put every live deal of the portal into one of `stages` [(pipeline id, [stage ids])] at
    random, keeping the deals' modified dates (seeded data stays old) and recomputing their
    contacts' roll-ups: for benchmarks whose pipelines exist only once a sync has made them.
    Returns how many deals moved."""
    known = {p.pipeline_id: {s["id"] for s in p.stages}
             for p in Pipeline.objects.filter(portal=portal, object_type="deals", archived=False)}
    for pipeline_id, stage_ids in stages:
        if not stage_ids or not set(stage_ids) <= known.get(pipeline_id, set()):
            raise ValueError(f"portal {portal.hub_id} has no deal pipeline {pipeline_id!r} with stages {stage_ids}")
    if not stages:
        raise ValueError("no pipeline to move the deals to")
    rng = random.Random(seed or portal.hub_id)
    deals = list(CrmObject.objects.filter(portal=portal, object_type="deals", archived=False, merged_into=None)
                 .order_by("pk").values_list("pk", "properties", "updated_at"))
    rows = []
    for pk, props, updated_at in deals:
        pipeline_id, stage_ids = rng.choice(stages)
        rows.append((pk, {**props, "pipeline": pipeline_id, "dealstage": rng.choice(list(stage_ids))}, updated_at))
    with transaction.atomic():
        rollups.save_rows(rows)
        rollups.recompute(portal, rollups.contacts_of_deals(portal, [pk for pk, _, _ in rows]), events=False,
                          modified=False)
    return len(rows)
