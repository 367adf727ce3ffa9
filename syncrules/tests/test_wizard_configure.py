"""Wizard step 2, Configure: direction, conflict winner, mappings, value maps, associations, deals."""

from dataclasses import replace

import pytest

from connectors.base import Option
from syncrules.models import FieldMapping, ObjectSync, PipelineMapping, StageMapping
from syncrules.tests.wizard_helpers import connect, start, url, user_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(client, apps):
    client.force_login(user_in("Sync editors"))
    a, b = connect(apps)
    return start(client, a, b)


def ids(sync, **filters):
    return list(sync.field_mappings.filter(**filters).values_list("pk", flat=True))


def test_it_shows_the_directions_in_the_apps_words_and_the_default_mappings(client, draft):
    html = client.get(url("configure", draft)).content.decode()
    assert "Data syncs between Marketing HubSpot and Sales Salesforce" in html
    assert "Data syncs only to Marketing HubSpot" in html and "Data syncs only to Sales Salesforce" in html
    assert "Email" in html and "Dropdown (options)" in html and "\u27f7" in html
    # Last modified is read-only on both sides: it is not a default, and offered as read-only
    assert "Last modified (read-only)" in html


def test_a_one_way_sync_defaults_the_winner_to_its_source(client, draft):
    client.post(url("configure", draft), {"direction": "to_a", "conflict_winner": "a", "_save": "1"})
    draft.refresh_from_db()
    assert draft.direction == "to_a" and draft.conflict_winner == "b"
    html = client.get(url("configure", draft)).content.decode()
    assert "never overrides the direction" in html and "\u2190" in html


def test_it_turns_mappings_off_and_on(client, draft):
    first, *rest = ids(draft)
    client.post(url("configure", draft), {"direction": "two_way", "conflict_winner": "a", "mapping_ids": [first, *rest],
                                          "enabled": rest, "_save": "1"})
    assert not FieldMapping.objects.get(pk=first).enabled
    assert all(FieldMapping.objects.filter(pk__in=rest).values_list("enabled", flat=True))


def test_it_adds_a_compatible_custom_mapping_and_removes_it(client, draft):
    response = client.post(url("configure", draft), {"add_a": "ha_score", "add_b": "sf_first", "_add": "1"})
    assert response.status_code == 302
    custom = draft.field_mappings.get(is_default=False)
    assert (custom.field_a, custom.field_b, custom.direction) == ("ha_score", "sf_first", "to_b")
    client.post(url("configure", draft), {"_remove": custom.pk})
    assert not draft.field_mappings.filter(is_default=False).exists()


@pytest.mark.parametrize("add_a, add_b, text", [
    ("ha_vip", "sf_birthday", "cannot be mapped to a date field"),
    ("ha_email", "sf_email", "are mapped already"),
    ("", "sf_email", "Choose a field of Marketing HubSpot"),
    ("ha_nope", "sf_email", "Choose a field of Marketing HubSpot"),
    ("ha_email", "sf_updated", "can only sync"),
])
def test_an_incompatible_or_unknown_pair_gets_a_clear_message(client, draft, add_a, add_b, text):
    if add_b == "sf_updated":
        draft.direction = "to_b"
        draft.save()
    response = client.post(url("configure", draft), {"add_a": add_a, "add_b": add_b, "_add": "1"})
    assert response.status_code == 400
    html = response.content.decode()
    assert text in html and "wz-field-error" in html


def test_a_default_mapping_cannot_be_removed_only_turned_off(client, draft):
    default = draft.field_mappings.filter(is_default=True).first()
    client.post(url("configure", draft), {"_remove": default.pk})
    assert FieldMapping.objects.filter(pk=default.pk).exists()


def test_the_value_map_editor_is_prefilled_and_saves_the_choice(client, apps, draft):
    stage = draft.field_mappings.get(field_a="ha_stage")
    specs = apps.a.schemas["contacts"]
    index = next(i for i, s in enumerate(specs) if s.name == "ha_stage")
    specs[index] = replace(specs[index], options=(Option("ha_lead", "Lead"), Option("ha_partner", "Partner")))
    page = client.get(url("configure", draft).replace("configure/", f"configure/values/{stage.pk}/"))
    html = page.content.decode()
    assert page.status_code == 200 and '<option value="sf_lead" selected>' in html
    values_url = url("configure", draft) + f"values/{stage.pk}/"
    client.post(values_url, {"a_to_b_0": "sf_customer", "a_to_b_1": "", "b_to_a_0": "ha_lead", "b_to_a_1": "nope"})
    stage.refresh_from_db()
    assert stage.value_map == {"a_to_b": {"ha_lead": "sf_customer"}, "b_to_a": {"sf_lead": "ha_lead"}}
    html = client.get(values_url).content.decode()
    assert 'Unmapped options of Marketing HubSpot:</strong> <span class="wz-type">(as last saved)</span> Partner' in html
    assert "Property value isn&#x27;t valid" in html
    assert "2 options unmapped" in client.get(url("configure", draft)).content.decode()


def test_a_value_map_of_a_mapping_of_another_sync_or_a_text_pair_is_refused(client, draft):
    email = draft.field_mappings.get(field_a="ha_email")
    assert client.get(url("configure", draft) + f"values/{email.pk}/").status_code == 302
    assert client.get(url("configure", draft) + "values/999999/").status_code == 302


def test_the_association_view_says_which_associations_are_inactive(client, draft):
    html = client.get(url("configure", draft) + "?view=associations").content.decode()
    assert "Contacts &rarr; Companies" in html
    assert "Inactive: no companies sync runs between Marketing HubSpot and Sales Salesforce" in html
    ObjectSync.objects.create(connection_a=draft.connection_a, connection_b=draft.connection_b,
                              object_type="companies", state="active")
    html = client.get(url("configure", draft) + "?view=associations").content.decode()
    assert "Inactive" not in html and "Active." in html


def test_next_goes_to_limit_and_unlocks_it(client, draft):
    assert client.get(url("limit", draft)).status_code == 302  # not reached yet
    response = client.post(url("configure", draft), {"direction": "two_way", "conflict_winner": "a", "_next": "1"})
    assert response["Location"] == url("limit", draft)
    assert client.get(url("limit", draft)).status_code == 200


def deal_draft(client, apps):
    """A deal draft past its prerequisites, on Configure."""
    client.force_login(user_in("Sync editors"))
    a, b = connect(apps)
    sync = start(client, a, b, "deals")
    client.post(url("select", sync), {"connection_a": a.pk, "connection_b": b.pk, "object_type": "deals"})
    return sync


def test_deals_pipelines_are_mapped_auto_mapped_and_edited(client, apps):
    sync = deal_draft(client, apps)
    html = client.get(url("configure", sync)).content.decode()
    assert "Map a pipeline" in html and "sync into a fresh pipeline" in html
    client.post(url("configure", sync), {"pipeline_a": "default", "pipeline_b": "master", "_map_pipelines": "1"})
    pm = PipelineMapping.objects.get(object_sync=sync)
    pairs = dict(StageMapping.objects.filter(pipeline_mapping=pm).values_list("stage_a", "stage_b"))
    assert pairs["closedwon"] == "Closed Won" and pairs["closedlost"] == "Closed Lost"
    html = client.get(url("configure", sync)).content.decode()
    assert "Deals in unmapped stages do not sync" in html
    client.post(url("configure", sync), {"pipeline_ids": pm.pk, "stage_%d_0" % pm.pk: "Prospecting", "_save": "1"})
    assert StageMapping.objects.get(pipeline_mapping=pm, stage_a="appointmentscheduled").stage_b == "Prospecting"
    assert not StageMapping.objects.filter(pipeline_mapping=pm, stage_a="closedwon").exists()  # left blank
    client.post(url("configure", sync), {"_automap": pm.pk})
    assert StageMapping.objects.filter(pipeline_mapping=pm, stage_a="closedwon").exists()


def test_the_sync_deals_switch_shows_for_an_app_that_asks_for_it(client, apps):
    apps.b.deal_switch = True
    sync = deal_draft(client, apps)
    html = client.get(url("configure", sync)).content.decode()
    assert "Sync deals" in html and "Your plan allows 15 deal pipelines" in html
    client.post(url("configure", sync), {"sync_deals": "on", "_save": "1"})
    sync.refresh_from_db()
    assert sync.sync_deals


def test_an_app_without_readable_stages_says_deals_cannot_sync(client, apps):
    apps.b.pipelines = []
    sync = deal_draft(client, apps)
    html = client.get(url("configure", sync)).content.decode()
    assert "Sales Salesforce has no deal stages the connected user can read, so deals cannot sync." in html


def test_an_app_failing_mid_wizard_gives_a_message_and_keeps_the_draft(client, apps, draft):
    from connectors.errors import ConnectorError, ErrorCategory

    apps.b.fail_calls.append(ConnectorError(ErrorCategory.AUTHENTICATION_EXPIRED, "The token has expired"))
    page = client.get(url("configure", draft))
    html = page.content.decode()
    assert page.status_code == 200 and "Sales Salesforce could not be read" in html and "token has expired" in html
    apps.b.fail_calls.append(ConnectorError(ErrorCategory.APP_UNAVAILABLE, "Service unavailable"))
    client.post(url("configure", draft), {"direction": "to_a", "_next": "1"})
    draft.refresh_from_db()
    assert draft.direction == "two_way" and draft.wizard_step == "configure" and draft.field_mappings.count() == 7


def test_option_suggestions_go_by_value_then_label_then_similar_text():
    from connectors.base import FieldSpec, FieldType
    from syncrules.engine.mappings import suggest_options

    source = FieldSpec("s", "S", FieldType.ENUMERATION, options=(
        Option("web", "Web"), Option("PHONE", "Phone inquiry"), Option("x1", "Partner  referral"),
        Option("trade_show", "Trade show"), Option("zzz", "Carrier pigeon")))
    target = FieldSpec("t", "T", FieldType.ENUMERATION, options=(
        Option("Web", "Website"), Option("phone", "Phone"), Option("Partner Referral", "Partner Referral"),
        Option("Trade Shows", "Trade Shows")))
    assert suggest_options(source, target) == {
        "web": "Web", "PHONE": "phone", "x1": "Partner Referral", "trade_show": "Trade Shows"}


def test_mirroring_record_types_creates_and_maps_pipelines_within_the_limit(client, apps):
    apps.b.deal_switch = True
    apps.b.mirror_pipelines = True
    sync = deal_draft(client, apps)
    response = client.post(url("configure", sync), {"sync_deals": "on", "_mirror": "1"}, follow=True)
    html = response.content.decode()
    assert "Created 1 pipeline(s) and mapped 1." in html
    assert "Memory - Standard pipeline" in html
    assert PipelineMapping.objects.filter(object_sync=sync).count() == 1
