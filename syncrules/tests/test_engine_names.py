"""Record links keep each side's display name and a match key, from values the run already has."""

import pytest

from connectors.base import COMPANIES, CONTACTS, DEALS, DefaultField
from syncrules.engine import run_sync
from syncrules.engine.names import NameFields, shorten
from syncrules.models import RecordLink
from syncrules.tests.factories import make_memory_sync

C = CONTACTS


def fields(kind, **mapping):
    return NameFields.from_defaults(kind, [DefaultField(k, f) for k, f in mapping.items()])


def test_it_names_a_contact_by_first_and_last_name_or_else_its_email():
    names = fields(C, email="e", first_name="f", last_name="l", phone="p")
    assert names.display_name({"f": " Ann ", "l": "Lee", "e": "ann@x.com"}) == "Ann Lee"
    assert names.display_name({"l": "Lee"}) == "Lee"
    assert names.display_name({"e": "Ann@X.com"}) == "Ann@X.com"
    assert names.match_key({"e": " Ann@X.Com "}) == "ann@x.com"
    assert "phone" not in names.fields


def test_it_names_a_company_with_its_domain_and_keys_it_by_domain_or_else_name():
    names = fields(COMPANIES, name="n", domain="d")
    assert names.display_name({"n": "Acme", "d": "acme.com"}) == "Acme (acme.com)"
    assert names.display_name({"d": "acme.com"}) == "acme.com"
    assert names.match_key({"n": "Acme", "d": "https://www.Acme.com/about"}) == "acme.com"
    assert names.match_key({"n": "  ACME   Corp "}) == "acme corp"


def test_it_names_a_deal_by_its_name_and_gives_it_no_match_key():
    names = fields(DEALS, deal_name="dn")
    assert names.display_name({"dn": "Big deal"}) == "Big deal" and names.match_key({"dn": "Big deal"}) == ""


def test_it_cuts_long_values_to_the_columns_lengths():
    contact = fields(C, first_name="f", email="e")
    assert len(contact.display_name({"f": "x" * 500})) == 200 and contact.display_name({"f": "x" * 500}).endswith("…")
    assert len(contact.match_key({"e": "a" * 300 + "@x.com"})) == 255
    company = fields(COMPANIES, name="n", domain="d")
    assert len(company.display_name({"n": "y" * 500, "d": "z" * 100 + ".com"})) <= 200
    assert shorten("abc", 3) == "abc" and shorten("abcd", 3) == "ab…"


def test_it_ignores_fields_the_app_does_not_have():
    names = NameFields.from_defaults(C, [DefaultField("email", "Email")], known={"OtherField"})
    assert names.fields == {} and names.display_name({"Email": "a@b.co"}) == ""


@pytest.mark.django_db
def test_a_run_names_created_matched_and_excluded_links_without_extra_calls(apps):
    ann_a = apps.a.create(C, email="Ann@Example.com", first="Ann", last="Lee")
    apps.b.create(C, email="ann@example.com", last="Lee")
    bob_a = apps.a.create(C, email="bob@example.com", first="Bob")
    nobody = apps.b.create(C, first="No", last="Email")
    sync = make_memory_sync(apps)
    run_sync(sync.pk)
    ann = RecordLink.objects.get(object_sync=sync, id_a=ann_a)
    assert (ann.name_a, ann.name_b, ann.match_key) == ("Ann Lee", "Ann Lee", "ann@example.com")
    bob = RecordLink.objects.get(object_sync=sync, id_a=bob_a)
    assert (bob.name_a, bob.name_b, bob.match_key) == ("Bob", "Bob", "bob@example.com")
    excluded = RecordLink.objects.get(object_sync=sync, id_b=nobody)
    assert (excluded.name_a, excluded.name_b, excluded.match_key) == ("", "No Email", "")


@pytest.mark.django_db
def test_a_name_changed_outside_the_mappings_is_refreshed_without_a_write(apps):
    ann_a = apps.a.create(C, email="ann@example.com", first="Ann", last="Lee")
    sync = make_memory_sync(apps)
    sync.field_mappings.exclude(field_a="ha_email").delete()
    run_sync(sync.pk)
    apps.a.edit(C, ann_a, first="Anna")
    written = apps.written
    run_sync(sync.pk)
    assert apps.written == written
    assert RecordLink.objects.get(object_sync=sync, id_a=ann_a).name_a == "Anna Lee"
