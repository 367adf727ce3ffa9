"""The first hour, in a browser: from the demo, Getting started on the admin index, the wizard's
plain default path to a contact sync whose initial run finishes, then the health pages. Counts
pages, clicks and typed fields, and makes the README's screenshots (each one must be possible).

`python3 dev.py screenshots` runs this with SCREENSHOTS_DIR=docs/img to remake the committed PNGs:
1366 wide, quantized to 256 colours (Pillow) so they stay small.
"""

import os
from pathlib import Path

import pytest
from django.urls import reverse

from connectors.errors import ErrorCategory
from connectors.models import Connection
from sandbox.hubspot import gate
from syncrules import demo
from syncrules.models import ObjectSync, RecordLink, SyncRun

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

from tests.browser.wizard_support import Counter, ensure_roles  # noqa: E402

WIDTH, MAX_HEIGHT = 1366, 1400
SHOTS = ("1-getting-started", "2-wizard-select", "3-wizard-configure", "4-wizard-limit", "5-wizard-review-preview",
         "6-sync-page", "7-health-overview", "8-errors", "9-record-story")


def save_png(page, folder: Path, name: str) -> Path:
    """A screenshot of the page (at most MAX_HEIGHT tall), quantized and optimised."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    height = min(page.evaluate("document.documentElement.scrollHeight"), MAX_HEIGHT)
    page.screenshot(path=str(path), clip={"x": 0, "y": 0, "width": WIDTH, "height": height}, full_page=True)
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(path, optimize=True)
    return path


@pytest.fixture
def demo_apps(live_server):
    ensure_roles()
    gate.reset_rate_limits()
    demo.seed(scale=demo.SMALL, site_url=live_server.url)
    assert [ok for _, ok, _ in demo.check()] == [True, True]


def test_from_the_demo_to_a_running_contact_sync_in_a_few_clicks(admin_login, page, demo_apps, tmp_path):
    folder = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path)
    shots: list[Path] = []
    page.set_viewport_size({"width": WIDTH, "height": 900})
    admin_login("/admin/")
    me = Counter(page, tmp_path / "full")
    me.pages = 0  # from the logged-in admin index with both apps connected
    box = page.inner_text("#getting-started")
    assert "Connected: HubSpot (demo), Salesforce (demo)" in box
    shots.append(save_png(page, folder, SHOTS[0]))

    me.click("#getting-started >> text=Open the wizard")
    # 1. Select object: the two demo apps and contacts are chosen already.
    assert page.input_value("select[name=connection_a]") == str(Connection.objects.get(name=demo.HUBSPOT_NAME).pk)
    assert page.input_value("select[name=connection_b]") == str(Connection.objects.get(name=demo.SALESFORCE_NAME).pk)
    assert page.is_checked("input[name=object_type][value=contacts]")
    shots.append(save_png(page, folder, SHOTS[1]))
    me.click("input[name=_next]")
    # 2. Configure: the default mappings.
    page.wait_for_selector("text=Data syncs between HubSpot (demo) and Salesforce (demo)")
    shots.append(save_png(page, folder, SHOTS[2]))
    me.click("input[name=_next][value='Next: Limit']")
    # 3. Limit: nothing to limit in the demo.
    page.wait_for_selector("text=Contacts are matched by email address")
    shots.append(save_png(page, folder, SHOTS[3]))
    me.click("input[name=_next][value='Next: Review']")
    # 4. Review, with the preview of what the initial run will do.
    me.click("button[name=_preview]", timeout=120_000)
    page.wait_for_selector("text=pairs would be matched", timeout=120_000)
    preview = page.inner_text("#preview")
    assert "Value too long" in preview  # the demo's long first name, before anything is written
    page.locator("#preview").scroll_into_view_if_needed()
    shots.append(save_png(page, folder, SHOTS[4]))
    me.click("button[name=_save][value=sync]", timeout=300_000)
    page.wait_for_selector("text=its initial sync has started", timeout=300_000)
    shots.append(save_png(page, folder, SHOTS[5]))
    report = me.report()
    print(f"\nFrom the admin index with both apps connected to a running contact sync: {report}")
    assert me.clicks < 15 and me.typed == 0, report

    sync = ObjectSync.objects.get()
    assert sync.state == ObjectSync.State.ACTIVE and sync.object_type == "contacts"
    run = SyncRun.objects.get(object_sync=sync)
    assert run.status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL), run.error
    assert run.matched == demo.SMALL.shared_contacts
    assert run.failed >= 1 and run.warned >= 1  # the invalid email fails, the long name warns

    # The health pages a new user goes to next (the README's tour).
    page.goto(f"{page.url.split('/admin/')[0]}{reverse('health:overview')}")
    assert "HubSpot (demo)" in page.inner_text("body")
    shots.append(save_png(page, folder, SHOTS[6]))
    page.goto(f"{page.url.split('/admin/')[0]}{reverse('health:errors', args=[sync.pk])}")
    assert "Invalid email address" in page.inner_text("body")
    shots.append(save_png(page, folder, SHOTS[7]))
    failing = RecordLink.objects.filter(object_sync=sync, error_category=ErrorCategory.INVALID_EMAIL.code).first()
    assert failing is not None
    page.goto(f"{page.url.split('/admin/')[0]}{reverse('health:story', args=[failing.pk])}")
    assert "Invalid email address" in page.inner_text("body")
    shots.append(save_png(page, folder, SHOTS[8]))

    for path in shots:  # every screenshot was made, 1366 wide and small
        from PIL import Image

        with Image.open(path) as image:
            assert image.width == WIDTH and image.height > 300, path
        assert 0 < path.stat().st_size < 400_000, path
