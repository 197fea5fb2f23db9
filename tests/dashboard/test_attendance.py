"""The Attendance page: a simulated working day shows one row per person with the first in,
last out, hours and open days the rules give, in the receiver's zone (the browser runs in
UTC, the site in Europe/Berlin); filters and exports follow the form."""

from __future__ import annotations

import csv
import io
import json
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from facepush.receiver.attendance import AttendanceSettings, DateRange
from facepush.receiver.attendance.rules import AttendanceDay, reference
from facepush.tools.workday import site_factory, workday
from tests.dashboard.helpers import Receiver, push, start_receiver
from tests.support.attendance import passages

BERLIN = ZoneInfo("Europe/Berlin")
DAY = date(2024, 3, 4)
SN = "GATE-SIM-01"  # the serial tests.support.attendance.passages gives every record


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Receiver, list[AttendanceDay]]]:
    receiver = start_receiver(
        tmp_path_factory.mktemp("attendance-receiver"), extra=("--timezone", "Europe/Berlin")
    )
    try:
        factory = site_factory(DAY, BERLIN, seed=21, device_sn=SN, images=False, employees=30)
        records = workday(factory, DAY, BERLIN)
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda r: push(receiver, r), records))
        expected = reference(
            passages(records), DateRange(DAY, DAY), AttendanceSettings(), BERLIN, {}
        )
        yield receiver, expected
    finally:
        receiver.stop()


def clock(ms: int | None) -> str:
    if ms is None:
        return "—"
    when = datetime.fromtimestamp(ms / 1000, tz=BERLIN)
    text = when.strftime("%H:%M:%S")
    return text if when.date() == DAY else f"{when.date()} {text}"


def show(page: Page, **fields: str) -> None:
    form = page.get_by_test_id("att-filters")
    for name, value in fields.items():
        form.locator(f'[name="{name}"]').fill(value)
    page.get_by_test_id("att-show").click()
    expect(form).not_to_have_attribute("aria-busy", "true")


def test_a_simulated_day_shows_the_expected_rows(
    page: Page, site: tuple[Receiver, list[AttendanceDay]], tmp_path: Path
) -> None:
    receiver, expected = site
    assert len(expected) > 20 and any(item.open for item in expected)
    page.goto(receiver.page() + "#attendance")
    expect(page.get_by_test_id("attendance")).to_be_visible()
    expect(page.get_by_test_id("feed")).to_be_hidden()
    show(page, **{"from": DAY.isoformat()})
    rows = page.get_by_test_id("att-row")
    expect(rows).to_have_count(len(expected))
    shown = rows.evaluate_all(
        """rows => rows.map(r => [r.dataset.user,
            r.querySelector('[data-testid="att-first-in"]').textContent,
            r.querySelector('[data-testid="att-last-out"]').firstChild.textContent,
            r.querySelector('[data-testid="att-hours"]').textContent,
            r.classList.contains('is-open')])"""
    )

    def hours(item: AttendanceDay) -> str:
        if item.first_in is None or item.last_out is None:
            return "—"
        minutes = round((item.last_out - item.first_in) / 60_000)
        return f"{minutes // 60}:{minutes % 60:02d}"

    assert shown == [
        [i.user_id, clock(i.first_in), clock(i.last_out), hours(i), i.open] for i in expected
    ]
    opened = sum(item.open for item in expected)
    expect(page.get_by_test_id("att-info")).to_contain_text(
        f"{len(expected)} person-days ({opened} open)"
    )
    expect(page.locator("tr.is-open .chip.open").first).to_have_text("OPEN")

    # A person, then a terminal that saw nobody.
    one = expected[3]
    show(page, user_id=one.user_id)
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-user", one.user_id)
    show(page, user_id="", device="NO-SUCH-GATE")
    expect(rows).to_have_count(0)
    expect(page.get_by_test_id("att-info")).to_have_text("No passages in these days.")

    # The exports follow the form.
    show(page, device="")
    with page.expect_download(timeout=10_000) as info:
        page.get_by_test_id("att-csv").click()
    exported = list(csv.DictReader(io.StringIO(info.value.path().read_text(encoding="utf-8"))))
    assert [row["user_id"] for row in exported] == [item.user_id for item in expected]
    with page.expect_download(timeout=10_000) as info:
        page.get_by_test_id("att-xlsx").click()
    assert info.value.path().read_bytes()[:2] == b"PK"  # a zip: the workbook


def test_the_terminal_list_shows_each_direction(
    page: Page, site: tuple[Receiver, list[AttendanceDay]]
) -> None:
    receiver, _ = site
    request = urllib.request.Request(
        f"{receiver.url}/api/devices/{SN}",
        data=json.dumps({"direction": "in"}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {receiver.token}"},
        method="PUT",
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert json.load(reply)["data"]["direction"] == "in"
    page.goto(receiver.page())
    cell = page.locator(
        f'[data-testid="terminal-row"][data-serial="{SN}"] [data-testid="terminal-direction"]'
    )
    expect(cell).to_have_text("in")
    expect(cell).to_have_attribute("title", "api")
