"""A wrong or missing token is refused: no data reaches the browser, and it is told why."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.dashboard.helpers import Receiver, open_dashboard, push, start_receiver
from tests.support.records import recognition


def test_wrong_or_missing_token_is_refused(page: Page, receiver: Receiver) -> None:
    push(receiver, recognition(device="TOKEN001", name="Secret Person", user_id="s-1", image=1))
    for url in (receiver.page("wrong-token"), f"{receiver.url}/"):
        response = page.goto(url)
        assert response is not None and response.status == 401
        body = page.locator("body").inner_text()
        assert "token" in body.lower()
        assert "Access refused: open /?token=… with the receiver's token" in body
        assert "Secret Person" not in body and "TOKEN001" not in body
        expect(page.get_by_test_id("feed")).to_have_count(0)
    # Nor do the assets, the labels or the stream open without it.
    for path in ("/static/js/main.js", "/dashboard/labels.json", "/api/stream", "/api/events"):
        status = page.request.get(f"{receiver.url}{path}?token=wrong").status
        assert status == 401, path


def test_page_says_so_when_its_token_stops_working(page: Page, tmp_path: Path) -> None:
    """The receiver restarts with another token: the open page drops its data and says why."""
    first = start_receiver(tmp_path / "data", token="first-token-0123456")
    port = int(first.url.rsplit(":", 1)[1])
    second = None
    try:
        push(first, recognition(device="ROTATE01", name="Visible Before", user_id="r-1", image=1))
        open_dashboard(page, first)
        expect(page.get_by_test_id("feed-row")).to_have_count(1)
        first.stop()
        second = start_receiver(tmp_path / "data", token="second-token-0123456", port=port)
        refused = page.get_by_test_id("refused")
        expect(refused).to_be_visible(timeout=10_000)
        expect(refused).to_contain_text("Access refused")
        expect(refused).to_contain_text("token")
        expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "refused")
        expect(page.get_by_test_id("dashboard")).to_be_hidden()
        expect(page.get_by_test_id("feed-row")).to_have_count(0)
        # Entering the right token opens the dashboard again.
        page.get_by_test_id("token-form").locator("input").fill("second-token-0123456")
        page.get_by_test_id("token-form").locator("button").click()
        expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")
        expect(page.get_by_test_id("feed-row")).to_have_count(1)
    finally:
        if second is not None:
            second.stop()
        first.stop()
