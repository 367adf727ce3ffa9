"""`manage.py sandbox_seed salesforce --org O --contacts N ...`: an org with realistic data.

`seed_org()` is the same thing as a function, for tests and benchmarks. It writes the rows
directly (not through the API) so seeding 10,000 records takes seconds and spends no API calls.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from django.db import transaction
from faker import Faker

from sandbox.salesforce import schema, store
from sandbox.salesforce.models import Org, Record, Token

STAGES = [  # ApiName, probability, closed, won, forecast category
    ("Prospecting", 10, False, False, "Pipeline"),
    ("Qualification", 10, False, False, "Pipeline"),
    ("Needs Analysis", 20, False, False, "Pipeline"),
    ("Value Proposition", 50, False, False, "Pipeline"),
    ("Id. Decision Makers", 60, False, False, "Pipeline"),
    ("Perception Analysis", 70, False, False, "Pipeline"),
    ("Proposal/Price Quote", 75, False, False, "Pipeline"),
    ("Negotiation/Review", 90, False, False, "Pipeline"),
    ("Closed Won", 100, True, True, "Closed"),
    ("Closed Lost", 0, True, False, "Omitted"),
]
RECORD_TYPES = ["New Business", "Renewal", "Partner Deal", "Upsell", "Services"]


def add_arguments(parser) -> None:
    parser.add_argument("--org", default="acme", help="org name (created if missing)")
    parser.add_argument("--contacts", type=int, default=50)
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--opportunities", type=int, default=20)
    parser.add_argument("--record-types", type=int, default=0, help="Opportunity record types (0: none)")
    parser.add_argument("--api-max", type=int, default=15000, help="daily API allocation")
    parser.add_argument("--multi-currency", action="store_true")
    parser.add_argument("--seed", type=int, default=1, help="random seed")


def run(
    stdout,
    /,
    *,
    org: str,
    contacts: int,
    accounts: int,
    opportunities: int,
    record_types: int,
    api_max: int = 15000,
    multi_currency: bool = False,
    seed: int = 1,
    **_ignored,
) -> None:
    if min(contacts, accounts, opportunities, record_types) < 0:
        raise ValueError("counts must not be negative")
    if record_types > len(RECORD_TYPES):
        raise ValueError(f"at most {len(RECORD_TYPES)} record types")
    result = seed_org(
        org,
        contacts=contacts,
        accounts=accounts,
        opportunities=opportunities,
        record_types=record_types,
        api_max=api_max,
        multi_currency=multi_currency,
        seed=seed,
    )
    o = result.org
    stdout.write(
        f"Salesforce org {o.name!r}: {contacts} contacts, {accounts} accounts, {opportunities} "
        f"opportunities, {record_types} record types added.\n"
        f"  instance URL and login host: <site>/sandbox/salesforce\n"
        f"  client_id={o.client_id} client_secret={o.client_secret}\n"
        f"  access_token={result.access_token}\n  refresh_token={result.refresh_token}\n"
    )


class Seeded:
    def __init__(self, org: Org, access_token: str, refresh_token: str) -> None:
        self.org, self.access_token, self.refresh_token = org, access_token, refresh_token


def seed_org(
    name: str,
    *,
    contacts: int = 0,
    accounts: int = 0,
    opportunities: int = 0,
    record_types: int = 0,
    seed: int = 1,
    **org_fields,
) -> Seeded:
    """Create (or extend) an org and return it with a fresh access and refresh token."""
    org, created = Org.objects.get_or_create(
        name=name,
        defaults={
            "client_id": f"sandbox-{name}",
            "client_secret": f"secret-{name}",
            "currencies": ["USD", "EUR", "GBP"],
            **org_fields,
        },
    )
    if not created and org_fields:
        Org.objects.filter(pk=org.pk).update(**org_fields)
        org.refresh_from_db()
    fake = Faker()
    fake.seed_instance(seed)
    rng = random.Random(seed)
    with transaction.atomic():
        if created:
            _metadata(org, record_types)
        users = list(Record.objects.filter(org=org, sobject="User").values_list("sf_id", flat=True))
        account_ids = _insert(org, "Account", [_account(fake, rng, users) for _ in range(accounts)])
        account_ids = account_ids or list(
            Record.objects.filter(org=org, sobject="Account").values_list("sf_id", flat=True)
        )
        contact_ids = _insert(
            org, "Contact", [_contact(fake, rng, users, account_ids) for _ in range(contacts)]
        )
        meta = store.OrgMeta(org)
        opps = [_opportunity(fake, rng, users, account_ids, meta) for _ in range(opportunities)]
        opp_ids = _insert(org, "Opportunity", opps)
        roles = []
        for opp_id in opp_ids:
            for i, contact_id in enumerate(rng.sample(contact_ids, min(len(contact_ids), rng.randint(0, 2)))):
                roles.append(
                    {
                        "OpportunityId": opp_id,
                        "ContactId": contact_id,
                        "IsPrimary": i == 0,
                        "Role": rng.choice(schema.ROLES),
                    }
                )
        _insert(org, "OpportunityContactRole", roles)
    access = Token.objects.create(
        org=org,
        kind=Token.Kind.ACCESS,
        value=f"00D!{name}-{fake.sha1()}",
        expires_at=Token.session_expiry(org),
    )
    refresh = Token.objects.create(org=org, kind=Token.Kind.REFRESH, value=f"5Aep{name}-{fake.sha1()}")
    return Seeded(org, access.value, refresh.value)


def _insert(org: Org, sobject: str, rows: list[dict]) -> list[str]:
    if not rows:
        return []
    moment = store.now()
    ids = store.allocate_ids(org, schema.OBJECTS[sobject].prefix, len(rows))
    records = []
    for sf_id, data in zip(ids, rows, strict=True):
        if org.multi_currency and sobject in ("Account", "Contact", "Opportunity"):
            data.setdefault("CurrencyIsoCode", (org.currencies or ["USD"])[0])
        records.append(
            Record(
                org=org,
                sobject=sobject,
                sf_id=sf_id,
                data=data,
                created_date=moment,
                last_modified_date=moment,
                system_modstamp=moment,
                ext_key=(data.get("External_Id__c") or "").lower(),
            )
        )
    Record.objects.bulk_create(records, batch_size=1000)
    return ids


def _metadata(org: Org, record_types: int) -> None:
    _insert(
        org,
        "User",
        [
            {
                "FirstName": first,
                "LastName": last,
                "Name": f"{first} {last}",
                "Email": f"{first.lower()}@example.com",
                "Username": f"{first.lower()}@{org.name}.sandbox",
                "IsActive": True,
            }
            for first, last in [("Integration", "User"), ("Olivia", "Owner"), ("Sam", "Seller")]
        ],
    )
    _insert(
        org,
        "OpportunityStage",
        [
            {
                "ApiName": n,
                "MasterLabel": n,
                "IsActive": True,
                "IsClosed": c,
                "IsWon": w,
                "SortOrder": i + 1,
                "DefaultProbability": p,
                "ForecastCategoryName": fc,
            }
            for i, (n, p, c, w, fc) in enumerate(STAGES)
        ],
    )
    names = [s[0] for s in STAGES]
    for i, label in enumerate(RECORD_TYPES[:record_types]):
        allowed = names if i == 0 else [n for j, n in enumerate(names[:-2]) if j % (i + 1) == 0] + names[-2:]
        (process_id,) = _insert(
            org,
            "BusinessProcess",
            [
                {
                    "Name": f"{label} Process",
                    "TableEnumOrId": "Opportunity",
                    "IsActive": True,
                    "_stages": allowed,
                }
            ],
        )
        _insert(
            org,
            "RecordType",
            [
                {
                    "Name": label,
                    "DeveloperName": label.replace(" ", "_"),
                    "SobjectType": "Opportunity",
                    "BusinessProcessId": process_id,
                    "IsActive": True,
                    "Description": f"{label} opportunities",
                }
            ],
        )


def _account(fake: Faker, rng: random.Random, users: list[str]) -> dict:
    company = fake.company()
    return {
        "Name": company,
        "Website": f"https://{fake.domain_name()}",
        "Phone": fake.phone_number()[:40],
        "Industry": rng.choice(schema.INDUSTRIES),
        "BillingCity": fake.city()[:40],
        "OwnerId": rng.choice(users),
        "Type": rng.choice(["Prospect", "Customer"]),
    }


def _contact(fake: Faker, rng: random.Random, users: list[str], accounts: list[str]) -> dict:
    first, last = fake.first_name(), fake.last_name()
    return {
        "FirstName": first,
        "LastName": last,
        "Name": f"{first} {last}",
        "Email": f"{first}.{last}.{rng.randrange(10**6)}@{fake.free_email_domain()}".lower(),
        "Phone": fake.phone_number()[:40],
        "Title": fake.job()[:128],
        "OwnerId": rng.choice(users),
        "AccountId": rng.choice(accounts) if accounts and rng.random() < 0.8 else None,
        "LeadSource": rng.choice(schema.LEAD_SOURCES),
    }


def _opportunity(
    fake: Faker, rng: random.Random, users: list[str], accounts: list[str], meta: store.OrgMeta
) -> dict:
    record_type = (
        rng.choice(meta.opportunity_record_types())["Id"] if meta.opportunity_record_types() else None
    )
    stage = rng.choice(meta.allowed_stages(record_type))
    data = {
        "Name": f"{fake.company()} - {rng.choice(['Licenses', 'Services', 'Renewal', 'Expansion'])}",
        "StageName": stage["ApiName"],
        "Amount": float(rng.randrange(1000, 200000, 500)),
        "CloseDate": (date.today() + timedelta(days=rng.randint(-90, 180))).isoformat(),
        "Type": rng.choice(schema.OPP_TYPES),
        "Description": fake.sentence(),
        "OwnerId": rng.choice(users),
        "AccountId": rng.choice(accounts) if accounts else None,
        "Probability": stage["DefaultProbability"],
        "IsClosed": stage["IsClosed"],
        "IsWon": stage["IsWon"],
    }
    if record_type:
        data["RecordTypeId"] = record_type
    return data
