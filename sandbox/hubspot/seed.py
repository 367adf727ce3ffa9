"""Seed HubSpot sandbox portals: `manage.py sandbox_seed hubspot --portal P --contacts N ...`.

Records are realistic (Faker names, emails, domains), include some duplicates (same person or
company twice under another email) and some contacts without email, and share modification
timestamps in bulk, as records imported together do.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from django.db import transaction
from faker import Faker

from sandbox.hubspot.models import Association, CrmObject, OAuthApp, Pipeline, Portal
from sandbox.hubspot.schema import ASSOCIATION_TYPES, DEFAULT_PIPELINE_STAGES, INDUSTRIES, OWNERS

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


def run(stdout, /, **options) -> None:
    for name in ("contacts", "companies", "deals", "products"):
        if options.get(name, 0) < 0:
            raise ValueError(f"--{name} must be zero or more")
    portal = ensure_portal(options["portal"], token=options.get("token") or "")
    changes = {"rate_limit_enabled": False} if options.get("no_rate_limit") else {}
    for name in ("ten_second_limit", "search_per_second", "webhook_url"):
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
                          seed=options.get("seed", 0))
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
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=400)
    batch_times = [base + timedelta(days=rng.randint(0, 365)) for _ in range(3)]
    out = []
    for _ in range(n):
        if rng.random() < 0.4:
            out.append(rng.choice(batch_times))
        else:
            out.append(base + timedelta(seconds=rng.randint(0, 365 * 86400), milliseconds=rng.randint(0, 999)))
    return out


def seed_records(portal: Portal, *, contacts: int = 0, companies: int = 0, deals: int = 0, products: int = 0,
                 seed: int = 0) -> dict[str, int]:
    fake = Faker()
    fake.seed_instance(seed or portal.hub_id)
    rng = random.Random(seed or portal.hub_id)
    owner_ids = [o[0] for o in OWNERS]
    industries = [i[0] for i in INDUSTRIES]
    stages = [s[0] for s in DEFAULT_PIPELINE_STAGES]
    company_props = []
    for i in range(companies):
        if company_props and rng.random() < 0.05:
            company_props.append(dict(company_props[-1]))  # a duplicate company
            continue
        name = fake.company()
        company_props.append({"name": name, "domain": f"{fake.domain_word()}{i}.{fake.tld()}",
                              "phone": fake.phone_number(), "industry": rng.choice(industries),
                              "city": fake.city(), "hubspot_owner_id": rng.choice(owner_ids)})
    contact_props = []
    for i in range(contacts):
        first, last = fake.first_name(), fake.last_name()
        props = {"firstname": first, "lastname": last, "jobtitle": fake.job(), "phone": fake.phone_number(),
                 "lifecyclestage": rng.choice(["lead", "subscriber", "customer", "opportunity"]),
                 "hubspot_owner_id": rng.choice(owner_ids)}
        if contact_props and rng.random() < 0.05:  # the same person again, under another address
            props.update(firstname=contact_props[-1]["firstname"], lastname=contact_props[-1]["lastname"])
        if rng.random() >= 0.08:  # some contacts have no email
            props["email"] = f"{first}.{last}.{i}@{fake.free_email_domain()}".lower().replace(" ", "")
        contact_props.append(props)
    deal_props = [{"dealname": f"{fake.catch_phrase()} deal", "amount": str(rng.randint(5, 500) * 100),
                   "pipeline": "default", "dealstage": rng.choice(stages),
                   "dealtype": rng.choice(["newbusiness", "existingbusiness"]),
                   "closedate": (datetime.now(UTC) + timedelta(days=rng.randint(-90, 180))).strftime(
                       "%Y-%m-%dT00:00:00.000Z"),
                   "hubspot_owner_id": rng.choice(owner_ids)} for _ in range(deals)]
    product_props = [{"name": fake.bs().title(), "price": f"{rng.randint(1, 999)}.00", "hs_sku": f"SKU-{i:05d}",
                      "description": fake.sentence()} for i in range(products)]
    with transaction.atomic():
        company_ids = _bulk(portal, "companies", company_props, rng)
        contact_ids = _bulk(portal, "contacts", contact_props, rng)
        deal_ids = _bulk(portal, "deals", deal_props, rng)
        _bulk(portal, "products", product_props, rng)
        if company_ids:
            _associate(portal, "contacts", [c for c in contact_ids if rng.random() < 0.85], company_ids, rng)
            _associate(portal, "deals", deal_ids, company_ids, rng)
    return {"contacts": contacts, "companies": companies, "deals": deals, "products": products}


def _bulk(portal: Portal, object_type: str, rows: list[dict], rng: random.Random) -> list[int]:
    if not rows:
        return []
    stamps = _stamps(rng, len(rows))
    objs = [CrmObject(portal=portal, object_type=object_type, properties=props, email=props.get("email", ""),
                      created_at=stamp - timedelta(days=rng.randint(0, 30)), updated_at=stamp)
            for props, stamp in zip(rows, stamps, strict=True)]
    created = CrmObject.objects.bulk_create(objs, batch_size=500)
    if created and created[0].pk is None:  # databases that do not return ids from bulk inserts
        return list(CrmObject.objects.filter(portal=portal, object_type=object_type)
                    .order_by("-pk").values_list("pk", flat=True)[: len(rows)])
    return [o.pk for o in created]


def _associate(portal: Portal, from_type: str, ids: list[int], company_ids: list[int], rng: random.Random) -> None:
    unlabeled, primary = ASSOCIATION_TYPES[(from_type, "companies")]
    back_unlabeled, back_primary = ASSOCIATION_TYPES[("companies", from_type)]
    rows = []
    for from_id in ids:
        company = rng.choice(company_ids)
        for forward, backward in ((unlabeled, back_unlabeled), (primary, back_primary)):
            rows.append(Association(portal=portal, from_type=from_type, from_id=from_id, to_type="companies",
                                    to_id=company, type_id=forward))
            rows.append(Association(portal=portal, from_type="companies", from_id=company, to_type=from_type,
                                    to_id=from_id, type_id=backward))
    Association.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
