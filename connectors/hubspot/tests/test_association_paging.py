"""Association reads follow HubSpot's paging: at most 500 associations per record and page."""

from __future__ import annotations

from sandbox.hubspot.models import Association, CrmObject
from sandbox.hubspot.seed import seed_records


def _deals_and_contacts(portal, contacts: int) -> tuple[str, str, list[str]]:
    seed_records(portal, deals=2, contacts=contacts, deal_contacts=(0, 0))
    crowded, lonely = [str(pk) for pk in CrmObject.objects.filter(portal=portal, object_type="deals")
                       .order_by("pk").values_list("pk", flat=True)]
    contact_ids = list(CrmObject.objects.filter(portal=portal, object_type="contacts").values_list("pk", flat=True))
    rows = []
    for contact in contact_ids:
        rows.append(Association(portal=portal, from_type="deals", from_id=int(crowded), to_type="contacts",
                                to_id=contact, type_id=3))
        rows.append(Association(portal=portal, from_type="contacts", from_id=contact, to_type="deals",
                                to_id=int(crowded), type_id=4))
    Association.objects.bulk_create(rows)
    return crowded, lonely, sorted(str(c) for c in contact_ids)


def test_a_deal_with_1200_contacts_is_read_with_every_one_of_them_over_three_pages(portal, hubspot):
    crowded, lonely, contacts = _deals_and_contacts(portal, 1200)
    before = hubspot.client.calls
    found = hubspot.read_associations("deals", [crowded, lonely], "contacts")
    assert sorted(found[crowded]) == contacts
    assert found.get(lonely, []) == []
    assert hubspot.client.calls - before == 3  # 500 + 500 + 200, the next pages asked for that deal alone


def test_a_batch_read_of_records_carries_all_their_associations(portal, hubspot):
    crowded, lonely, contacts = _deals_and_contacts(portal, 1200)
    records = hubspot.read("deals", [crowded, lonely])
    assert sorted(records[crowded].associations["contacts"]) == contacts
    assert records[lonely].associations["contacts"] == []
