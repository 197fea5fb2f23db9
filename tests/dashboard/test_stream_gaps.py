"""The dashboard with the receiver's byte bounds: when the stream says records were missed
(a client that fell behind is skipped forward), the page fetches them; a fleet beyond one
page of /api/devices is shown whole."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from playwright.sync_api import Page, Route, expect

from tests.dashboard.helpers import Receiver, push, start_receiver
from tests.support.records import recognition

MISSED = 'retry: 600000\n: connected\n\nevent: missed\ndata: {"missed": 1}\n\n'


def test_a_missed_notice_makes_the_page_fetch_what_it_missed(
    page: Page, receiver: Receiver
) -> None:
    record = recognition(device="GAP-1", name="Missed Person", user_id="u-gap", image=" ")
    key = f"r:{record['data']['uuid']}"

    def stream(route: Route) -> None:
        # The page has loaded its first records; this one is stored while the stream is
        # "behind": the stream never sends it, only says that one was missed. A retry of
        # ten minutes keeps the browser from reconnecting (which would also fetch).
        push(receiver, record)
        route.fulfill(status=200, headers={"Content-Type": "text/event-stream"}, body=MISSED)

    page.route("**/api/stream*", stream)
    response = page.goto(receiver.page())
    assert response is not None and response.status == 200
    row = page.locator(f'[data-testid="feed-row"][data-key="{key}"]')
    expect(row).to_be_visible(timeout=4_000)
    expect(row.get_by_test_id("name")).to_have_text("Missed Person")


def test_a_fleet_beyond_one_page_of_devices_is_shown_whole(page: Page, tmp_path: Path) -> None:
    fleet = start_receiver(tmp_path / "fleet")
    try:
        tag = uuid.uuid4().hex[:6].upper()
        serials = [f"F{tag}{i:04d}" for i in range(1001)]  # /api/devices pages 1,000

        def one(serial: str) -> None:
            push(fleet, recognition(device=serial, name="n", user_id="u", image=" "))

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(one, serials))
        page.goto(fleet.page())
        rows = page.get_by_test_id("terminal-row")
        expect(rows).to_have_count(1001, timeout=10_000)
        last = page.locator(f'[data-testid="terminal-row"][data-serial="{serials[-1]}"]')
        expect(last).to_have_count(1)
    finally:
        fleet.stop()
