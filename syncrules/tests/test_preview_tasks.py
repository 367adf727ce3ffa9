"""The preview as a django-q2 task (the wizard's Review step polls its row) and as deals see it."""

import pytest
from django.utils import timezone

from connectors.base import DEALS
from connectors.errors import ConnectorError, ErrorCategory
from syncrules import tasks
from syncrules.engine import preview as preview_module
from syncrules.engine import run_sync
from syncrules.engine.preview import comparable, run_figures
from syncrules.models import SyncPreview, SyncRun
from syncrules.tests.factories import make_memory_sync
from syncrules.tests.test_engine_deals import make_world

pytestmark = pytest.mark.django_db
C = "contacts"


@pytest.fixture
def sync(apps):
    for n in range(12):
        apps.a.create(C, email=f"person{n}@example.com", first="Ann", last=f"Lee {n}")
    apps.b.create(C, email="person0@example.com", first="Ann", last="Lee 0")
    return make_memory_sync(apps)


def test_a_queued_preview_runs_once_the_transaction_commits_and_is_done(sync, apps, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        preview = tasks.enqueue_preview(sync.pk)
    assert preview.status == SyncPreview.Status.QUEUED and preview.result == {} and len(callbacks) == 1
    callbacks[0]()  # django-q2 in sync mode: the task runs right here
    preview.refresh_from_db()
    assert preview.status == SyncPreview.Status.DONE and preview.error == ""
    assert preview.result["b"]["create"] == 11 and preview.result["matched"] == 1
    assert preview.processed == preview.result["processed"] >= 13 and preview.estimated_total
    assert preview.http_calls == preview.result["http_calls"] > 0
    assert preview.started_at <= preview.finished_at
    assert apps.written == 0 and not SyncRun.objects.exists()


def test_progress_is_reported_after_each_page(sync, apps):
    from syncrules.engine.api import preview_sync

    apps.a.page_size = apps.b.page_size = 5
    seen = []
    result = preview_sync(sync.pk, on_progress=lambda done, total, calls: seen.append((done, total, calls)))
    # The side that has given fewer records goes next: A's 5, then B's pages (its one contact, then
    # what the preview would have created there) until B has given 5 too, then A's 5 more.
    assert [done for done, _, _ in seen][:7] == [5, 6, 7, 8, 9, 10, 15]
    assert seen[0][1] == 12 and all(calls > 0 for _, _, calls in seen)
    assert seen[-1][0] == result["processed"]


def test_running_a_preview_twice_is_harmless(sync, apps):
    preview = SyncPreview.objects.create(object_sync=sync)
    assert tasks.run_preview(preview.pk) == SyncPreview.Status.DONE
    preview.refresh_from_db()
    calls, result, finished = apps.a.calls + apps.b.calls, preview.result, preview.finished_at
    assert tasks.run_preview(preview.pk) is None
    preview.refresh_from_db()
    assert (apps.a.calls + apps.b.calls, preview.result, preview.finished_at) == (calls, result, finished)
    assert tasks.run_preview(999999) is None  # deleted with its sync since it was queued


def test_a_preview_left_running_by_a_dead_worker_is_taken_again(sync):
    preview = SyncPreview.objects.create(object_sync=sync, status=SyncPreview.Status.RUNNING,
                                         started_at=timezone.now() - tasks.STALE_PREVIEW * 2)
    assert tasks.run_preview(preview.pk) == SyncPreview.Status.DONE
    fresh = SyncPreview.objects.create(object_sync=sync, status=SyncPreview.Status.RUNNING, started_at=timezone.now())
    assert tasks.run_preview(fresh.pk) is None


@pytest.mark.parametrize(("category", "message"), [
    (ErrorCategory.AUTHENTICATION_EXPIRED, "The access token was revoked"),
    (ErrorCategory.APP_UNAVAILABLE, "HTTP 503 from the app"),
    (ErrorCategory.MALFORMED_RESPONSE, "The app answered with HTML, not JSON"),
])
def test_an_app_that_fails_fails_the_preview_with_a_sentence(sync, apps, category, message):
    apps.b.fail_calls.append(ConnectorError(category, message))
    preview = SyncPreview.objects.create(object_sync=sync)
    assert tasks.run_preview(preview.pk) == SyncPreview.Status.FAILED
    preview.refresh_from_db()
    assert preview.error == (f"{sync.connection_b.name} (side B) could not be read. {category.label}: "
                             f"{message}. {category.hint}")
    assert preview.result == {} and preview.finished_at is not None and apps.written == 0


def test_an_app_failing_mid_way_names_its_side(sync, apps):
    apps.a.page_size = 3
    reads = iter(range(100))
    apps.a.fail_when = None
    original = apps.a.call

    def failing(method=""):
        if method == "read_changes" and next(reads) == 2:
            raise ConnectorError(ErrorCategory.RATE_LIMITED, "Daily limit reached")
        return original(method)

    apps.a.call = failing
    preview = SyncPreview.objects.create(object_sync=sync)
    assert tasks.run_preview(preview.pk) == SyncPreview.Status.FAILED
    preview.refresh_from_db()
    assert preview.error.startswith(f"{sync.connection_a.name} (side A) could not be read. Rate limited: ")
    assert preview.processed == 12  # A's two pages, and B's pages up to as many records, came before


def test_an_unexpected_error_fails_the_preview_without_a_traceback(sync, monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("oops")

    monkeypatch.setattr(preview_module, "preview", broken)
    preview = SyncPreview.objects.create(object_sync=sync)
    assert tasks.run_preview(preview.pk) == SyncPreview.Status.FAILED
    preview.refresh_from_db()
    assert "unexpected error (KeyError)" in preview.error and "Traceback" not in preview.error


# --- deals ---------------------------------------------------------------------------------
def test_a_deal_preview_leaves_out_unmapped_stages_and_equals_the_run(memory_connections):
    world = make_world(kinds=(DEALS,))
    sync = world.syncs[DEALS]
    sync.pipeline_mappings.get().stage_mappings.filter(stage_a="contractsent").delete()
    world.deal("a", "Outside", "contractsent")
    world.deal("a", "Inside", "closedwon")
    world.deal("b", "Theirs", "Closed Won")
    world.deal("b", "Unmapped", "Prospecting")
    world.deal("b", "A " + "very long name " * 10, "Closed Won")
    sync.field_mappings.update(policy="fail_record")  # a value too long fails its record
    result = tasks_preview(sync)
    assert result["a"]["excluded"] == {"unmapped_stage": 1} and result["b"]["excluded"] == {"unmapped_stage": 1}
    assert result["b"]["create"] == 1
    assert result["a"]["create"] == 1 and result["matched"] == 0
    [too_long] = result["a"]["failures"]
    assert too_long["category"] == "value_too_long" and too_long["samples"][0]["name"].startswith("A very long")
    assert comparable(result) == run_figures(run_sync(sync.pk))


def test_with_the_salesforce_deal_switch_off_the_preview_says_no_deal_would_be_created(memory_connections):
    world = make_world(kinds=(DEALS,))
    world.apps.b.deal_switch = True
    sync = world.syncs[DEALS]
    world.deal("a", "Inside", "closedwon")
    result = tasks_preview(sync)
    assert "Turn on 'Sync deals'" in result["blocked"]
    assert result["a"]["create"] == result["b"]["create"] == 0 and result["a"]["read"] == 0
    assert result["http_calls"] == sum(result["http_calls_by_side"].values()) > 0  # the field lists were read
    run = run_sync(sync.pk)
    assert run.status == SyncRun.Status.FAILED and result["blocked"] in run.error
    sync.sync_deals = True
    sync.save()
    result = tasks_preview(sync)
    assert result["blocked"] == "" and result["b"]["create"] == 1


def tasks_preview(sync):
    preview = SyncPreview.objects.create(object_sync=sync)
    assert tasks.run_preview(preview.pk) == SyncPreview.Status.DONE
    preview.refresh_from_db()
    return preview.result
