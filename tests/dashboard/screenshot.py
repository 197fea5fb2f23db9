"""Save a screenshot of the dashboard with demo-like data (docs/dashboard.png).

    .venv/bin/python -m tests.dashboard.screenshot [OUT.png]

Starts a receiver on a loopback port with a temporary database, pushes a morning's worth of
records from three terminals (one of them replaying a backlog) and a few alarms, opens the
dashboard in Debian's headless Chromium and writes the PNG.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Browser, expect, sync_playwright

from facepush.tools.records import RecordFactory
from tests.dashboard.helpers import CHROMIUM, LAUNCH_ARGS, Receiver, push, start_receiver
from tests.support.records import alarm

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "docs" / "dashboard.png"
TERMINALS = ["PSC700C0MC22F02542", "PSC700C0MC22F02611", "PSC700C0MC22F03007"]


def seed_demo(receiver: Receiver, records: int = 60) -> None:
    """Realistic traffic from three terminals, the last one delivering an old backlog."""
    now = int(time.time())
    factories = [
        RecordFactory(seed=11 + i, device_sn=sn, alarm_rate=0.0) for i, sn in enumerate(TERMINALS)
    ]
    count = records // len(TERMINALS)
    for n in range(count):
        for index, factory in enumerate(factories):
            envelope = factory.next()
            if index == 2:
                envelope["data"]["timestamp"] = now - 2 * 3600 + n * 60  # a backlog: late
            else:
                envelope["data"]["timestamp"] = now - (count - n) * 9
            push(receiver, envelope)
    ms = now * 1000
    push(
        receiver,
        alarm(
            trace_id="SPX-DEMO-001",
            code=10001,
            status=1,
            event_time=ms - 3_600_000,
            photo=3,
            description="case opened",
        ),
    )
    push(
        receiver,
        alarm(
            trace_id="SPX-DEMO-001",
            code=10001,
            status=3,
            event_time=ms - 3_000_000,
            photo=" ",
            description="handled on site",
        ),
    )
    push(
        receiver,
        alarm(
            trace_id="SPX-DEMO-002",
            code=10003,
            status=1,
            event_time=ms - 900_000,
            photo=5,
            description=" ",
        ),
    )
    push(
        receiver,
        alarm(
            trace_id="SPX-DEMO-002",
            code=10003,
            status=2,
            event_time=ms - 600_000,
            photo=" ",
            description="door still open",
        ),
    )
    push(
        receiver,
        alarm(
            trace_id="SPX-DEMO-003",
            code=10002,
            status=1,
            event_time=ms - 45_000,
            photo=1,
            description="north gate",
        ),
    )


def take_screenshot(browser: Browser, receiver: Receiver, out: Path) -> None:
    """Open the dashboard as a guard would and save what it shows."""
    context = browser.new_context(viewport={"width": 1440, "height": 1500}, device_scale_factor=1)
    try:
        page = context.new_page()
        page.goto(receiver.page())
        expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")
        expect(page.get_by_test_id("alarm").first).to_be_visible()
        expect(page.get_by_test_id("feed-row").nth(5)).to_be_visible()
        page.wait_for_function(
            "() => [...document.images]"
            ".filter(i => i.src && i.getBoundingClientRect().top < innerHeight)"
            ".every(i => i.complete && i.naturalWidth > 0)",
            timeout=10_000,
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out), full_page=False)
    finally:
        context.close()


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else DEFAULT_OUT
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        receiver = start_receiver(Path(tmp))
        try:
            seed_demo(receiver)
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
            try:
                take_screenshot(browser, receiver, out)
            finally:
                browser.close()
        finally:
            receiver.stop()
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
