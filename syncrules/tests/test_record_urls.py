"""Links that open a record in its app: HubSpot's and Salesforce's, real and sandbox."""

import pytest

from connectors.base import COMPANIES, CONTACTS, DEALS, PRODUCTS
from connectors.hubspot.client import PUBLIC_API
from connectors.hubspot.connector import HubSpotConnector
from connectors.salesforce.connector import SalesforceConnector
from syncrules.engine.api import record_urls
from syncrules.engine.helpers import http_calls
from syncrules.models import LinkStatus, RecordLink
from syncrules.tests.factories import make_connection, make_sync

SANDBOX = "http://127.0.0.1:8000/sandbox/hubspot"


def test_hubspot_links_into_its_app_for_the_public_api():
    connector = HubSpotConnector(PUBLIC_API, {"access_token": "pat", "hub_id": 123})
    assert connector.record_url(CONTACTS, "5") == "https://app.hubspot.com/contacts/123/record/0-1/5"
    assert connector.record_url(DEALS, "9") == "https://app.hubspot.com/contacts/123/record/0-3/9"
    europe = HubSpotConnector(PUBLIC_API, {"access_token": "pat", "hub_id": 7, "ui_domain": "app-eu1.hubspot.com"})
    assert europe.record_url(PRODUCTS, "1") == "https://app-eu1.hubspot.com/contacts/7/record/0-7/1"
    assert http_calls(connector) == 0


def test_hubspot_links_into_the_sandbox_when_its_base_url_is_the_sandboxs():
    connector = HubSpotConnector(SANDBOX + "/", {"access_token": "pat", "hub_id": 5001})
    assert connector.record_url(COMPANIES, "42") == f"{SANDBOX}/contacts/5001/record/0-2/42"


def test_hubspot_has_no_link_without_a_hub_id_an_app_it_knows_or_a_known_type():
    assert HubSpotConnector(PUBLIC_API, {"access_token": "pat"}).record_url(CONTACTS, "5") == ""
    proxy = HubSpotConnector("https://hubspot-proxy.example.com", {"access_token": "pat", "hub_id": 1})
    assert proxy.record_url(CONTACTS, "5") == ""
    told = HubSpotConnector("https://hubspot-proxy.example.com", {"access_token": "pat", "hub_id": 1},
                            options={"app_url": "https://app.hubspot.com/"})
    assert told.record_url(CONTACTS, "5") == "https://app.hubspot.com/contacts/1/record/0-1/5"
    assert HubSpotConnector(PUBLIC_API, {"access_token": "pat", "hub_id": 1}).record_url("invoices", "5") == ""


def test_salesforce_links_to_the_lightning_page_of_its_instance():
    connector = SalesforceConnector("https://login.salesforce.com", {
        "access_token": "t", "instance_url": "https://acme.my.salesforce.com"})
    assert connector.record_url(DEALS, "006A") == "https://acme.my.salesforce.com/lightning/r/Opportunity/006A/view"
    assert connector.record_url(COMPANIES, "001A") == "https://acme.my.salesforce.com/lightning/r/Account/001A/view"
    leads = SalesforceConnector("https://login.salesforce.com", {"access_token": "t", "instance_url": "https://x.test"},
                                options={"contacts_object": "Lead"})
    assert leads.record_url(CONTACTS, "00Q1") == "https://x.test/lightning/r/Lead/00Q1/view"
    assert connector.record_url(PRODUCTS, "01t") == "" and http_calls(connector) == 0


@pytest.mark.django_db
def test_record_urls_gives_both_sides_and_none_for_a_deleted_or_missing_record():
    sync = make_sync(COMPANIES, connection_a=make_connection(
        "hubspot", "Portal", base_url=SANDBOX, credentials={"access_token": "pat", "hub_id": 5001}),
        connection_b=make_connection("salesforce", "Org", credentials={
            "access_token": "t", "instance_url": "https://acme.my.salesforce.com"}))
    link = RecordLink.objects.create(object_sync=sync, id_a="42", id_b="001A")
    assert record_urls(link) == (f"{SANDBOX}/contacts/5001/record/0-2/42",
                                 "https://acme.my.salesforce.com/lightning/r/Account/001A/view")
    link.status = LinkStatus.DELETED_B
    cache = {}
    assert record_urls(link, cache) == (f"{SANDBOX}/contacts/5001/record/0-2/42", "")
    assert set(cache) == {sync.connection_a_id}
    excluded = RecordLink.objects.create(object_sync=sync, id_b="001B", status=LinkStatus.EXCLUDED)
    assert record_urls(excluded, cache)[0] == ""


@pytest.mark.django_db
def test_record_urls_of_a_connection_of_an_unknown_kind_are_empty():
    sync = make_sync(CONTACTS, connection_a=make_connection("gone-app", "Old"))
    link = RecordLink.objects.create(object_sync=sync, id_a="1", id_b="2")
    assert record_urls(link)[0] == ""
