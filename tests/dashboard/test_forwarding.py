"""The Forwarding panel: each sink's state, lag and last error in words, from a real
receiver forwarding to a real HTTP consumer and to an address where nothing listens."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.dashboard.helpers import Receiver, get_json, open_dashboard, push, start_receiver
from tests.support.processes import LOOPBACK, free_port
from tests.support.records import recognition


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def forwarding_receiver(tmp_path: Path) -> Iterator[tuple[Receiver, str, str]]:
    hook = ThreadingHTTPServer((LOOPBACK, 0), _Hook)
    thread = threading.Thread(target=hook.serve_forever, daemon=True)
    thread.start()
    good = f"http://{LOOPBACK}:{hook.server_address[1]}/hook"
    dead = f"http://{LOOPBACK}:{free_port()}/hook"
    receiver = start_receiver(tmp_path / "rx", extra=("--forward", good, "--forward", dead))
    try:
        yield receiver, good, dead
    finally:
        receiver.stop()
        hook.shutdown()
        hook.server_close()


def _sinks(receiver: Receiver) -> dict[str, dict[str, object]]:
    return {s["url"]: s for s in get_json(receiver, "/api/forward")["items"]}


def test_the_panel_shows_each_sink_in_words(
    page: Page, forwarding_receiver: tuple[Receiver, str, str]
) -> None:
    receiver, good, dead = forwarding_receiver
    for n in range(3):
        push(receiver, recognition(device="FWD-DASH", name=f"P{n}", user_id=str(n), image=1))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        sinks = _sinks(receiver)
        # The dead sink behind by at least a second, so that its lag shows as "1 s" or more.
        if (
            sinks[good]["forwarded"] == 3
            and sinks[dead]["last_error"]
            and sinks[dead]["lag_s"] >= 1
        ):
            break
        time.sleep(0.1)
    assert sinks[good]["forwarded"] == 3, sinks
    open_dashboard(page, receiver)
    panel = page.get_by_test_id("forwarding")
    expect(panel).to_be_visible()
    rows = panel.get_by_test_id("sink-row")
    expect(rows).to_have_count(2)
    ok = panel.locator(f'[data-sink="{sinks[good]["name"]}"]')
    expect(ok.get_by_test_id("sink-state")).to_have_text("up to date")
    expect(ok.get_by_test_id("sink-forwarded")).to_have_text("3")
    expect(ok.get_by_test_id("sink-pending")).to_have_text("0")
    expect(ok.get_by_test_id("sink-error")).to_have_text("—")
    down = panel.locator(f'[data-sink="{sinks[dead]["name"]}"]')
    expect(down.get_by_test_id("sink-state")).to_have_text("retrying")
    expect(down.get_by_test_id("sink-pending")).to_have_text("3")
    expect(down.get_by_test_id("sink-error")).to_contain_text(f"cannot connect to {dead}")
    lag = down.get_by_test_id("sink-lag").text_content() or ""
    assert re.fullmatch(r"[1-9]\d* (s|min)", lag), lag  # behind since the records came
    expect(ok.get_by_test_id("sink-lag")).to_have_text("0 s")
    page.get_by_test_id("lang-toggle").click()
    expect(down.get_by_test_id("sink-state")).to_have_text("重试中")
    expect(page.locator("#forwarding-h")).to_have_text("转发")
    page.get_by_test_id("lang-toggle").click()


def test_the_panel_is_hidden_without_sinks(page: Page, receiver: Receiver) -> None:
    open_dashboard(page, receiver)
    expect(page.get_by_test_id("forwarding")).to_be_hidden()
