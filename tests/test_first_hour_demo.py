"""The demo (syncrules/demo, `manage.py demo`) and the admin index's Getting started."""

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from django.urls import reverse

from connectors.models import Connection
from sandbox.hubspot.models import CrmObject, Portal
from sandbox.salesforce.models import Org, Record
from syncrules import demo
from syncrules.models import ObjectSync, SyncRun

pytestmark = pytest.mark.django_db


def seed_small():
    call_command("demo", "--if-empty", "--small", "--site-url", "http://testserver")


def test_the_demo_seeds_both_sandboxes_with_overlapping_data_and_its_deliberate_problems():
    seed_small()
    portal, org = Portal.objects.get(hub_id=demo.DEMO_HUB_ID), Org.objects.get(name=demo.DEMO_ORG)
    hub = CrmObject.objects.filter(portal=portal)
    assert hub.filter(object_type="contacts").count() == demo.SMALL.hubspot_contacts + 2
    assert hub.filter(object_type="companies").count() == demo.SMALL.companies + 1
    # Deals in both pipelines, opportunities of two record types.
    pipelines = {props["pipeline"] for props in hub.filter(object_type="deals").values_list("properties", flat=True)}
    assert pipelines == {"default", demo.PARTNER_PIPELINE}
    opportunities = Record.objects.filter(org=org, sobject="Opportunity")
    assert len({r.data.get("RecordTypeId") for r in opportunities}) == 2
    # Contacts shared by email.
    hub_emails = set(hub.filter(object_type="contacts").values_list("email", flat=True))
    sf_emails = {r.data.get("Email") for r in Record.objects.filter(org=org, sobject="Contact")}
    assert len(hub_emails & sf_emails) == demo.SMALL.shared_contacts
    # The problems a user meets on the health pages.
    names = [p["name"] for p in hub.filter(object_type="companies").values_list("properties", flat=True)]
    assert names.count(demo.DUPLICATE_COMPANY) == 2
    assert hub.filter(object_type="contacts", email=demo.UNUSABLE_EMAIL).exists()
    assert Record.objects.filter(org=org, sobject="Contact", data__Email=demo.INVALID_EMAIL).exists()
    assert hub.filter(object_type="contacts", properties__firstname=demo.LONG_FIRST_NAME).exists()
    assert len(demo.LONG_FIRST_NAME) > 40
    # Two connections to the sandboxes served by the site.
    assert sorted(Connection.objects.values_list("name", "base_url")) == [
        (demo.HUBSPOT_NAME, "http://testserver/sandbox/hubspot"),
        (demo.SALESFORCE_NAME, "http://testserver/sandbox/salesforce"),
    ]


def test_the_demo_seeds_nothing_when_the_database_has_a_connection_already():
    Connection.objects.create(kind="hubspot", name="Mine", credentials={"access_token": "x"})
    seed_small()
    assert not Portal.objects.filter(hub_id=demo.DEMO_HUB_ID).exists()
    assert list(Connection.objects.values_list("name", flat=True)) == ["Mine"]


def test_a_second_start_seeds_nothing_more():
    seed_small()
    seed_small()
    assert Connection.objects.count() == 2
    portal = Portal.objects.get(hub_id=demo.DEMO_HUB_ID)
    assert CrmObject.objects.filter(portal=portal, object_type="contacts").count() == demo.SMALL.hubspot_contacts + 2


def test_the_demo_setting_turns_it_off(settings, capsys):
    settings.DEMO_ENABLED = False
    seed_small()
    assert not Connection.objects.exists()
    assert "DEMO_ENABLED=false" in capsys.readouterr().out


def test_nothing_of_the_demo_runs_when_the_sandboxes_are_disabled(settings):
    settings.SANDBOX_ENABLED = False
    seed_small()  # what dev.py runs: silently nothing
    assert not Connection.objects.exists() and not Portal.objects.exists()
    for args in (["--reset"], ["--check"], []):
        with pytest.raises(CommandError, match="SANDBOX_ENABLED=false"):
            call_command("demo", *args)
    with pytest.raises(demo.DemoRefused):
        demo.seed(scale=demo.SMALL)


def test_demo_reset_starts_over_and_removes_the_demo_syncs():
    seed_small()
    a, b = Connection.objects.order_by("kind")
    ObjectSync.objects.create(connection_a=a, connection_b=b, object_type="contacts", state=ObjectSync.State.ACTIVE)
    with pytest.raises(CommandError, match="--reset"):
        call_command("demo", "--small")
    call_command("demo", "--reset", "--small", "--site-url", "http://testserver")
    assert not ObjectSync.objects.exists()
    assert Connection.objects.count() == 2 and Portal.objects.count() == 1 and Org.objects.count() == 1
    portal = Portal.objects.get(hub_id=demo.DEMO_HUB_ID)
    assert CrmObject.objects.filter(portal=portal, object_type="contacts").count() == demo.SMALL.hubspot_contacts + 2


def test_checking_without_a_demo_says_there_is_none():
    with pytest.raises(CommandError, match="no demo connection"):
        call_command("demo", "--check")


def test_a_failing_demo_connection_fails_the_check():
    seed_small()  # testserver does not answer HTTP: both connections fail their check
    with pytest.raises(CommandError, match="Demo connection check failed"):
        call_command("demo", "--check")
    assert set(Connection.objects.values_list("status", flat=True)) == {Connection.Status.FAILING}


# --- Getting started --------------------------------------------------------------------------
def staff_in(group: str) -> User:
    user = User.objects.create_user(group.replace(" ", "").lower(), password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


def getting_started(client) -> str:
    html = client.get(reverse("admin:index")).content.decode()
    start = html.find('id="getting-started"')
    return html[start: html.find("</div>", start)] if start >= 0 else ""


def test_getting_started_walks_a_sync_admin_through_the_three_steps(client, admin_user):
    client.force_login(admin_user)
    box = getting_started(client)
    assert "No app connected yet" in box and box.count("gs-current") == 1
    assert reverse("admin:connectors_connection_changelist") in box
    assert reverse("admin:syncrules_objectsync_wizard") in box and reverse("health:overview") in box
    seed_small()
    Connection.objects.update(status=Connection.Status.CONNECTED)
    box = getting_started(client)
    assert f"Connected: {demo.HUBSPOT_NAME}, {demo.SALESFORCE_NAME}" in box
    assert box.count("(done)") == 1
    hubspot, salesforce = Connection.objects.order_by("pk")
    # The wizard opens with the two apps and contacts chosen.
    wizard = reverse("admin:syncrules_objectsync_wizard") + f"?a={hubspot.pk}&amp;b={salesforce.pk}&amp;type=contacts"
    assert wizard in box
    a, b = Connection.objects.order_by("kind")
    sync = ObjectSync.objects.create(connection_a=a, connection_b=b, object_type="contacts",
                                     state=ObjectSync.State.ACTIVE)
    box = getting_started(client)
    assert "1 sync set up" in box and box.count("(done)") == 2
    SyncRun.objects.create(object_sync=sync, kind=SyncRun.Kind.INITIAL, status=SyncRun.Status.RUNNING)
    assert getting_started(client)  # still running: not yet
    SyncRun.objects.update(status=SyncRun.Status.SUCCEEDED)
    assert getting_started(client) == ""  # hidden once a sync has run
    # ... and back from the user menu's link.
    html = client.get(reverse("admin:index")).content.decode()
    link = reverse("admin:index") + "?getting_started=1#getting-started"
    assert f'href="{link}">Getting started</a>' in html
    again = client.get(link.split("#")[0]).content.decode()
    assert 'id="getting-started"' in again and again.count("(done)") == 3


def test_getting_started_is_only_for_users_who_may_set_up_syncs(client):
    client.force_login(staff_in("Support"))
    html = client.get(reverse("admin:index")).content.decode()
    assert 'id="getting-started"' not in html and "Getting started</a>" not in html
    client.force_login(staff_in("Sync editors"))
    html = client.get(reverse("admin:index")).content.decode()
    assert 'id="getting-started"' in html and "Getting started</a>" in html


# --- the user guide ---------------------------------------------------------------------------
def test_the_committed_user_guide_is_the_generated_one():
    from syncrules.demo import guide

    assert guide.PATH.read_text() == guide.render(), "docs/guide.md is stale: run `manage.py demo --write-guide`"


def test_the_user_guide_names_every_error_category_and_role():
    from connectors.errors import ErrorCategory
    from syncrules.demo import guide
    from syncrules.permissions import ROLES

    text = guide.render()
    for category in ErrorCategory:
        assert f"| {category.label} |" in text
    for role in ROLES:
        assert f"| {role.name} | {role.can} |" in text
