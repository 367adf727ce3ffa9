"""`manage.py sandbox_seed salesforce --org O --contacts N ...`: an org with realistic data.

`seed_org()` is the same thing as a function, for tests and benchmarks. It writes the rows
directly (not through the API) so seeding 10,000 records takes seconds and spends no API calls.
"""

from __future__ import annotations

import argparse
import random
from datetime import date, timedelta

from django.db import connection, transaction
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
    parser.add_argument(
        "--contact-account-share",
        type=float,
        default=0.8,
        help="share of contacts with an AccountId (0 to 1)",
    )
    parser.add_argument(
        "--roles",
        type=role_range,
        default=(0, 2),
        help="contact roles per opportunity, MIN-MAX (first primary)",
    )


def role_range(text: str) -> tuple[int, int]:
    """A MIN-MAX range: "1-3" is (1, 3), "2" is (2, 2)."""
    low, _, high = text.partition("-")
    try:
        bounds = (int(low), int(high or low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN-MAX, got {text!r}") from None
    if not 0 <= bounds[0] <= bounds[1]:
        raise argparse.ArgumentTypeError(f"expected 0 <= MIN <= MAX, got {text!r}")
    return bounds


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
    contact_account_share: float = 0.8,
    roles: tuple[int, int] = (0, 2),
    **_ignored,
) -> None:
    if min(contacts, accounts, opportunities, record_types) < 0:
        raise ValueError("counts must not be negative")
    if not 0 <= contact_account_share <= 1:
        raise ValueError("--contact-account-share must be between 0 and 1")
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
        contact_account_share=contact_account_share,
        roles=roles,
    )
    o = result.org
    stdout.write(
        f"Salesforce org {o.name!r}: {contacts} contacts, {accounts} accounts, {opportunities} "
        f"opportunities, {record_types} record types added.\n"
        f"  instance URL and login host: <site>/sandbox/salesforce\n"
        f"  client_id={o.client_id} client_secret={o.client_secret}\n"
        f"  access_token={result.access_token}\n  refresh_token={result.refresh_token}\n"
    )


INSERT_FIELDS = (
    "org",
    "sobject",
    "sf_id",
    "data",
    "is_deleted",
    "created_date",
    "last_modified_date",
    "system_modstamp",
    "ext_key",
)


class Pool:
    """Faker values drawn once and then picked at random: Faker's weighted name lists cost about
    half a millisecond a call, which would dominate seeding tens of thousands of records."""

    def __init__(self, fake: Faker, rng: random.Random, size: int = 1000) -> None:
        self.fake, self.rng, self.size = fake, rng, size
        self.values: dict[str, list[str]] = {}

    def pick(self, provider: str) -> str:
        """A fresh value for the first `size` picks of a provider, then one of those again."""
        values = self.values.setdefault(provider, [])
        if len(values) < self.size:
            values.append(getattr(self.fake, provider)())
            return values[-1]
        return self.rng.choice(values)


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
    contact_account_share: float = 0.8,
    roles: tuple[int, int] = (0, 2),
    **org_fields,
) -> Seeded:
    """Create (or extend) an org and return it with a fresh access and refresh token.

    `contact_account_share` of the contacts get an AccountId; each opportunity gets between
    `roles[0]` and `roles[1]` contact roles (the first primary), preferably contacts of its
    account. Everything follows from `seed` (close dates are relative to today).
    """
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
    pool = Pool(fake, rng)
    with transaction.atomic():
        if created:
            _metadata(org, record_types)
        users = list(Record.objects.filter(org=org, sobject="User").values_list("sf_id", flat=True))
        account_ids = _insert(org, "Account", [_account(fake, pool, rng, users) for _ in range(accounts)])
        account_ids = account_ids or list(
            Record.objects.filter(org=org, sobject="Account").values_list("sf_id", flat=True)
        )
        contacts_made = [
            _contact(pool, rng, users, account_ids, contact_account_share) for _ in range(contacts)
        ]
        contact_ids = _insert(org, "Contact", contacts_made)
        contact_accounts = [(i, c.get("AccountId")) for i, c in zip(contact_ids, contacts_made, strict=True)]
        meta = store.OrgMeta(org)
        opps = [_opportunity(pool, rng, users, account_ids, meta) for _ in range(opportunities)]
        opp_ids = _insert(org, "Opportunity", opps)
        _insert(org, "OpportunityContactRole", _roles(rng, opp_ids, opps, contact_accounts, roles))
    access = Token.objects.create(
        org=org,
        kind=Token.Kind.ACCESS,
        value=f"00D!{name}-{fake.sha1()}",
        expires_at=Token.session_expiry(org),
    )
    refresh = Token.objects.create(org=org, kind=Token.Kind.REFRESH, value=f"5Aep{name}-{fake.sha1()}")
    return Seeded(org, access.value, refresh.value)


def _insert(org: Org, sobject: str, rows: list[dict]) -> list[str]:
    """Insert records in one executemany, values adapted by the database backend once per column
    kind rather than field by field through the ORM (three times faster for 10,000s of rows)."""
    if not rows:
        return []
    ops = connection.ops
    moment = ops.adapt_datetimefield_value(store.now())
    ids = store.allocate_ids(org, schema.OBJECTS[sobject].prefix, len(rows))
    corporate = (org.currencies or ["USD"])[0]
    params = []
    for sf_id, data in zip(ids, rows, strict=True):
        if org.multi_currency and sobject in ("Account", "Contact", "Opportunity"):
            data.setdefault("CurrencyIsoCode", corporate)
        ext_key = (data.get("External_Id__c") or "").lower()
        json_data = ops.adapt_json_value(data, None)
        params.append((org.pk, sobject, sf_id, json_data, False, moment, moment, moment, ext_key))
    table = ops.quote_name(Record._meta.db_table)
    columns = ", ".join(ops.quote_name(Record._meta.get_field(name).column) for name in INSERT_FIELDS)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(INSERT_FIELDS))})",  # noqa: S608
            params,
        )
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


def _account(fake: Faker, pool: Pool, rng: random.Random, users: list[str]) -> dict:
    """An account; its name and domain are drawn afresh, since companies are matched by them."""
    company = fake.company()
    return {
        "Name": company,
        "Website": f"https://{fake.domain_name()}",
        "Phone": pool.pick("phone_number")[:40],
        "Industry": rng.choice(schema.INDUSTRIES),
        "BillingCity": pool.pick("city")[:40],
        "OwnerId": rng.choice(users),
        "Type": rng.choice(["Prospect", "Customer"]),
    }


def _contact(
    pool: Pool, rng: random.Random, users: list[str], accounts: list[str], account_share: float
) -> dict:
    first, last = pool.pick("first_name"), pool.pick("last_name")
    return {
        "FirstName": first,
        "LastName": last,
        "Name": f"{first} {last}",
        "Email": f"{first}.{last}.{rng.randrange(10**6)}@{pool.pick('free_email_domain')}".lower(),
        "Phone": pool.pick("phone_number")[:40],
        "Title": pool.pick("job")[:128],
        "OwnerId": rng.choice(users),
        "AccountId": rng.choice(accounts) if accounts and rng.random() < account_share else None,
        "LeadSource": rng.choice(schema.LEAD_SOURCES),
    }


def _roles(
    rng: random.Random,
    opp_ids: list[str],
    opps: list[dict],
    contacts: list[tuple[str, str | None]],
    count: tuple[int, int],
) -> list[dict]:
    """`count` (min, max) contact roles per opportunity, the first primary, drawn from the
    (contact id, account id) `contacts` of the opportunity's account when it has enough, else
    from all of them."""
    by_account: dict[str, list[str]] = {}
    for contact_id, account_id in contacts:
        by_account.setdefault(account_id or "", []).append(contact_id)
    everyone = [contact_id for contact_id, _ in contacts]
    rows = []
    for opp_id, opp in zip(opp_ids, opps, strict=True):
        wanted = rng.randint(*count)
        pool = by_account.get(opp.get("AccountId") or "", [])
        pool = pool if len(pool) >= wanted else everyone
        for i, contact_id in enumerate(rng.sample(pool, min(len(pool), wanted))):
            rows.append(
                {
                    "OpportunityId": opp_id,
                    "ContactId": contact_id,
                    "IsPrimary": i == 0,
                    "Role": rng.choice(schema.ROLES),
                }
            )
    return rows


def _opportunity(
    pool: Pool, rng: random.Random, users: list[str], accounts: list[str], meta: store.OrgMeta
) -> dict:
    record_type = (
        rng.choice(meta.opportunity_record_types())["Id"] if meta.opportunity_record_types() else None
    )
    stage = rng.choice(meta.allowed_stages(record_type))
    data = {
        "Name": f"{pool.pick('company')} - {rng.choice(['Licenses', 'Services', 'Renewal', 'Expansion'])}",
        "StageName": stage["ApiName"],
        "Amount": float(rng.randrange(1000, 200000, 500)),
        "CloseDate": (date.today() + timedelta(days=rng.randint(-90, 180))).isoformat(),
        "Type": rng.choice(schema.OPP_TYPES),
        "Description": pool.pick("sentence"),
        "OwnerId": rng.choice(users),
        "AccountId": rng.choice(accounts) if accounts else None,
        "Probability": stage["DefaultProbability"],
        "IsClosed": stage["IsClosed"],
        "IsWon": stage["IsWon"],
    }
    if record_type:
        data["RecordTypeId"] = record_type
    return data
