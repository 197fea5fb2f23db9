"""Alarms are pinned at the top while open, with their kind in words, lifecycle and photo."""

from __future__ import annotations

import time
import uuid

from playwright.sync_api import Page, expect

from tests.dashboard.helpers import Receiver, alarm, image_size, push
from tests.dashboard.test_live import open_dashboard


def test_alarm_is_pinned_until_cleared(page: Page, receiver: Receiver) -> None:
    open_dashboard(page, receiver)
    trace = f"SPX-{int(time.time() * 1000)}-{uuid.uuid4().hex[:6]}"
    raised_at = int(time.time() * 1000)
    push(receiver, alarm(trace_id=trace, code=10002, status=1, event_time=raised_at, photo=4))

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
    push(receiver, alarm(trace_id=trace, code=10002, status=2, event_time=raised_at + 1000))
    current = pinned.locator(".step.current")
    expect(current).to_contain_text("clearing failed", timeout=2_000)
    push(receiver, alarm(trace_id=trace, code=10002, status=3, event_time=raised_at + 2000))
    expect(pinned).to_have_count(0, timeout=2_000)
    cleared = page.get_by_test_id("alarm-closed").locator(f'[data-trace-id="{trace}"]')
    expect(cleared).to_have_attribute("data-open", "false")
    expect(cleared.locator(".step.current")).to_contain_text("cleared")
