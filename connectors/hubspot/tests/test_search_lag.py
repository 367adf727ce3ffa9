"""The connector's search-lag window against a sandbox whose search index lags writes."""

from __future__ import annotations

from datetime import timedelta

from django.test import override_settings

from sandbox.hubspot.models import CrmObject


def _changed(hubspot, cursor=None) -> tuple[list[str], object]:
    ids = []
    for page in hubspot.read_changes("contacts", cursor):
        ids += [r.id for r in page.records]
        cursor = page.cursor
    return ids, cursor


@override_settings(SANDBOX_HUBSPOT_SEARCH_DELAY_SECONDS=2)
def test_a_record_not_yet_searchable_is_read_by_a_later_run_not_skipped(portal, connect):
    hubspot = connect(portal, search_lag_seconds=5)
    [old, fresh] = [r.id for r in hubspot.write("contacts", creates=[{"email": "old@x.com"}, {"email": "new@x.com"}])]
    # `old` was written a minute ago (searchable, outside the window); `fresh` just now.
    stamp = CrmObject.objects.get(pk=old).updated_at
    CrmObject.objects.filter(pk=old).update(updated_at=stamp - timedelta(seconds=60))
    first, cursor = _changed(hubspot)
    assert first == [old]
    # Time passes: `fresh` is indexed and out of the window; the next run reads it from the cursor.
    CrmObject.objects.filter(pk=fresh).update(updated_at=stamp - timedelta(seconds=30))
    second, _ = _changed(hubspot, cursor)
    assert second == [fresh]


@override_settings(SANDBOX_HUBSPOT_SEARCH_DELAY_SECONDS=2)
def test_without_the_window_a_run_sees_nothing_of_a_record_still_being_indexed(portal, connect):
    hubspot = connect(portal, search_lag_seconds=0)
    hubspot.write("contacts", creates=[{"email": "now@x.com"}])
    assert _changed(hubspot)[0] == []
