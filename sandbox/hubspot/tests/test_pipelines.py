"""Deal pipelines: the plan's limit, HubSpot-style ids, stage metadata, archiving."""

from __future__ import annotations

import pytest

from sandbox.hubspot.models import Pipeline

pytestmark = pytest.mark.django_db


def _body(label, *stages):
    return {"label": label, "stages": [
        {"label": name, "metadata": {"probability": prob, **({"isClosed": "true"} if closed else {})}}
        for name, prob, closed in stages or [("New", "0.1", False), ("Won", "1.0", True)]]}


def test_it_allows_fifteen_deal_pipelines_by_default_as_a_professional_plan(portal):
    assert portal.deal_pipeline_limit == 15


def test_it_refuses_a_deal_pipeline_past_the_portals_limit(api, portal):
    portal.deal_pipeline_limit = 2
    portal.save()
    assert api("POST", "/crm/v3/pipelines/deals", _body("Second")).status_code == 201
    refused = api("POST", "/crm/v3/pipelines/deals", _body("Third"))
    assert refused.status_code == 400
    assert refused.data["category"] == "VALIDATION_ERROR"
    assert refused.data["subCategory"] == "PIPELINE_LIMIT_EXCEEDED"
    assert "at most 2 deal pipelines" in refused.data["message"]
    assert Pipeline.objects.filter(portal=portal, archived=False).count() == 2


def test_it_frees_a_slot_when_a_pipeline_is_archived(api, portal):
    portal.deal_pipeline_limit = 2
    portal.save()
    second = api("POST", "/crm/v3/pipelines/deals", _body("Second")).data["id"]
    assert api("DELETE", f"/crm/v3/pipelines/deals/{second}").status_code == 204
    assert api("GET", f"/crm/v3/pipelines/deals/{second}").status_code == 404
    assert api("POST", "/crm/v3/pipelines/deals", _body("Third")).status_code == 201


def test_it_refuses_to_archive_a_pipeline_in_use_when_asked_to_check_references(api):
    created = api("POST", "/crm/v3/pipelines/deals", _body("Used")).data
    api("POST", "/crm/v3/objects/deals", {"properties": {"dealname": "D", "pipeline": created["id"],
                                                         "dealstage": created["stages"][0]["id"]}})
    path = f"/crm/v3/pipelines/deals/{created['id']}?validateReferencesBeforeDelete=true"
    assert api("DELETE", path).status_code == 400
    assert api("GET", f"/crm/v3/pipelines/deals/{created['id']}").status_code == 200


def test_it_gives_custom_pipelines_and_their_stages_unique_numeric_ids(api):
    first = api("POST", "/crm/v3/pipelines/deals", _body("One")).data
    second = api("POST", "/crm/v3/pipelines/deals", _body("Two")).data
    assert first["id"].isdigit() and second["id"].isdigit() and first["id"] != second["id"]
    stage_ids = [s["id"] for p in (first, second) for s in p["stages"]]
    assert all(i.isdigit() for i in stage_ids)
    assert len(set(stage_ids)) == 4


def test_it_keeps_stage_metadata_as_strings_with_open_stages_not_closed(api):
    created = api("POST", "/crm/v3/pipelines/deals", _body("Meta", ("Open", "0.3", False), ("Lost", "0.0", True)))
    metadata = {s["label"]: s["metadata"] for s in created.data["stages"]}
    assert metadata == {"Open": {"probability": "0.3", "isClosed": "false"},
                        "Lost": {"probability": "0.0", "isClosed": "true"}}


def test_it_refuses_stages_that_are_not_objects_or_repeat_an_id(api):
    assert api("POST", "/crm/v3/pipelines/deals", {"label": "X", "stages": ["New"]}).status_code == 400
    body = _body("Y")
    for stage in body["stages"]:
        stage["stageId"] = "same"
    assert api("POST", "/crm/v3/pipelines/deals", body).status_code == 400


def test_it_needs_the_schema_write_scope_to_create_or_archive_a_pipeline(api, portal):
    portal.scopes = ["crm.objects.deals.read", "crm.schemas.deals.read"]
    portal.save()
    assert api("POST", "/crm/v3/pipelines/deals", _body("Z")).status_code == 403
    assert api("DELETE", "/crm/v3/pipelines/deals/default").status_code == 403
