"""Alarms are pinned at the top while open, with their kind in words, lifecycle and photo."""

from __future__ import annotations

import time
import uuid

from playwright.sync_api import Page, expect

from tests.dashboard.helpers import Receiver, image_size, open_dashboard, push
from tests.support.records import alarm


def test_alarm_is_pinned_until_cleared(page: Page, receiver: Receiver) -> None:
    open_dashboard(page, receiver)
    trace = f"SPX-{int(time.time() * 1000)}-{uuid.uuid4().hex[:6]}"
    raised_at = int(time.time() * 1000)
    push(
        receiver,
        alarm(trace_id=trace, code=10002, status=1, event_time=raised_at, photo=4, description=" "),
    )

    pinned = page.get_by_test_id("alarm-list").locator(f'[data-trace-id="{trace}"]')
    expect(pinned).to_be_visible(timeout=2_000)
    expect(pinned).to_have_attribute("data-open", "true")
    expect(pinned.get_by_test_id("alarm-kind")).to_have_text("door forced open")
    expect(pinned.get_by_test_id("alarm-lifecycle")).to_contain_text("alarm raised")
    photo = pinned.get_by_test_id("alarm-photo")
    expect(photo).to_be_visible()
    size = image_size(photo)
    assert size == [128, 96]  # the stored door photo, really loaded
    # Pinned above the live feed.
    alarms_box = page.get_by_test_id("alarms").bounding_box()
    feed_box = page.get_by_test_id("feed").bounding_box()
    assert alarms_box is not None and feed_box is not None
    assert alarms_box["y"] < feed_box["y"]
    # Kind in the vendor's words on demand.
    page.get_by_test_id("lang-toggle").click()
    expect(pinned.get_by_test_id("alarm-kind")).to_have_text("强制开门告警")
    page.get_by_test_id("lang-toggle").click()

    # Clearing fails, then succeeds: the lifecycle follows, and the alarm leaves the pin.
    push(
        receiver,
        alarm(
            trace_id=trace,
            code=10002,
            status=2,
            event_time=raised_at + 1000,
            photo=1,
            description=" ",
        ),
    )
    current = pinned.locator(".step.current")
    expect(current).to_contain_text("clearing failed", timeout=2_000)
    push(
        receiver,
        alarm(
            trace_id=trace,
            code=10002,
            status=3,
            event_time=raised_at + 2000,
            photo=1,
            description=" ",
        ),
    )
    expect(pinned).to_have_count(0, timeout=2_000)
    cleared = page.get_by_test_id("alarm-closed").locator(f'[data-trace-id="{trace}"]')
    expect(cleared).to_have_attribute("data-open", "false")
    expect(cleared.locator(".step.current")).to_contain_text("cleared")


def test_alarm_shows_its_raising_report(page: Page, receiver: Receiver) -> None:
    """Description, user and photo come with /api/alarms: the page asks /api/events for no
    alarm reports (nor for per-terminal counts)."""
    events_requests: list[str] = []
    page.on(
        "request",
        lambda r: events_requests.append(r.url) if "/api/events" in r.url else None,
    )
    trace = f"SPX-{int(time.time() * 1000)}-{uuid.uuid4().hex[:6]}"
    raised_at = int(time.time() * 1000)
    push(
        receiver,
        alarm(
            trace_id=trace,
            code=10001,
            status=1,
            event_time=raised_at,
            photo=5,
            user_id=1001,
            description="rear case opened",
        ),
    )
    open_dashboard(page, receiver)  # opened afterwards: nothing of it came on the stream
    pinned = page.get_by_test_id("alarm-list").locator(f'[data-trace-id="{trace}"]')
    expect(pinned.get_by_test_id("alarm-description")).to_have_text("rear case opened")
    expect(pinned.get_by_test_id("alarm-user")).to_contain_text("1001")
    photo = pinned.get_by_test_id("alarm-photo")
    assert image_size(photo) == [128, 96]
    src = photo.get_attribute("src") or ""
    # Cleared with a report of its own words: the card keeps the raising report's.
    push(
        receiver,
        alarm(
            trace_id=trace,
            code=10001,
            status=3,
            event_time=raised_at + 1,
            photo=" ",
            description=" ",
        ),
    )
    cleared = page.get_by_test_id("alarm-closed").locator(f'[data-trace-id="{trace}"]')
    expect(cleared.get_by_test_id("alarm-description")).to_have_text("rear case opened")
    expect(cleared.get_by_test_id("alarm-photo")).to_have_attribute("src", src)
    assert events_requests, "the feed and the search still read /api/events"
    assert not [u for u in events_requests if "type=1" in u or "device=" in u], events_requests
