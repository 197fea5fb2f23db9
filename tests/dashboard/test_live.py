"""The page loads, and records pushed to the receiver appear live with their snapshot."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from playwright.sync_api import Page, expect

from tests.dashboard.helpers import Receiver, get_json, image_size, now_s, open_dashboard, push
from tests.support.records import recognition


def test_page_loads_with_its_sections(page: Page, receiver: Receiver) -> None:
    open_dashboard(page, receiver)
    expect(page).to_have_title("facepush — access dashboard")
    for testid in ("alarms", "feed", "terminals", "filters", "results", "export"):
        expect(page.get_by_test_id(testid)).to_be_attached()
    expect(page.get_by_test_id("refused")).to_be_hidden()
    # The export link carries the token, so that a plain download is authorised.
    href = page.get_by_test_id("export").get_attribute("href") or ""
    assert href.startswith("/api/export.csv?") and f"token={receiver.token}" in href


def test_pushed_record_appears_live_with_snapshot(page: Page, receiver: Receiver) -> None:
    open_dashboard(page, receiver)
    device = f"LIVE{uuid.uuid4().hex[:8].upper()}"
    record = recognition(
        device=device,
        name="王五",
        user_id="u-live-1",
        passed=False,
        abnormal=70001,
        entry_mode=8,
        recognition_type=1,
        score=0.9302,
        temperature=36.8,
        image=7,
    )
    key = f"r:{record['data']['uuid']}"
    pushed = time.monotonic()
    push(receiver, record)
    row = page.locator(f'[data-testid="feed-row"][data-key="{key}"]')
    expect(row).to_be_visible(timeout=2_000)
    assert time.monotonic() - pushed < 2.5  # the 2 s budget, plus the push's own round trip

    # Newest first, and every field in words.
    expect(page.get_by_test_id("feed-row").first).to_have_attribute("data-key", key)
    expect(row.get_by_test_id("name")).to_have_text("王五")
    expect(row.get_by_test_id("pass")).to_have_text("DENY")
    expect(row.get_by_test_id("abnormal")).to_have_text("wrong PIN")
    expect(row.get_by_test_id("entry-mode")).to_have_text("face + PIN")
    expect(row.get_by_test_id("recognition-type")).to_have_text("employee")
    expect(row.get_by_test_id("score")).to_have_text("93.0%")
    expect(row.get_by_test_id("temperature")).to_have_text("36.8 °C")
    expect(row.get_by_test_id("terminal")).to_have_text(device)
    expect(row.get_by_test_id("late")).to_have_count(0)
    terminal = page.locator(f'[data-testid="terminal-row"][data-serial="{device}"]')
    expect(terminal).to_have_attribute("data-state", "online", timeout=4_000)
    expect(terminal.get_by_test_id("terminal-today")).to_have_text("1")

    # The snapshot is the stored JPEG, really loaded (the face drawing is 96 x 120).
    thumb = row.get_by_test_id("thumb")
    expect(thumb).to_be_visible()
    size = image_size(thumb)
    assert size == [96, 120]

    # The vendor's Chinese labels are a click away.
    page.get_by_test_id("lang-toggle").click()
    expect(row.get_by_test_id("abnormal")).to_have_text("PIN码错误")
    expect(row.get_by_test_id("pass")).to_have_text("拒绝")
    page.get_by_test_id("lang-toggle").click()
    expect(row.get_by_test_id("abnormal")).to_have_text("wrong PIN")

    # The record's detail view shows the full snapshot and every field.
    row.click()
    detail = page.get_by_test_id("detail")
    expect(detail).to_be_visible()
    expect(detail.locator("#detail-h")).to_have_text("王五")
    expect(page.get_by_test_id("detail-fields")).to_contain_text("face or card or QR code or PIN")
    expect(page.get_by_test_id("detail-fields")).to_contain_text(record["data"]["uuid"])
    image = page.get_by_test_id("detail-image")
    expect(image).to_have_attribute("src", f"{row.get_by_test_id('thumb').get_attribute('src')}")
    expect(page.get_by_test_id("detail-raw")).to_contain_text('"abnormal_type": 70001')
    page.get_by_test_id("detail-close").click()
    expect(detail).to_be_hidden()


def test_late_record_is_marked(page: Page, receiver: Receiver) -> None:
    open_dashboard(page, receiver)
    record = recognition(
        device="LATE0001",
        name="Anna Novak",
        user_id="u-late",
        timestamp=now_s() - 3 * 3600,
        image=1,
    )
    push(receiver, record)
    row = page.locator(f'[data-testid="feed-row"][data-key="r:{record["data"]["uuid"]}"]')
    expect(row).to_be_visible(timeout=2_000)
    expect(row.get_by_test_id("late")).to_have_text("LATE")
    expect(row.get_by_test_id("pass")).to_have_text("PASS")
    # The terminal delivering a backlog is shown as replaying it.
    terminal = page.locator('[data-testid="terminal-row"][data-serial="LATE0001"]')
    expect(terminal).to_have_attribute("data-state", "replaying", timeout=4_000)


def test_terminal_today_is_the_receivers_count(page: Page, receiver: Receiver) -> None:
    """Records today are those the receiver received today (its /api/devices `today`), a
    backlog record that happened two days ago included."""
    device = f"TODAY{uuid.uuid4().hex[:6].upper()}"
    push(
        receiver,
        recognition(
            device=device, name="Old", user_id="t-1", timestamp=now_s() - 2 * 86400, image=1
        ),
    )
    push(receiver, recognition(device=device, name="New", user_id="t-2", image=" "))
    open_dashboard(page, receiver)
    terminal = page.locator(f'[data-testid="terminal-row"][data-serial="{device}"]')
    expect(terminal.get_by_test_id("terminal-today")).to_have_text("2")
    push(receiver, recognition(device=device, name="Newer", user_id="t-3", image=" "))
    expect(terminal.get_by_test_id("terminal-today")).to_have_text("3", timeout=4_000)
    devices = {d["serial"]: d for d in get_json(receiver, "/api/devices")["items"]}
    assert devices[device]["today"] == 3


def test_feed_keeps_a_bounded_number_of_rows(page: Page, receiver: Receiver) -> None:
    """A burst of records: the feed shows the newest ones and never more than its cap."""
    open_dashboard(page, receiver)
    cap = page.evaluate("() => import('/static/js/feed.js').then(m => m.MAX_ROWS)")
    records = [
        recognition(device="BURST001", name=f"Person {i}", user_id=f"b{i}", image=" ")
        for i in range(cap + 30)
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda r: push(receiver, r), records))
    last = records[-1]["data"]["uuid"]
    expect(page.locator(f'[data-testid="feed-row"][data-key="r:{last}"]')).to_be_visible()
    expect(page.get_by_test_id("feed-row")).to_have_count(cap)
    # Still responsive: a click on a row opens its detail at once.
    page.get_by_test_id("feed-row").first.click()
    expect(page.get_by_test_id("detail")).to_be_visible(timeout=1_000)
