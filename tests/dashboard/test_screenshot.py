"""The screenshot script (docs/dashboard.png) keeps working: demo data in, a PNG out."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from playwright.sync_api import Browser

from tests.dashboard.helpers import get_json, start_receiver
from tests.dashboard.screenshot import TERMINALS, seed_demo, take_screenshot


def test_screenshot_of_demo_data(browser: Browser, tmp_path: Path) -> None:
    receiver = start_receiver(tmp_path / "data")
    try:
        seed_demo(receiver, records=15)
        stats = get_json(receiver, "/api/stats")
        assert stats["recognitions"] == 15 and stats["alarms"] == 5
        out = tmp_path / "dashboard.png"
        take_screenshot(browser, receiver, out)
    finally:
        receiver.stop()
    with Image.open(out) as image:
        assert image.format == "PNG" and image.size == (1440, 1500)
        # Not a blank page: the dark top bar and the coloured badges are there.
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
        assert colours is not None and len(colours) > 200
    assert len(TERMINALS) == 3
