"""Batch endpoints: the 100-input limit, status codes, 207 partial results, upsert, archive."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def _create(api, n, prefix="c"):
    inputs = [{"properties": {"email": f"{prefix}{i}@x.com"}} for i in range(n)]
    return api("POST", "/crm/v3/objects/contacts/batch/create", {"inputs": inputs})


def test_it_creates_a_batch_with_201_and_batch_status_fields(api):
    response = _create(api, 3)
    assert response.status_code == 201
    assert response.data["status"] == "COMPLETE"
    assert {"startedAt", "completedAt", "results"} <= set(response.data)
    assert len(response.data["results"]) == 3


def test_it_refuses_more_than_100_inputs(api):
    response = _create(api, 101)
    assert response.status_code == 400
    assert response.data["category"] == "VALIDATION_ERROR"
    assert "maximum number of inputs" in response.data["message"]


def test_it_fails_a_whole_create_batch_without_trace_ids(api):
    inputs = [{"properties": {"email": "ok@x.com"}}, {"properties": {"email": "bad"}}]
    response = api("POST", "/crm/v3/objects/contacts/batch/create", {"inputs": inputs})
    assert response.status_code == 400
    assert api("GET", "/crm/v3/objects/contacts").data["results"] == []


def test_it_answers_207_with_per_input_errors_when_trace_ids_are_sent(api):
    existing = api("POST", "/crm/v3/objects/contacts", {"properties": {"email": "taken@x.com"}}).data
    inputs = [{"properties": {"email": "ok@x.com"}, "objectWriteTraceId": "t1"},
              {"properties": {"email": "bad"}, "objectWriteTraceId": "t2"},
              {"properties": {"email": "taken@x.com"}, "objectWriteTraceId": "t3"}]
    response = api("POST", "/crm/v3/objects/contacts/batch/create", {"inputs": inputs})
    assert response.status_code == 207
    assert response.data["numErrors"] == 2
    by_trace = {e["context"]["objectWriteTraceId"][0]: e for e in response.data["errors"]}
    assert by_trace["t2"]["category"] == "VALIDATION_ERROR"
    assert by_trace["t3"]["message"] == f"Contact already exists. Existing ID: {existing['id']}"
    assert [r["objectWriteTraceId"] for r in response.data["results"]] == ["t1"]


def test_it_reads_a_batch_by_email_and_reports_missing_ids(api):
    created = _create(api, 2).data["results"]
    response = api("POST", "/crm/v3/objects/contacts/batch/read",
                   {"inputs": [{"id": "c0@x.com"}, {"id": "nobody@x.com"}], "idProperty": "email",
                    "properties": ["email"]})
    assert response.status_code == 207
    assert [r["properties"]["email"] for r in response.data["results"]] == ["c0@x.com"]
    assert response.data["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    assert response.data["errors"][0]["context"]["ids"] == ["nobody@x.com"]
    assert created


def test_it_updates_a_batch_and_reports_unknown_ids_per_input(api):
    created = _create(api, 2).data["results"]
    inputs = [{"id": created[0]["id"], "properties": {"firstname": "A"}, "objectWriteTraceId": "u1"},
              {"id": "99999999", "properties": {"firstname": "B"}, "objectWriteTraceId": "u2"}]
    response = api("POST", "/crm/v3/objects/contacts/batch/update", {"inputs": inputs})
    assert response.status_code == 207
    assert response.data["results"][0]["properties"]["firstname"] == "A"
    assert response.data["errors"][0]["category"] == "OBJECT_NOT_FOUND"


def test_it_upserts_by_email_and_says_which_are_new(api):
    _create(api, 1)
    inputs = [{"id": "c0@x.com", "idProperty": "email", "properties": {"firstname": "Old"}},
              {"id": "new@x.com", "idProperty": "email", "properties": {"firstname": "New"}}]
    response = api("POST", "/crm/v3/objects/contacts/batch/upsert", {"inputs": inputs})
    assert response.status_code == 200
    assert sorted((r["properties"]["firstname"], r["new"]) for r in response.data["results"]) == [
        ("New", True), ("Old", False)]


def test_it_archives_a_batch_with_204(api):
    created = _create(api, 2).data["results"]
    response = api("POST", "/crm/v3/objects/contacts/batch/archive", {"inputs": [{"id": r["id"]} for r in created]})
    assert response.status_code == 204
    assert api("GET", "/crm/v3/objects/contacts").data["results"] == []


def test_it_answers_malformed_json_with_a_validation_error(api, client):
    response = client.post("/sandbox/hubspot/crm/v3/objects/contacts/batch/create", data="{nope",
                           content_type="application/json", headers={"Authorization": f"Bearer {api.token}"})
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"


def test_it_refuses_the_second_of_two_inputs_with_the_same_email(api):
    inputs = [{"properties": {"email": "twice@x.com"}, "objectWriteTraceId": "a"},
              {"properties": {"email": "Twice@x.com"}, "objectWriteTraceId": "b"}]
    response = api("POST", "/crm/v3/objects/contacts/batch/create", {"inputs": inputs})
    assert response.status_code == 207
    [created] = response.data["results"]
    [error] = response.data["errors"]
    assert error["context"]["objectWriteTraceId"] == ["b"]
    assert error["message"] == f"Contact already exists. Existing ID: {created['id']}"


def test_it_batch_reads_archived_deals_only_with_archived_true(api):
    live = api("POST", "/crm/v3/objects/deals", {"properties": {"dealname": "Live"}}).data["id"]
    gone = api("POST", "/crm/v3/objects/deals", {"properties": {"dealname": "Gone"}}).data["id"]
    api("DELETE", f"/crm/v3/objects/deals/{gone}")
    body = {"inputs": [{"id": live}, {"id": gone}], "properties": ["dealname"]}
    default = api("POST", "/crm/v3/objects/deals/batch/read", body)
    assert default.status_code == 207
    assert [r["id"] for r in default.data["results"]] == [live]
    assert default.data["errors"][0]["context"]["ids"] == [gone]
    archived = api("POST", "/crm/v3/objects/deals/batch/read?archived=true", body)
    assert [(r["id"], r["archived"]) for r in archived.data["results"]] == [(gone, True)]
    assert archived.data["results"][0]["archivedAt"]
