"""Search and filters over /api/events, paging with "load more", and the CSV export."""

from __future__ import annotations

import csv
import io
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from playwright.sync_api import Page, expect

from tests.dashboard.helpers import Receiver, open_dashboard, push
from tests.support.records import alarm, recognition


def local_input(seconds: int) -> str:
    """A datetime-local value; the test's browser context runs in UTC."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def search(page: Page, **fields: str) -> None:
    form = page.get_by_test_id("filters")
    for name, value in fields.items():
        control = form.locator(f'[name="{name}"]')
        if control.evaluate("el => el.tagName") == "SELECT":
            control.select_option(value)
        else:
            control.fill(value)
    page.get_by_test_id("search").click()
    expect(form).not_to_have_attribute("aria-busy", "true")


def shown_keys(page: Page) -> set[str]:
    return {
        key
        for key in page.get_by_test_id("result").evaluate_all(
            "rows => rows.map(r => r.dataset.key)"
        )
    }


def test_filters_narrow_the_list_and_export_honours_them(page: Page, receiver: Receiver) -> None:
    tag = uuid.uuid4().hex[:6].upper()
    dev_a, dev_b = f"SRCH{tag}A", f"SRCH{tag}B"
    person, other = f"p-{tag}", f"q-{tag}"
    base = int(time.time()) - 3600
    records = {
        "a_pass_1": recognition(device=dev_a, name="Lena", user_id=person, timestamp=base, image=1),
        "a_pass_2": recognition(
            device=dev_a, name="Lena", user_id=person, timestamp=base + 600, image=1
        ),
        "a_deny": recognition(
            device=dev_a,
            name="Omar",
            user_id=other,
            passed=False,
            abnormal=20002,
            timestamp=base + 1200,
            image=1,
        ),
        "b_pass": recognition(
            device=dev_b, name="Lena", user_id=person, timestamp=base + 1800, image=1
        ),
    }
    for record in records.values():
        push(receiver, record)
    trace = f"SPX-SRCH-{tag}"
    push(
        receiver,
        alarm(
            trace_id=trace, code=10004, status=1, user_id=int(tag, 16), photo=" ", description=" "
        ),
    )
    key = {name: f"r:{r['data']['uuid']}" for name, r in records.items()}

    open_dashboard(page, receiver)
    search(page, device=dev_a)
    assert shown_keys(page) == {key["a_pass_1"], key["a_pass_2"], key["a_deny"]}
    expect(page.get_by_test_id("result-info")).to_have_text("3 records shown")

    search(page, **{"pass": "false"})
    assert shown_keys(page) == {key["a_deny"]}
    row = page.get_by_test_id("result").first
    expect(row).to_contain_text("outside allowed passage time")
    expect(row.get_by_test_id("pass")).to_have_text("DENY")

    search(page, device="", user_id=person, **{"pass": ""})
    assert shown_keys(page) == {key["a_pass_1"], key["a_pass_2"], key["b_pass"]}

    # Time range: only the second of Lena's three passages.
    search(page, since=local_input(base + 300), until=local_input(base + 900))
    assert shown_keys(page) == {key["a_pass_2"]}

    # Type: the alarm report of one user, not the recognitions.
    search(page, user_id=str(int(tag, 16)), since="", until="", type="1")
    rows = page.get_by_test_id("result")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("password attack")

    # The export downloads the filtered rows as CSV.
    search(page, type="", user_id="", device=dev_a, **{"pass": "true"})
    with page.expect_download(timeout=5_000) as info:
        page.get_by_test_id("export").click()
    path = info.value.path()
    exported = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert {row["key"] for row in exported} == {key["a_pass_1"], key["a_pass_2"]}
    assert {row["device"] for row in exported} == {dev_a}
    assert {row["pass"] for row in exported} == {"true"}

    # A result opens the record's detail view.
    page.get_by_test_id("result").first.click()
    expect(page.get_by_test_id("detail")).to_be_visible()
    expect(page.get_by_test_id("detail-fields")).to_contain_text(dev_a)


def test_load_more_pages_with_the_cursor(page: Page, receiver: Receiver) -> None:
    device = f"PAGE{uuid.uuid4().hex[:6].upper()}"
    records = [
        recognition(device=device, name=f"Visitor {i}", user_id=f"v{i}", image=" ")
        for i in range(130)
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda r: push(receiver, r), records))

    open_dashboard(page, receiver)
    search(page, device=device)
    rows = page.get_by_test_id("result")
    expect(rows).to_have_count(100)
    expect(page.get_by_test_id("result-info")).to_have_text("100 records shown, more available")
    page.get_by_test_id("load-more").click()
    expect(rows).to_have_count(130)
    expect(page.get_by_test_id("load-more")).to_be_hidden()
    assert shown_keys(page) == {f"r:{r['data']['uuid']}" for r in records}
