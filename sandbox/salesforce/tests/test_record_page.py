"""The read-only Lightning record page."""

import pytest
from django.test import Client

from sandbox.salesforce.models import Record
from sandbox.salesforce.tests.conftest import BASE

pytestmark = pytest.mark.django_db


def test_it_shows_a_records_fields_with_names_as_text(org):
    contact = Record.objects.filter(org=org.org, sobject="Contact").first()
    contact.data = {**contact.data, "FirstName": "<script>alert(1)</script>", "LastName": "Lee"}
    contact.save()
    response = Client().get(f"{BASE}/lightning/r/Contact/{contact.sf_id}/view")
    body = response.content.decode()
    assert response.status_code == 200 and contact.sf_id in body
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;alert(1)&lt;/script&gt; Lee" in body


def test_accounts_and_opportunities_show_their_name(org):
    for sobject in ("Account", "Opportunity"):
        record = Record.objects.filter(org=org.org, sobject=sobject).first()
        response = Client().get(f"{BASE}/lightning/r/{sobject}/{record.sf_id}/view")
        assert response.status_code == 200 and record.data["Name"] in response.content.decode()


def test_unknown_ids_objects_and_deleted_records_are_404(org):
    contact = Record.objects.filter(org=org.org, sobject="Contact").first()
    client = Client()
    assert client.get(f"{BASE}/lightning/r/Contact/003000000000000AAA/view").status_code == 404
    assert client.get(f"{BASE}/lightning/r/Account/{contact.sf_id}/view").status_code == 404
    assert client.get(f"{BASE}/lightning/r/Contact/<x>/view").status_code == 404
    contact.is_deleted = True
    contact.save()
    assert client.get(f"{BASE}/lightning/r/Contact/{contact.sf_id}/view").status_code == 404
