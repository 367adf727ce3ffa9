"""Shared pytest fixtures: a real browser, and hypothesis profiles."""

from __future__ import annotations

import os
import shutil

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
settings.register_profile(
    "ci", parent=settings.get_profile("default"), max_examples=60, derandomize=True
)
settings.load_profile("ci" if os.environ.get("CI") else "default")

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(autouse=True)
def _own_shared_api_usage(monkeypatch):
    """Daily API usage shared through Redis (REDIS_URL) starts empty in each test: sandbox orgs
    seeded alike would otherwise inherit one another's count."""
    import uuid

    from connectors import ratelimit

    name = f"syncsite-test-{uuid.uuid4().hex[:12]}"
    monkeypatch.setattr(ratelimit, "usage_namespace", lambda: name)


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium driven by Playwright; never a browser Playwright downloads itself."""
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing on CI: .ci/run should have installed it")
        pytest.skip(f"browser tests need {CHROMIUM} (apt-get install -y chromium)")
    # Playwright's sync API runs an event loop; Django refuses ORM calls from such a thread
    # unless told this is intended (the tests themselves are synchronous).
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


@pytest.fixture
def admin_login(page, live_server, admin_user):  # noqa: ARG001 (admin_user creates the account)
    """A browser page logged into the admin as a superuser ('admin' / 'password')."""

    def login(path: str = "/admin/"):
        page.goto(f"{live_server.url}/admin/login/?next={path}")
        page.fill("#id_username", "admin")
        page.fill("#id_password", "password")
        page.click("input[type=submit]")
        return page

    return login
