"""Managed terminals on the dashboard: a terminal whose clock is 3 min 12 s fast shows it in
words (the receiver's, in both languages), with what its history repaired; a terminal that
does not answer is offline with its error. Real receiver and terminal processes."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from tests.dashboard.helpers import TOKEN
from tests.receiver.managed import (
    USER,
    basic,
    call,
    receiver_config,
    record,
    start_receiver,
    wait_for,
)
from tests.support.device import start_device
from tests.support.processes import free_port

PASSWORD = "dash-terminal-pw"
AUTH = basic(PASSWORD)
SERIAL = "SN-DASH"


@dataclass
class Site:
    url: str  # the receiver's
    dead: str  # a managed terminal nothing answers at


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A terminal 192 s fast whose push cache of 5 dropped 15 of 20 records while the
    receiver was down; the receiver comes back managing it and a dead URL."""
    tmp = tmp_path_factory.mktemp("managed-dashboard")
    account = ["--username", USER, "--password", PASSWORD, "--sn", SERIAL]
    args = ["--data", str(tmp / "d"), "--cache-limit", "5", "--clock-offset", "192"]
    device, url = start_device(tmp, *args, *account)
    port = free_port()
    push_url = f"http://127.0.0.1:{port}/Record"
    dead = f"http://127.0.0.1:{free_port()}"
    rx_proc = None
    try:
        call(url + "/v1/event/subscribe", {"event_dest": push_url, "enabled": True}, AUTH)
        base = int(time.time()) - 3600
        for start in range(0, 20, 5):
            batch = [record(n, "dash", SERIAL, base) for n in range(start, start + 5)]
            call(url + "/push/records", batch, AUTH)
        config = receiver_config(
            tmp / "rx.toml",
            [{"url": url, "username": USER, "password_env": "DASH_PW"}, {"url": dead}],
            public_url=push_url,
            terminal_poll=0.5,
        )
        rx_proc, rx = start_receiver(
            tmp, config, "--token", TOKEN, env={"DASH_PW": PASSWORD}, port=port
        )
        token = {"Authorization": f"Bearer {TOKEN}"}
        wait_for(lambda: terminals_of(rx, token)[0]["reconciliations"], "a reconciliation")
        call(url + "/v1/event/subscribe", {"event_dest": push_url, "enabled": True}, AUTH)
        wait_for(lambda: call(url + "/push/status", headers=AUTH)["queued"] == 0, "delivery")
        wait_for(lambda: terminals_of(rx, token)[1]["pings"], "a ping of the dead one")
        assert terminals_of(rx, token)[0]["repaired"] == 15
        yield Site(rx, dead)
    finally:
        if rx_proc is not None:
            rx_proc.stop()
        device.stop()


def terminals_of(rx: str, headers: dict[str, str]) -> list[dict[str, object]]:
    return list(call(rx + "/api/terminals", headers=headers)["items"])


def test_the_terminal_list_shows_clock_words_repaired_and_errors(page: Page, site: Site) -> None:
    response = page.goto(f"{site.url}/?token={TOKEN}")
    assert response is not None and response.status == 200
    row = page.locator(f'[data-testid="terminal-row"][data-serial="{SERIAL}"]')
    # It answers its pings; it has just delivered a late backlog (for a minute: replaying).
    expect(row).to_have_attribute("data-state", re.compile("^(online|replaying)$"))
    expect(row.get_by_test_id("terminal-clock")).to_have_text("clock 3 min 12 s fast")
    expect(row.get_by_test_id("terminal-repaired")).to_have_text("15 repaired")
    expect(row.get_by_test_id("terminal-today")).to_have_text("20")
    expect(row.get_by_test_id("terminal-note")).to_have_count(0)

    dead = page.locator(f'[data-testid="terminal-row"][data-serial="{site.dead}"]')
    expect(dead).to_have_attribute("data-state", "offline")
    expect(dead.get_by_test_id("terminal-state")).to_have_text("offline")
    expect(dead.get_by_test_id("terminal-note")).to_contain_text("ping: ")
    expect(dead.get_by_test_id("terminal-clock")).to_have_text("clock not read yet")

    page.get_by_test_id("lang-toggle").click()
    expect(row.get_by_test_id("terminal-clock")).to_have_text("时钟快 3 分 12 秒")
    expect(row.get_by_test_id("terminal-repaired")).to_have_text("已补录 15")
    expect(dead.get_by_test_id("terminal-state")).to_have_text("离线")
    page.get_by_test_id("lang-toggle").click()  # the next test's page starts in English
