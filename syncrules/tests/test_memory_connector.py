"""The in-memory app itself: deals in pipelines, associations, deletions, as the engine sees them."""

from datetime import date
from decimal import Decimal

import pytest

from connectors.base import COMPANIES, CONTACTS, DEALS, Pipeline, Stage
from connectors.errors import ConnectorError, ErrorCategory
from syncrules.tests.memory_connector import (
    DEFAULT_KEYS,
    HUBSPOT_PIPELINE,
    RENEWALS_PIPELINE,
    SALESFORCE_PIPELINE,
    TWO_PIPELINES,
    Apps,
    MemoryApp,
)


def hubspot_like(**options) -> MemoryApp:
    return MemoryApp("ha_", **options)


def salesforce_like(**options) -> MemoryApp:
    return MemoryApp("sf_", pipelines=(SALESFORCE_PIPELINE,), implicit_pipeline=True, **options)


def people(app: MemoryApp):
    """A contact, two companies and a deal, none associated yet."""
    ann = app.create(CONTACTS, email="ann@example.com")
    acme = app.create(COMPANIES, name="Acme")
    globex = app.create(COMPANIES, name="Globex")
    deal = app.create(DEALS, deal_name="Big deal", stage=app.pipelines[0].stages[0].id)
    return ann, acme, globex, deal


def create_deal(app: MemoryApp, **values):
    """A deal created through the contract, as the engine creates them."""
    return app.connector().write(DEALS, creates=[{app.field(DEALS, k): v for k, v in values.items()}])[0]


# --- deals -----------------------------------------------------------------------------------
def test_it_creates_a_deal_in_the_default_pipeline_and_reads_it_back():
    app = hubspot_like()
    result = create_deal(app, deal_name="Big deal", amount="1200.5", close_date=date(2026, 3, 1),
                         stage="qualifiedtobuy")
    assert result.ok
    record = app.connector().read(DEALS, [result.id])[result.id]
    assert record.values["ha_pipeline"] == "default" and record.values["ha_stage"] == "qualifiedtobuy"
    assert record.values["ha_amount"] == Decimal("1200.50")
    assert record.values["ha_close_date"] == date(2026, 3, 1)
    assert record.values["ha_updated"] == record.modified_at


def test_the_deal_defaults_pair_name_amount_close_date_pipeline_and_stage():
    connector = hubspot_like().connector()
    assert DEFAULT_KEYS[DEALS] == ["deal_name", "amount", "close_date", "pipeline", "stage"]
    assert [d.field for d in connector.default_fields(DEALS)] == [
        "ha_deal_name", "ha_amount", "ha_close_date", "ha_pipeline", "ha_stage",
    ]
    specs = {s.name: s for s in connector.fields(DEALS)}
    assert [o.value for o in specs["ha_pipeline"].options] == ["default"]
    assert specs["ha_updated"].read_only and specs["ha_stage"].required


def test_an_app_with_an_implicit_pipeline_has_no_pipeline_field():
    app = salesforce_like()
    names = {s.name for s in app.connector().fields(DEALS)}
    assert "sf_pipeline" not in names and "sf_stage" in names
    result = create_deal(app, deal_name="Renewal", stage="Closed Won")
    assert result.ok and "sf_pipeline" not in app.all(DEALS)[result.id]


def test_an_implicit_pipeline_must_be_the_only_one():
    with pytest.raises(ValueError):
        MemoryApp("x_", pipelines=TWO_PIPELINES, implicit_pipeline=True)


def test_a_deal_without_a_stage_is_refused_on_create():
    result = create_deal(hubspot_like(), deal_name="No stage")
    assert result.error.category is ErrorCategory.MISSING_REQUIRED_FIELD
    assert result.error.field == "ha_stage" and "ha_stage" in str(result.error)


def test_a_stage_of_another_pipeline_is_refused_in_the_apps_words():
    app = hubspot_like(pipelines=TWO_PIPELINES)
    result = create_deal(app, deal_name="Wrong", pipeline="renewals", stage="closedwon")
    assert result.error.category is ErrorCategory.INVALID_PROPERTY_VALUE
    assert result.error.vendor_code == "INVALID_DEAL_STAGE" and "renewals" in str(result.error)
    assert app.all(DEALS) == {}


def test_moving_a_deal_to_another_pipeline_needs_a_stage_of_that_pipeline():
    app = hubspot_like(pipelines=TWO_PIPELINES)
    deal = create_deal(app, deal_name="Move me", stage="contractsent").id
    connector = app.connector()
    refused = connector.write(DEALS, updates={deal: {"ha_pipeline": "renewals"}})[0]
    assert refused.error.category is ErrorCategory.INVALID_PROPERTY_VALUE
    moved = connector.write(DEALS, updates={deal: {"ha_pipeline": "renewals", "ha_stage": "renewal_due"}})
    assert moved[0].ok
    assert app.get(DEALS, deal, "pipeline") == "renewals" and app.get(DEALS, deal, "stage") == "renewal_due"


def test_an_update_that_leaves_pipeline_and_stage_alone_is_not_rechecked():
    app = hubspot_like()
    deal = app.create(DEALS, deal_name="Odd", stage="not-a-stage")  # people can do odd things in apps
    assert app.connector().write(DEALS, updates={deal: {"ha_amount": 5}})[0].ok


def test_an_unknown_stage_is_refused_as_an_unknown_option():
    result = create_deal(hubspot_like(), deal_name="Unknown", stage="nowhere")
    assert result.error.category is ErrorCategory.INVALID_PROPERTY_VALUE
    assert result.error.vendor_code == "INVALID_OPTION"


def test_the_deal_modified_field_is_read_only():
    result = create_deal(hubspot_like(), stage="closedwon", updated=date(2026, 1, 1))
    assert result.error.category is ErrorCategory.PERMISSION_DENIED


# --- pipelines -------------------------------------------------------------------------------
def test_it_lists_its_deal_pipelines_with_closed_and_won_stages():
    connector = hubspot_like().connector()
    (pipeline,) = connector.pipelines(DEALS)
    assert pipeline == HUBSPOT_PIPELINE
    assert [s.id for s in pipeline.stages][0] == "appointmentscheduled"
    assert [(s.id, s.closed, s.won) for s in pipeline.stages[-2:]] == [
        ("closedwon", True, True), ("closedlost", True, False),
    ]
    assert not any(s.closed for s in pipeline.stages[:-2])
    assert connector.pipelines(CONTACTS) == []


def test_a_salesforce_like_pipeline_runs_from_prospecting_to_closed_won_or_lost():
    (pipeline,) = salesforce_like().connector().pipelines(DEALS)
    ids = [s.id for s in pipeline.stages]
    assert ids[0] == "Prospecting" and ids[-2:] == ["Closed Won", "Closed Lost"]
    assert pipeline.stages[-2].won and not pipeline.stages[-1].won


def test_an_app_can_have_two_pipelines_with_their_own_stages():
    pipelines = hubspot_like(pipelines=TWO_PIPELINES).connector().pipelines(DEALS)
    assert [p.id for p in pipelines] == ["default", "renewals"]
    assert pipelines[1] == RENEWALS_PIPELINE


def test_creating_a_pipeline_gives_it_new_ids_in_one_call():
    app = hubspot_like()
    connector = app.connector()
    stages = [Stage("x", "Open", 0), Stage("y", "Won", 1, closed=True, won=True)]
    created = connector.create_pipeline(DEALS, "Memory - master", stages)
    assert app.calls_by_method["create_pipeline"] == 1
    assert created.label == "Memory - master" and created.id not in {"default", "x", "y"}
    flags = [(s.label, s.closed, s.won) for s in created.stages]
    assert flags == [("Open", False, False), ("Won", True, True)]
    assert {s.id for s in created.stages}.isdisjoint({"x", "y"})
    assert connector.pipelines(DEALS)[-1] == created
    won = created.stages[1].id
    assert create_deal(app, deal_name="In new", pipeline=created.id, stage=won).ok


def test_creating_a_pipeline_past_the_limit_is_refused_plainly():
    app = hubspot_like(pipeline_limit=2)
    connector = app.connector()
    connector.create_pipeline(DEALS, "Second", [Stage("a", "A")])
    with pytest.raises(ConnectorError) as refused:
        connector.create_pipeline(DEALS, "Third", [Stage("a", "A")])
    assert refused.value.vendor_code == "PIPELINE_LIMIT_EXCEEDED"
    assert "allows 2 deal pipelines" in str(refused.value)
    assert len(app.pipelines) == 2


def test_creating_a_pipeline_is_refused_for_an_implicit_pipeline_or_another_object_type():
    with pytest.raises(ConnectorError):
        salesforce_like().connector().create_pipeline(DEALS, "More", [Stage("a", "A")])
    with pytest.raises(ConnectorError):
        hubspot_like().connector().create_pipeline(CONTACTS, "More", [Stage("a", "A")])


def test_mirrored_pipeline_labels_follow_salesforce_only_when_mirroring():
    single = (SALESFORCE_PIPELINE,)
    assert salesforce_like().connector().mirrored_pipeline_label(SALESFORCE_PIPELINE, single) is None
    mirror = salesforce_like(mirror_pipelines=True).connector()
    assert mirror.mirrored_pipeline_label(SALESFORCE_PIPELINE, single) == "Memory - Standard pipeline"
    other = Pipeline("012A", "Enterprise")
    assert mirror.mirrored_pipeline_label(other, (SALESFORCE_PIPELINE, other)) == "Memory - 012A"


def test_the_deal_switch_and_deletion_propagation_are_options():
    plain = hubspot_like().connector()
    assert not plain.deal_switch and not plain.propagates_deletions(DEALS)
    ruled = salesforce_like(deal_switch=True, propagate_deal_deletions=True).connector()
    assert ruled.deal_switch and ruled.propagates_deletions(DEALS)
    assert not ruled.propagates_deletions(CONTACTS)


# --- associations ----------------------------------------------------------------------------
def test_associations_are_kept_in_both_directions():
    app = hubspot_like()
    ann, acme, _, deal = people(app)
    app.associate(CONTACTS, ann, COMPANIES, acme)
    app.associate(DEALS, deal, CONTACTS, ann)
    assert app.associations(COMPANIES, acme, CONTACTS) == [ann]
    assert app.associations(CONTACTS, ann, DEALS) == [deal]
    app.dissociate(COMPANIES, acme, CONTACTS, ann)
    assert app.associations(CONTACTS, ann, COMPANIES) == []


def test_the_associate_helper_refuses_missing_records_and_unknown_types():
    app = hubspot_like()
    ann, acme, _, _ = people(app)
    with pytest.raises(KeyError):
        app.associate(CONTACTS, ann, COMPANIES, "ha_999")
    with pytest.raises(ValueError):
        app.associate(CONTACTS, ann, CONTACTS, ann)


def test_every_read_fills_the_associations_primary_first():
    app = hubspot_like()
    ann, acme, globex, deal = people(app)
    app.associate(CONTACTS, ann, COMPANIES, acme)
    app.associate(CONTACTS, ann, COMPANIES, globex, primary=True)
    app.associate(DEALS, deal, CONTACTS, ann)
    app.associate(DEALS, deal, COMPANIES, acme)
    connector = app.connector()
    changed = {r.id: r for page in connector.read_changes(CONTACTS) for r in page.records}
    assert changed[ann].associations == {COMPANIES: [globex, acme]}
    assert connector.read(DEALS, [deal])[deal].associations == {CONTACTS: [ann], COMPANIES: [acme]}
    (found,) = connector.find(CONTACTS, "ha_email", ["ann@example.com"])["ann@example.com"]
    assert found.associations == {COMPANIES: [globex, acme]}
    assert connector.read(COMPANIES, [acme])[acme].associations == {}


def test_read_associations_costs_one_call_per_batch():
    app = hubspot_like(batch_size=2)
    ann, acme, globex, deal = people(app)
    app.associate(DEALS, deal, COMPANIES, acme)
    found = app.connector().read_associations(COMPANIES, [acme, globex, "ha_999"], DEALS)
    assert found == {acme: [deal], globex: [], "ha_999": []}
    assert app.calls_by_method["read_associations"] == 2


def test_read_associations_refuses_an_unknown_association_type():
    app = hubspot_like()
    with pytest.raises(ConnectorError) as refused:
        app.connector().read_associations(COMPANIES, ["x"], COMPANIES)
    assert refused.value.category is ErrorCategory.ASSOCIATION_FAILED


def test_a_written_company_association_becomes_the_primary_one():
    app = hubspot_like()
    ann, acme, globex, _ = people(app)
    connector = app.connector()
    assert connector.write_associations(CONTACTS, COMPANIES, [(ann, acme)])[0].ok
    connector.write_associations(CONTACTS, COMPANIES, [(ann, globex)])
    assert app.associations(CONTACTS, ann, COMPANIES) == [globex, acme]
    connector.write_associations(CONTACTS, COMPANIES, [(ann, acme)])  # existing, made primary again
    assert app.associations(CONTACTS, ann, COMPANIES) == [acme, globex]


def test_a_company_written_from_its_own_side_also_becomes_primary():
    app = hubspot_like()
    ann, acme, globex, deal = people(app)
    app.associate(DEALS, deal, COMPANIES, acme)
    results = app.connector().write_associations(COMPANIES, DEALS, [(globex, deal)])
    assert results[0].ref == (globex, deal) and results[0].ok
    assert app.associations(DEALS, deal, COMPANIES) == [globex, acme]


def test_a_deal_keeps_its_contacts_in_the_order_they_were_added():
    app = hubspot_like()
    ann, _, _, deal = people(app)
    bob = app.create(CONTACTS, email="bob@example.com")
    app.connector().write_associations(DEALS, CONTACTS, [(deal, ann), (deal, bob)])
    assert app.associations(DEALS, deal, CONTACTS) == [ann, bob]


def test_with_a_single_company_a_new_company_replaces_the_old_one():
    app = salesforce_like(single_company=True)
    ann, acme, globex, deal = people(app)
    connector = app.connector()
    connector.write_associations(CONTACTS, COMPANIES, [(ann, acme)])
    connector.write_associations(COMPANIES, CONTACTS, [(globex, ann)])
    assert app.associations(CONTACTS, ann, COMPANIES) == [globex]
    assert app.associations(COMPANIES, acme, CONTACTS) == []
    app.associate(DEALS, deal, COMPANIES, acme)
    app.associate(DEALS, deal, COMPANIES, globex)
    assert app.associations(DEALS, deal, COMPANIES) == [globex]


def test_adding_an_existing_pair_or_removing_a_missing_one_succeeds():
    app = hubspot_like()
    ann, acme, _, deal = people(app)
    connector = app.connector()
    connector.write_associations(DEALS, CONTACTS, [(deal, ann)])
    assert connector.write_associations(DEALS, CONTACTS, [(deal, ann)])[0].ok
    assert app.associations(DEALS, deal, CONTACTS) == [ann]
    assert connector.remove_associations(CONTACTS, COMPANIES, [(ann, acme)])[0].ok
    removed = connector.remove_associations(CONTACTS, DEALS, [(ann, deal)])
    assert removed[0].ok and app.associations(DEALS, deal, CONTACTS) == []


def test_associating_a_missing_record_fails_for_that_pair_only():
    app = hubspot_like()
    ann, acme, _, _ = people(app)
    results = app.connector().write_associations(
        CONTACTS, COMPANIES, [("ha_999", acme), (ann, "ha_998"), (ann, acme)]
    )
    assert results[0].error.category is ErrorCategory.RECORD_DELETED and "ha_999" in str(results[0].error)
    assert results[1].error.category is ErrorCategory.ASSOCIATION_FAILED and "ha_998" in str(results[1].error)
    assert results[2].ok and app.associations(CONTACTS, ann, COMPANIES) == [acme]
    removed = app.connector().remove_associations(CONTACTS, COMPANIES, [("ha_999", acme)])
    assert removed[0].error.category is ErrorCategory.RECORD_DELETED


def test_an_unknown_association_type_fails_each_pair():
    app = hubspot_like()
    _, acme, globex, _ = people(app)
    (result,) = app.connector().write_associations(COMPANIES, COMPANIES, [(acme, globex)])
    assert result.error.category is ErrorCategory.ASSOCIATION_FAILED


def test_an_injected_association_failure_hits_only_its_pair():
    app = hubspot_like()
    ann, acme, globex, _ = people(app)

    def refuse_globex(from_type, from_id, to_type, to_id):
        if to_id == globex:
            return ConnectorError(ErrorCategory.ASSOCIATION_FAILED, "Association limit reached")
        return None

    app.fail_association_when = refuse_globex
    results = app.connector().write_associations(CONTACTS, COMPANIES, [(ann, globex), (ann, acme)])
    assert [r.ok for r in results] == [False, True]
    assert app.associations(CONTACTS, ann, COMPANIES) == [acme]


def test_association_writes_are_batched_and_a_failed_call_raises():
    app = hubspot_like(batch_size=2)
    ann, acme, globex, deal = people(app)
    pairs = [(deal, ann), (deal, acme), (deal, globex)]
    connector = app.connector()
    results = connector.write_associations(DEALS, COMPANIES, pairs[1:]) + connector.write_associations(
        DEALS, CONTACTS, pairs[:1]
    )
    assert [r.ref for r in results] == [pairs[1], pairs[2], pairs[0]]
    assert app.calls_by_method["write_associations"] == 2
    app.fail_calls.append(ConnectorError(ErrorCategory.APP_UNAVAILABLE, "502"))
    with pytest.raises(ConnectorError):
        connector.remove_associations(DEALS, CONTACTS, pairs[:1])
    assert app.associations(DEALS, deal, CONTACTS) == [ann]


def test_an_association_change_does_not_touch_the_records():
    app = hubspot_like()
    ann, acme, _, _ = people(app)
    connector = app.connector()
    cursor = app.seq  # after every record's last change
    before = app.records[CONTACTS][ann].modified_at
    connector.write_associations(CONTACTS, COMPANIES, [(ann, acme)])
    assert app.records[CONTACTS][ann].modified_at == before
    assert list(connector.read_changes(CONTACTS, cursor)) == []
    assert list(connector.read_changes(COMPANIES, cursor)) == []


def test_with_touching_associations_both_records_change():
    app = hubspot_like(associations_touch_records=True)
    ann, acme, _, _ = people(app)
    connector = app.connector()
    cursor = app.seq
    connector.write_associations(CONTACTS, COMPANIES, [(ann, acme)])
    assert [r.id for page in connector.read_changes(CONTACTS, cursor) for r in page.records] == [ann]
    assert [r.id for page in connector.read_changes(COMPANIES, cursor) for r in page.records] == [acme]


def test_association_changes_is_unknown_without_a_feed():
    assert hubspot_like().connector().association_changes(DEALS, CONTACTS, None) is None


def test_the_association_feed_reports_records_whose_associations_changed_since_the_cursor():
    app = salesforce_like(association_feed=True)
    ann, acme, _, deal = people(app)
    connector = app.connector()
    app.associate(DEALS, deal, CONTACTS, ann)  # before the feed starts: not reported
    ids, cursor = connector.association_changes(DEALS, CONTACTS, None)
    assert ids == []
    assert connector.association_changes(DEALS, CONTACTS, cursor) == ([], cursor)
    bob = app.create(CONTACTS, email="bob@example.com")
    connector.write_associations(CONTACTS, DEALS, [(bob, deal)])
    connector.write_associations(CONTACTS, COMPANIES, [(ann, acme)])
    ids, later = connector.association_changes(DEALS, CONTACTS, cursor)
    assert ids == [deal] and later > cursor
    assert connector.association_changes(CONTACTS, DEALS, cursor)[0] == [bob]
    assert connector.association_changes(CONTACTS, COMPANIES, cursor)[0] == [ann]
    assert connector.association_changes(DEALS, CONTACTS, later) == ([], later)


# --- deletions -------------------------------------------------------------------------------
def test_delete_is_batched_and_an_id_already_gone_succeeds():
    app = hubspot_like(batch_size=2)
    _, _, _, deal = people(app)
    other = app.create(DEALS, deal_name="Other", stage="closedlost")
    results = app.connector().delete(DEALS, [deal, other, "ha_999"])
    assert [(r.ref, r.ok) for r in results] == [(deal, True), (other, True), ("ha_999", True)]
    assert app.all(DEALS) == {} and app.calls_by_method["delete"] == 2


def test_read_deleted_reports_deletions_through_the_app_and_the_connector_since_the_cursor():
    app = hubspot_like(page_size=2)
    ann, acme, globex, deal = people(app)
    connector = app.connector()
    app.remove(DEALS, deal)
    (first,) = connector.read_deleted(DEALS)
    assert [d.id for d in first.records] == [deal] and first.records[0].deleted_at == app.clock.now
    connector.delete(COMPANIES, [acme, globex])
    app.remove(CONTACTS, ann)
    assert [d.id for page in connector.read_deleted(COMPANIES) for d in page.records] == [acme, globex]
    assert list(connector.read_deleted(DEALS, first.cursor)) == []
    app.remove(DEALS, deal)  # already gone: not deleted twice
    assert list(connector.read_deleted(DEALS, first.cursor)) == []


def test_read_deleted_pages_by_page_size():
    app = hubspot_like(page_size=2)
    ids = [app.create(CONTACTS, email=f"p{n}@example.com") for n in range(5)]
    app.connector().delete(CONTACTS, ids)
    pages = list(app.connector().read_deleted(CONTACTS))
    assert [len(p.records) for p in pages] == [2, 2, 1]
    assert [d.id for p in pages for d in p.records] == ids


def test_deleting_a_record_removes_its_associations_on_both_ends():
    app = hubspot_like()
    ann, acme, _, deal = people(app)
    app.associate(DEALS, deal, CONTACTS, ann)
    app.associate(DEALS, deal, COMPANIES, acme)
    app.associate(CONTACTS, ann, COMPANIES, acme)
    app.connector().delete(DEALS, [deal])
    assert app.associations(CONTACTS, ann, DEALS) == [] and app.associations(COMPANIES, acme, DEALS) == []
    app.remove(COMPANIES, acme)
    assert app.associations(CONTACTS, ann, COMPANIES) == []
    assert app.connector().read(CONTACTS, [ann])[ann].associations == {COMPANIES: []}


# --- the memory apps as a whole ----------------------------------------------------------------
def test_calls_are_counted_per_method():
    app = hubspot_like(batch_size=2)
    connector = app.connector()
    connector.fields(DEALS)
    connector.pipelines(DEALS)
    connector.read(CONTACTS, ["a", "b", "c"])
    list(connector.read_changes(CONTACTS))
    assert app.calls_by_method == {"fields": 1, "pipelines": 1, "read": 2, "read_changes": 1}
    assert connector.http_calls == app.calls == 5


def test_the_default_pair_of_apps_is_hubspot_like_and_salesforce_like():
    apps = Apps()
    assert apps.a.pipelines == [HUBSPOT_PIPELINE] and not apps.a.implicit_pipeline
    assert apps.b.pipelines == [SALESFORCE_PIPELINE] and apps.b.implicit_pipeline
    assert {t.key for t in apps.a.connector().object_types()} == {CONTACTS, COMPANIES, DEALS}
