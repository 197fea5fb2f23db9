"""Fixtures of the dashboard tests: one receiver and one headless Chromium for the package,
a fresh browser context (own sessionStorage, downloads allowed) per test.

Package scope, not session: Playwright's sync API keeps an event loop running in the main
thread while it is started, which would break the asyncio tests of the other packages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests.dashboard.helpers import CHROMIUM, LAUNCH_ARGS, Receiver, start_receiver


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (.ci/run installs it)")
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, timeout=30_000)
    yield browser
    browser.close()


@pytest.fixture(scope="package")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    receiver = start_receiver(tmp_path_factory.mktemp("dashboard-receiver"))
    yield receiver
    receiver.stop()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": 1400, "height": 1000}, timezone_id="UTC", accept_downloads=True
    )
    context.set_default_timeout(5_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # The dashboard runs under a strict Content-Security-Policy: anything it blocks (an
    # inline style, a data: image, eval) is a defect of the page, reported here.
    page.on(
        "console",
        lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    yield page
    context.close()
    assert not errors, f"uncaught errors or CSP violations in the page: {errors}"
