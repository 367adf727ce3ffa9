"""The seed command: realistic records, duplicates, contacts without email, associations."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command

from sandbox.hubspot.models import Association, CrmObject, Portal

pytestmark = pytest.mark.django_db


def test_it_seeds_a_portal_from_the_command_line():
    out = io.StringIO()
    call_command("sandbox_seed", "hubspot", "--portal", "7007", "--contacts", "60", "--companies", "20",
                 "--deals", "10", stdout=out)
    portal = Portal.objects.get(hub_id=7007)
    contacts = CrmObject.objects.filter(portal=portal, object_type="contacts")
    assert contacts.count() == 60
    assert contacts.filter(email="").exists()
    assert CrmObject.objects.filter(portal=portal, object_type="deals").count() == 10
    assert Association.objects.filter(portal=portal, from_type="contacts", type_id=1).exists()
    assert portal.private_token in out.getvalue()


def test_it_refuses_a_negative_count():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("sandbox_seed", "hubspot", "--contacts", "-1", stdout=io.StringIO())


def test_it_sets_a_portals_limits_and_webhook_from_the_command_line():
    call_command("sandbox_seed", "hubspot", "--portal", "7008", "--ten-second-limit", "100", "--search-per-second",
                 "4", "--webhook-url", "http://127.0.0.1:9999/hooks", stdout=io.StringIO())
    portal = Portal.objects.get(hub_id=7008)
    assert (portal.ten_second_limit, portal.search_per_second) == (100, 4)
    assert portal.webhook_url == "http://127.0.0.1:9999/hooks"


def _deal_links(portal, type_id):
    rows = Association.objects.filter(portal=portal, from_type="deals", type_id=type_id).values_list("from_id", "to_id")
    links: dict[int, list[int]] = {}
    for deal, target in rows:
        links.setdefault(deal, []).append(target)
    return links


def test_it_seeds_deals_with_one_primary_company_and_one_to_three_contacts():
    from sandbox.hubspot.seed import ensure_portal, seed_records

    portal = ensure_portal(7101)
    seed_records(portal, companies=20, contacts=120, deals=80, contact_company_share=1.0, seed=3)
    deals = set(CrmObject.objects.filter(portal=portal, object_type="deals").values_list("pk", flat=True))
    primaries, contacts = _deal_links(portal, 5), _deal_links(portal, 3)
    assert set(primaries) == deals and all(len(v) == 1 for v in primaries.values())
    assert set(contacts) == deals and all(1 <= len(v) <= 3 for v in contacts.values())
    assert Association.objects.filter(portal=portal, from_type="contacts", to_type="deals", type_id=4).count() == \
        sum(map(len, contacts.values()))
    with_company = Association.objects.filter(portal=portal, from_type="contacts", type_id=1)
    assert with_company.count() == 120
    # A deal's contacts work at its company when the company has contacts.
    company_of = dict(with_company.values_list("from_id", "to_id"))
    same = sum(all(company_of[c] == primaries[d][0] for c in cs) for d, cs in contacts.items())
    assert same > len(deals) * 0.8


def test_it_computes_the_seeded_contacts_deal_rollups_without_moving_their_modified_dates():
    from sandbox.hubspot.seed import ensure_portal, seed_records

    portal = ensure_portal(7102)
    seed_records(portal, companies=5, contacts=30, deals=40, seed=4)
    per_contact: dict[int, int] = {}
    for _deal, contact in Association.objects.filter(portal=portal, from_type="deals", type_id=3).values_list(
            "from_id", "to_id"):
        per_contact[contact] = per_contact.get(contact, 0) + 1
    for contact in CrmObject.objects.filter(portal=portal, object_type="contacts"):
        expected = per_contact.get(contact.pk)
        assert contact.properties.get("num_associated_deals") == (str(expected) if expected else None)
        assert contact.updated_at < contact.created_at + timedelta(days=31)


def test_it_seeds_the_same_records_for_the_same_seed():
    from sandbox.hubspot.seed import ensure_portal, seed_records

    shapes = []
    for hub_id in (7103, 7104):
        portal = ensure_portal(hub_id)
        seed_records(portal, companies=5, contacts=20, deals=10, seed=9)
        objs = CrmObject.objects.filter(portal=portal).order_by("pk")
        ids = {o.pk: i for i, o in enumerate(objs)}
        links = sorted((ids[a], ids[b], t) for a, b, t in Association.objects.filter(portal=portal).values_list(
            "from_id", "to_id", "type_id"))
        # Times are relative to today (seeded data is months old whenever it is seeded).
        props = [{k: v for k, v in o.properties.items() if k != "first_deal_created_date"} for o in objs]
        shapes.append((props, links))
    assert shapes[0] == shapes[1]


def test_it_seeds_deals_into_a_given_pipeline_and_refuses_an_unknown_one():
    from sandbox.hubspot.models import Pipeline
    from sandbox.hubspot.seed import EPOCH, ensure_portal, seed_records

    portal = ensure_portal(7105)
    Pipeline.objects.create(portal=portal, object_type="deals", pipeline_id="777", label="Partners", created_at=EPOCH,
                            updated_at=EPOCH, stages=[{"id": "77701", "label": "New", "displayOrder": 0,
                                                       "metadata": {"probability": "0.1", "isClosed": "false"}}])
    seed_records(portal, deals=5, deal_pipeline="777")
    deals = CrmObject.objects.filter(portal=portal, object_type="deals")
    assert {(d.properties["pipeline"], d.properties["dealstage"]) for d in deals} == {("777", "77701")}
    with pytest.raises(ValueError):
        seed_records(portal, deals=1, deal_pipeline="nope")


def test_it_takes_the_deal_options_from_the_command_line():
    from django.core.management.base import CommandError

    call_command("sandbox_seed", "hubspot", "--portal", "7106", "--companies", "3", "--contacts", "10",
                 "--deals", "4", "--contact-company-share", "1", "--deal-pipeline-limit", "2", stdout=io.StringIO())
    portal = Portal.objects.get(hub_id=7106)
    assert portal.deal_pipeline_limit == 2
    assert Association.objects.filter(portal=portal, from_type="contacts", type_id=1).count() == 10
    with pytest.raises(CommandError):
        call_command("sandbox_seed", "hubspot", "--portal", "7106", "--deals", "1", "--deal-pipeline", "nope",
                     stdout=io.StringIO())
    with pytest.raises(CommandError):
        call_command("sandbox_seed", "hubspot", "--portal", "7106", "--contact-company-share", "2",
                     stdout=io.StringIO())


def test_it_moves_seeded_deals_into_other_pipelines_and_recomputes_rollups_without_moving_dates():
    from sandbox.hubspot.models import Pipeline
    from sandbox.hubspot.seed import EPOCH, ensure_portal, move_deals, seed_records

    portal = ensure_portal(7107)
    seed_records(portal, companies=4, contacts=20, deals=15, seed=5)
    Pipeline.objects.create(portal=portal, object_type="deals", pipeline_id="888", label="Mirror", created_at=EPOCH,
                            updated_at=EPOCH, stages=[{"id": "88801", "label": "Won", "displayOrder": 0,
                                                       "metadata": {"probability": "1.0", "isClosed": "true"}}])
    before = dict(CrmObject.objects.filter(portal=portal).values_list("pk", "updated_at"))
    assert move_deals(portal, [("888", ["88801"])]) == 15
    deals = CrmObject.objects.filter(portal=portal, object_type="deals")
    assert {d.properties["dealstage"] for d in deals} == {"88801"}
    with_deals = CrmObject.objects.filter(portal=portal, object_type="contacts",
                                          properties__num_associated_deals__isnull=False)
    assert with_deals.exists()
    assert all(c.properties["lifecyclestage"] == "customer" and c.properties.get("total_revenue") for c in with_deals)
    assert dict(CrmObject.objects.filter(portal=portal).values_list("pk", "updated_at")) == before
    with pytest.raises(ValueError):
        move_deals(portal, [("888", ["nope"])])
