"""A person chooses what a field mapping does with a value the other app cannot hold, in the
admin's object sync page, and sees the fields a record did not carry."""

import os

import pytest

from connectors.models import Connection
from syncrules.models import FieldMapping, LinkStatus, ObjectSync, RecordLink

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = os.environ.get("SHOTS_DIR", "")


@pytest.fixture
def company_sync(db):
    hubspot = Connection.objects.create(kind="hubspot", name="Marketing portal (HubSpot)", base_url="http://hubspot.invalid")
    salesforce = Connection.objects.create(kind="salesforce", name="Sales org (Salesforce)", base_url="http://sf.invalid")
    sync = ObjectSync.objects.create(connection_a=hubspot, connection_b=salesforce, object_type="companies",
                                     name="Companies: Marketing portal <-> Sales org", state=ObjectSync.State.ACTIVE)
    for position, (a, b) in enumerate([("name", "Name"), ("domain", "Website"), ("phone", "Phone"),
                                       ("industry", "Industry"), ("city", "BillingCity")]):
        FieldMapping.objects.create(object_sync=sync, field_a=a, field_b=b, position=position, is_default=True,
                                    value_map={"a_to_b": {"COMPUTER_SOFTWARE": "Technology"}} if a == "industry" else {})
    links = [RecordLink(object_sync=sync, id_a=str(1000 + i), id_b=f"001{i:015d}", status=LinkStatus.IN_SYNC)
             for i in range(300)]
    for link in links[:40]:
        link.set_warnings([{"field": "industry", "value": "Manufacturing", "side": "a", "mapping": "industry|Industry",
                            "category": "invalid_property_value",
                            "reason": "'Manufacturing' has no matching option in Industry: add the option or map it "
                                      "in the field mapping's value map."}])
    RecordLink.objects.bulk_create(links)
    return sync


def test_the_policy_of_a_mapping_is_chosen_and_saved_on_the_sync_page(admin_login, company_sync):
    page = admin_login(f"/admin/syncrules/objectsync/{company_sync.pk}/change/")
    page.set_viewport_size({"width": 1366, "height": 800})
    industry = FieldMapping.objects.get(object_sync=company_sync, field_a="industry")
    index = list(company_sync.field_mappings.order_by("position", "pk")).index(industry)
    select = page.locator(f"select[name=field_mappings-{index}-policy]")
    select.wait_for()  # the login's redirect may still be loading the page
    options = select.locator("option").all_inner_texts()
    assert options[0].startswith("Skip the field") and len(options) == 5
    assert select.input_value() == "skip_field"
    select.select_option("fallback_option")
    page.fill(f"input[name=field_mappings-{index}-fallback_option]", "Other")
    page.evaluate("window.scrollTo(0, document.querySelector('#field_mappings-group').offsetTop - 40)")
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/objectsync-mapping-policies.png")
    page.click("input[name=_continue]")
    page.wait_for_selector("text=was changed successfully")
    industry.refresh_from_db()
    assert (industry.policy, industry.fallback_option) == ("fallback_option", "Other")

    warned = RecordLink.objects.filter(object_sync=company_sync, has_warnings=True).first()
    page.goto(page.url.split("/admin/")[0] + f"/admin/syncrules/recordlink/{warned.pk}/change/")
    assert "has no matching option in Industry" in page.content() and "Traceback" not in page.content()
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/recordlink-warnings.png", full_page=True)
