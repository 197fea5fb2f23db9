"""A hostile web page in the user's browser (real Chromium, another loopback origin) tries
what issue 10 found: reconfigure a terminal and inject a record into the receiver with
no-CORS writes and a text/plain form, frame the dashboard, and run injected script in
it. Each attempt reaches the servers and is refused."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext

from tests.dashboard.helpers import Receiver, get_json
from tests.support.processes import LOOPBACK, Process, free_port, wait_http
from tests.support.records import recognition

EVIL_DEST = "http://attacker.example/Record"


@pytest.fixture(scope="module")
def terminal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("cross-site-terminal")
    process = Process(
        ["device", "serve", "--listen", f"{LOOPBACK}:0", "--data", str(tmp / "data")],
        tmp / "device.log",
    )
    try:
        yield process.wait_listening()
    finally:
        process.stop()


@pytest.fixture(scope="module")
def attacker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A static web server on another loopback origin (`localhost`, another port)."""
    root = tmp_path_factory.mktemp("attacker")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", LOOPBACK, "-d", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_http(f"http://{LOOPBACK}:{port}/", timeout=20)
        yield f"http://localhost:{port}", root
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    # Its own context: the refusals below are logged by Chromium as CSP violations, which
    # the `page` fixture counts as defects of the dashboard.
    context = browser.new_context()
    context.set_default_timeout(10_000)
    yield context
    context.close()


def subscription(terminal: str) -> object:
    with urllib.request.urlopen(terminal + "/v1/event/subscribe", timeout=10) as response:
        return json.load(response)["data"]


def stored(receiver: Receiver, key: str) -> bool:
    try:
        get_json(receiver, "/api/events/" + key)
    except urllib.error.HTTPError as exc:
        assert exc.code == 404
        return False
    return True


ATTACK = """async ([terminal, receiver, dest, record]) => {
  const post = (url, body) =>
    fetch(url, {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body})
      .then(() => "sent", (err) => String(err));
  return [
    await post(terminal + "/v1/event/subscribe", JSON.stringify({event_dest: dest, enabled: true})),
    await post(receiver + "/Record", JSON.stringify(record)),
  ];
}"""

# The classic JSON-through-a-form trick: enctype text/plain sends `name=value` verbatim.
FORM = """<!doctype html><form method="post" enctype="text/plain" action="{action}">
<input name='{{"event_dest":"{dest}","enabled":true,"x":"' value='"}}'></form>
<script>document.forms[0].submit()</script>"""


def test_a_web_page_cannot_write_to_the_terminal_or_the_receiver(
    context: BrowserContext, receiver: Receiver, terminal: str, attacker: tuple[str, Path]
) -> None:
    origin, root = attacker
    (root / "index.html").write_text("<!doctype html><title>cat pictures</title>")
    before = subscription(terminal)
    record = recognition(device="EVIL0001", name="Injected", user_id="x", image=" ")
    record["data"]["uuid"] = str(uuid.uuid4())
    page = context.new_page()
    page.goto(origin + "/index.html")
    sent = page.evaluate(ATTACK, [terminal, receiver.url, EVIL_DEST, record])
    assert sent == ["sent", "sent"]  # the requests went out and reached the servers
    (root / "form.html").write_text(
        FORM.format(action=terminal + "/v1/event/subscribe", dest=EVIL_DEST)
    )
    page.goto(origin + "/form.html")
    page.wait_for_url(terminal + "/v1/event/subscribe")
    reply = json.loads(page.locator("body").inner_text())
    assert reply["code"] == 403 and "cross-site request refused" in reply["msg"]
    assert subscription(terminal) == before
    assert not stored(receiver, "r:" + record["data"]["uuid"])


def test_a_web_page_cannot_frame_the_dashboard(
    context: BrowserContext, receiver: Receiver, attacker: tuple[str, Path]
) -> None:
    origin, root = attacker
    (root / "frame.html").write_text(
        f'<!doctype html><iframe src="{receiver.page()}" width="800" height="600"></iframe>'
    )
    page = context.new_page()
    page.goto(origin + "/frame.html", wait_until="load")
    frame = page.frames[1]
    assert frame.locator('[data-testid="dashboard"]').count() == 0
    assert not frame.url.startswith(receiver.url)  # Chromium's error page, not the dashboard


def test_injected_script_does_not_run_in_the_dashboard(
    context: BrowserContext, receiver: Receiver
) -> None:
    page = context.new_page()
    page.goto(receiver.page())
    ran = page.evaluate(
        """() => {
          const s = document.createElement("script");
          s.textContent = "window.__injected = true";
          document.head.append(s);
          return window.__injected === true;
        }"""
    )
    assert ran is False
