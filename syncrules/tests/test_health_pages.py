"""The health pages per role: who sees what, the counts, the record filters, bad input."""

import re

import pytest
from django.urls import reverse

from syncrules.models import LinkStatus, RecordLink
from syncrules.tests.health_helpers import EXPECTED, WARNING, health_world, link, user_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return health_world()


@pytest.fixture
def support(client):
    client.force_login(user_in("Support"))
    return client


def pages(world) -> list[str]:
    sync, broken = world["contacts"].pk, world["broken"].pk
    return [
        reverse("health:overview"), reverse("health:records"), reverse("health:story", args=[broken]),
        reverse("health:errors", args=[sync]), reverse("health:charts", args=[sync]),
        reverse("health:export", args=[sync]), reverse("health:resync", args=[sync, "a"]),
    ]


def count_cells(html: str, sync_id: int) -> dict[str, int]:
    return {key: int(n) for key, n in re.findall(rf'id="count-{sync_id}-(\w+)">(\d+)<', html)}


def record_rows(html: str) -> int:
    body = html.split('id="record-list"')[1].split("</tbody>")[0]
    return body.count('href="/admin/health/records/')


def test_it_sends_anonymous_visitors_to_the_login_page(client, world):
    for url in pages(world):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url


def test_it_forbids_staff_without_the_view_permission(client, world):
    client.force_login(user_in(None, "staffonly"))
    for url in pages(world):
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("health:retry", args=[world["contacts"].pk]), {"link": "1"}).status_code == 403


@pytest.mark.parametrize("group", ["Support", "Sync editors", "Sync admins"])
def test_every_page_renders_for_each_role(client, world, group):
    client.force_login(user_in(group))
    for url in pages(world):
        assert client.get(url).status_code == 200, url


def test_the_overview_counts_equal_the_links_statuses(support, world):
    html = support.get(reverse("health:overview")).content.decode()
    assert count_cells(html, world["contacts"].pk) == EXPECTED
    assert count_cells(html, world["companies"].pk) == {**dict.fromkeys(EXPECTED, 0), "in_sync": 2, "errors": 1}


def test_each_count_opens_exactly_those_records(support, world):
    sync = world["contacts"]
    for key, expected in EXPECTED.items():
        if key == "errors":
            html = support.get(reverse("health:errors", args=[sync.pk])).content.decode()
            assert html.count('name="link"') == expected
            continue
        html = support.get(reverse("health:records"), {"sync": sync.pk, "status": key}).content.decode()
        assert record_rows(html) == expected, key


def test_the_object_sync_list_links_its_counts_to_the_health_pages(client, world):
    client.force_login(user_in("Sync admins"))
    html = client.get(reverse("admin:syncrules_objectsync_changelist")).content.decode()
    sync = world["contacts"].pk
    assert f'href="/admin/health/records/?sync={sync}&amp;status=in_sync">4<' in html
    assert f'href="/admin/health/sync/{sync}/errors/">3<' in html
    assert f'href="/admin/health/records/?sync={sync}&amp;status=excluded">2<' in html
    by_errors = client.get(reverse("admin:syncrules_objectsync_changelist") + "?o=-6").content.decode()
    assert by_errors.index(f'/admin/health/sync/{sync}/errors/">3<') < by_errors.index('/errors/">1<')


def test_the_record_filters_combine(support, world):
    url = reverse("health:records")
    assert record_rows(support.get(url, {"status": "errors"}).content.decode()) == 4
    assert record_rows(support.get(url, {"status": "errors", "object_type": "contacts"}).content.decode()) == 3
    both = {"status": "errors", "object_type": "contacts", "category": "value_too_long"}
    assert record_rows(support.get(url, both).content.decode()) == 1
    assert record_rows(support.get(url, {**both, "category": "duplicate_record"}).content.decode()) == 0
    assert record_rows(support.get(url, {"connection": world["hub"].pk, "frame": "hour"}).content.decode()) == 15
    assert record_rows(support.get(url, {"q": world["broken"].id_b}).content.decode()) == 1


def test_the_search_finds_an_email_a_domain_or_the_start_of_a_name(support, world):
    link(world["contacts"], 800, LinkStatus.IN_SYNC, name_a="Annika Lee", name_b="Annika Lee",
         match_key="annika@example.com")
    link(world["companies"], 801, LinkStatus.IN_SYNC, name_a="Acme Corporation", match_key="acme.example")
    url = reverse("health:records")
    for term, found in [("annika@example.com", 1), ("ANNIKA", 1), ("acme.ex", 1), ("acme", 1), ("Lee", 0), ("a", 2)]:
        assert record_rows(support.get(url, {"q": term}).content.decode()) == found, term


def test_the_time_frame_leaves_out_older_activity(support, world):
    from datetime import timedelta

    from django.utils import timezone

    old = timezone.now() - timedelta(days=3)
    RecordLink.objects.filter(object_sync=world["companies"]).update(updated_at=old)
    url = reverse("health:records")
    assert record_rows(support.get(url, {"frame": "day"}).content.decode()) == 12
    assert record_rows(support.get(url, {"frame": "week"}).content.decode()) == 15
    custom = {"frame": "custom", "start": (old - timedelta(days=1)).date().isoformat(), "end": old.date().isoformat()}
    assert record_rows(support.get(url, custom).content.decode()) == 3


def test_the_record_view_pages_without_counting_everything(support, world):
    for n in range(60):
        link(world["companies"], 500 + n, LinkStatus.IN_SYNC)
    first = support.get(reverse("health:records")).content.decode()
    assert record_rows(first) == 50 and 'id="next-page"' in first
    second = support.get(reverse("health:records"), {"page": 2}).content.decode()
    assert record_rows(second) == 75 - 50 and 'id="next-page"' not in second


def test_the_errors_view_groups_by_category_with_a_sample_and_steps(support, world):
    html = support.get(reverse("health:errors", args=[world["contacts"].pk])).content.decode()
    assert "Property value isn&#x27;t valid</span>: 2 records" in html
    assert "Value too long</span>: 1 record" in html
    assert "STRING_TOO_LONG: Title: data value too large" in html
    # The steps name where to click in the app the value comes from (HubSpot, side A here).
    assert "CRM &gt; Contacts, search the record and edit the property" in html
    assert "Waiting for a dependency</span>" not in html and "1 record waiting for an associated record" in html
    only = support.get(reverse("health:errors", args=[world["contacts"].pk]), {"category": "value_too_long"})
    assert only.content.decode().count('name="link"') == 1


def test_the_export_is_the_groups_csv(support, world):
    response = support.get(reverse("health:export", args=[world["contacts"].pk]), {"category": "invalid_property_value"})
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().strip().splitlines()
    assert len(lines) == 3 and "how to fix" in lines[0] and "Property value isn't valid" in lines[1]


def test_names_and_vendor_messages_are_escaped(support, world):
    evil = link(world["contacts"], 900, LinkStatus.FAILING, "unknown", "<script>alert('vendor')</script>",
                name_a="<script>alert('name')</script>")
    urls = [reverse("health:errors", args=[world["contacts"].pk]), reverse("health:records"),
            reverse("health:story", args=[evil.pk])]
    for url in urls:
        html = support.get(url, {"category": "unknown"}).content.decode()
        assert "<script>alert" not in html, url
        assert "&lt;script&gt;alert(&#x27;name&#x27;)" in html, url
        if "records/" not in url or str(evil.pk) in url:
            assert "&lt;script&gt;alert(&#x27;vendor&#x27;)" in html, url


BAD_QUERIES = [
    {"sync": "abc"}, {"sync": "99999999999999999999999"}, {"status": "nope"}, {"category": "'; drop table"},
    {"frame": "custom", "start": "2026-13-45", "end": "yesterday"}, {"page": "-3"}, {"page": "1e9"},
    {"connection": "\x00"}, {"q": "x" * 5000}, {"object_type": ["contacts", "deals"]}, {"start": "2026-01-02", "end": "2026-01-01", "frame": "custom"},
]


@pytest.mark.parametrize("query", BAD_QUERIES)
def test_odd_query_strings_never_give_a_server_error(support, world, query):
    for url in pages(world)[:5] + [reverse("health:overview") + "?connection=x"]:
        response = support.get(url, query)
        assert response.status_code in (200, 302), (url, query, response.status_code)


def test_unknown_ids_give_a_message_not_an_error(support, world):
    for url in ["/admin/health/records/99999999/", "/admin/health/sync/99999999/errors/",
                "/admin/health/sync/99999999/activity/", "/admin/health/sync/99999999999999999999999/errors/"]:
        response = support.get(url, follow=True)
        assert response.status_code == 200, url
        assert "There is no" in response.content.decode(), url
    response = support.post(reverse("health:retry", args=[99999999]), {"link": "1"}, follow=True)
    assert "There is no object sync with id 99999999" in response.content.decode()


def test_the_connection_page_links_to_its_sync_health(client, world):
    client.force_login(user_in("Sync admins"))
    html = client.get(reverse("admin:connectors_connection_change", args=[world["hub"].pk])).content.decode()
    assert f'href="/admin/health/?connection={world["hub"].pk}"' in html
    overview = client.get(reverse("health:overview"), {"connection": world["hub"].pk}).content.decode()
    assert 'id="sync-' in overview


def test_the_admin_index_shows_the_health_summary_to_those_who_may_see_it(client, world):
    client.force_login(user_in("Support"))
    html = client.get(reverse("admin:index")).content.decode()
    assert 'id="health-summary"' in html and "Errors: <strong" in html
    client.force_login(user_in(None, "plainstaff"))
    assert 'id="health-summary"' not in client.get(reverse("admin:index")).content.decode()


def test_a_running_initial_sync_shows_its_progress_and_time_left(support, world):
    from datetime import timedelta

    from django.utils import timezone

    from syncrules.models import ObjectSync, SyncRun

    sync = world["companies"]
    started = timezone.now() - timedelta(minutes=1)
    ObjectSync.objects.filter(pk=sync.pk).update(running_since=started)
    SyncRun.objects.create(object_sync=sync, kind="initial", status="running", started_at=started,
                           processed=250, estimated_total=1000)
    html = support.get(reverse("health:overview")).content.decode()
    row = html.split(f'id="sync-{sync.pk}"')[1].split("</tr>")[0]
    assert "Running" in row and '<progress max="1000" value="250">' in row
    assert "about 3 min left" in row


def test_a_run_that_failed_as_a_whole_shows_a_banner_with_its_category_and_fix(support, world):
    from syncrules.models import SyncRun

    sync = world["companies"]
    SyncRun.objects.create(object_sync=sync, kind="incremental", status="failed",
                           error="ConnectorError: Authentication expired [401]: the token <b>expired</b>")
    html = support.get(reverse("health:overview")).content.decode()
    banner = html.split(f'id="banner-{sync.pk}"')[1].split("</div>\n  </div>")[0]
    assert "the last run failed as a whole (Authentication expired)" in banner
    assert "Reconnect the app from its connection page" in banner
    assert "&lt;b&gt;expired&lt;/b&gt;" in banner
    assert f'id="sync-{sync.pk}"' in html and "Failing</span>" in html


def test_the_pages_query_counts_do_not_grow_with_the_records(support, world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> list[int]:
        counts = []
        for url in pages(world)[:5]:
            with CaptureQueriesContext(connection) as captured:
                support.get(url)
            counts.append(len(captured.captured_queries))
        return counts

    before = queries()
    for n in range(40):
        link(world["contacts"], 600 + n, LinkStatus.FAILING, "value_too_long", "too long")
    assert queries() == before


def test_links_in_sync_with_warnings_are_counted_listed_and_explained_apart(support, world):
    sync = world["contacts"]
    for n in (901, 902):  # in sync, but a value the other app cannot hold was skipped
        warned = link(sync, n, LinkStatus.IN_SYNC, name_a="Wanda Warned")
        warned.set_warnings([WARNING])
        warned.save()
    counts = count_cells(support.get(reverse("health:overview")).content.decode(), sync.pk)
    assert counts["in_sync"] == EXPECTED["in_sync"] and counts["warnings"] == 2
    listed = support.get(reverse("health:records"), {"sync": sync.pk, "status": "warnings"}).content.decode()
    assert record_rows(listed) == 2 and "In sync with warnings" in listed
    warned = RecordLink.objects.filter(object_sync=sync, has_warnings=True).first()
    story = support.get(reverse("health:story", args=[warned.pk])).content.decode()
    assert "Not carried" in story and "COMPUTER_SOFTWARE" in story and "no matching option in Industry" in story
