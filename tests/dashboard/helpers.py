"""Shared by the dashboard tests and the screenshot script: a real receiver process, pushes
over loopback, and Debian's Chromium (records: tests/support/records.py)."""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, expect

from tests.support.processes import LOOPBACK, Process, free_port, wait_http

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TOKEN = "dashboard-test-token"


@dataclass
class Receiver:
    url: str
    token: str
    process: Process

    def page(self, token: str | None = None) -> str:
        return f"{self.url}/?token={token if token is not None else self.token}"

    def stop(self) -> int:
        return self.process.stop()


def start_receiver(
    data: Path, token: str = TOKEN, port: int | None = None, extra: tuple[str, ...] = ()
) -> Receiver:
    """`facepush receiver serve` on a loopback port, answering /healthz."""
    port = port or free_port()
    data.mkdir(parents=True, exist_ok=True)
    args = ["receiver", "serve", "--listen", f"{LOOPBACK}:{port}", "--data", str(data), *extra]
    process = Process([*args, "--token", token], data / f"receiver-{port}.log")
    url = f"http://{LOOPBACK}:{port}"
    try:
        wait_http(f"{url}/healthz", timeout=20)
    except TimeoutError:
        process.stop()
        raise AssertionError(f"receiver did not start:\n{process.output()}") from None
    return Receiver(url, token, process)


def push(receiver: Receiver, envelope: dict[str, Any]) -> None:
    """POST one record to the push endpoint; fails unless the receiver acknowledged it."""
    request = urllib.request.Request(
        f"{receiver.url}/Record",
        data=json.dumps(envelope).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        reply = json.load(response)
    assert reply["code"] == 200, reply


def get_json(receiver: Receiver, path: str) -> Any:
    request = urllib.request.Request(
        f"{receiver.url}{path}", headers={"Authorization": f"Bearer {receiver.token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["data"]


def now_s() -> int:
    return int(time.time())


def image_size(img: Locator) -> list[int]:
    """[width, height] of a loaded <img>, [0, 0] when it failed to load or decode."""
    size: list[int] = img.evaluate(
        "img => new Promise(ok => img.decode()"
        ".then(() => ok([img.naturalWidth, img.naturalHeight]), () => ok([0, 0])))"
    )
    return size


def open_dashboard(page: Page, receiver: Receiver) -> None:
    response = page.goto(receiver.page())
    assert response is not None and response.status == 200
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")
