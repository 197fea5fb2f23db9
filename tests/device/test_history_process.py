"""History (`POST /v1/event/records`) against a real `facepush device serve` process:
filters, priority, paging, sort, limit and total; every record in it whatever the push
cache did (evicted, or made while push was disabled: ruling H1); it survives a kill -9;
and TerminalClient pages through it transparently, also while the terminal drops old
records."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from facepush.client import TerminalClient
from tests.support.device import start_device
from tests.support.processes import Process, free_port
from tests.support.records import alarm, recognition

USER, PASSWORD = "admin", "s3cret-pw"
BASIC = {"Authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}
BASE = 1_700_000_000  # Unix seconds of the first test record
JSON = {"Content-Type": "application/json"}
PUSHED, DISABLED = 460, 10  # records made while push was on (cache of 5), then off


def record(n: int) -> dict[str, Any]:
    """Three records a second; users 5, 6, an unknown face and 7 (who shares 5's job)."""
    users = [
        {"name": "王五", "user_id": "5", "type": 1, "job_number": "J5", "ic_number": "C5"},
        {"name": "Anna", "user_id": "6", "type": 1, "job_number": "J6", "ic_number": "C6"},
        {"name": None, "user_id": None, "type": None},
        {"name": "Omar", "user_id": "7", "type": 2, "job_number": "J5", "ic_number": "C6"},
    ]
    return recognition(
        f"h-{n:04d}",
        device=None,
        timestamp=BASE + n // 3,
        passed=n % 4 != 2,
        recognition_type=0 if n % 4 == 2 else 1,
        user={**users[n % 4], "groups": [{"id": "1", "name": "g1"}]},
    )


def expected(ns: range | list[int], descending: bool = False) -> list[str]:
    ordered = sorted(ns, key=lambda n: BASE + n // 3, reverse=descending)  # stable: n order
    return [f"h-{n:04d}" for n in ordered]


async def post(url: str, body: Any, auth: dict[str, str] | None = BASIC) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession(headers=auth) as session,
        session.post(url, data=json.dumps(body), headers=JSON) as resp,
    ):
        return resp.status, json.loads(await resp.read())


async def records(url: str, **body: Any) -> dict[str, Any]:
    status, reply = await post(url + "/v1/event/records", body)
    assert status == 200 and reply["code"] == 200, reply
    return dict(reply["data"])


def uuids(page: dict[str, Any]) -> list[str]:
    return [item["uuid"] for item in page["items"]]


@pytest.fixture(scope="module")
def terminal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("history")
    account = ["--username", USER, "--password", PASSWORD, "--sn", "SN-H"]
    proc, url = start_device(tmp, "--data", str(tmp / "d"), "--cache-limit", "5", *account)
    yield url
    proc.stop()


@pytest.fixture(scope="module")
def filled(terminal: str) -> str:
    """The terminal with 460 recognitions and 10 alarms made while push was on with a
    cache of 5 and an unreachable receiver (465 evicted), then 10 while push was off."""

    async def fill() -> None:
        dead = f"http://127.0.0.1:{free_port()}/Record"  # nothing listens there
        config = {"event_dest": dead, "enabled": True}
        assert (await post(terminal + "/v1/event/subscribe", config))[0] == 200
        for i, start in enumerate(range(0, PUSHED, 5)):  # a batch must fit the cache
            batch = [record(n) for n in range(start, start + 5)]
            assert (await post(terminal + "/push/records", batch))[1]["data"]["accepted"] == 5
            if i % 10 == 0:  # ten alarms in all: not history's
                assert (await post(terminal + "/push/records", alarm(i)))[1]["code"] == 200
        await post(terminal + "/v1/event/subscribe", {"enabled": False})
        batch = [record(n) for n in range(PUSHED, PUSHED + DISABLED)]
        assert (await post(terminal + "/push/records", batch))[1]["data"]["skipped"] == DISABLED

    asyncio.run(fill())
    return terminal


async def test_history_keeps_what_the_push_cache_evicted_and_what_push_skipped(
    filled: str,
) -> None:
    async with (
        aiohttp.ClientSession(headers=BASIC) as session,
        session.get(filled + "/push/status") as resp,
    ):
        status = json.loads(await resp.read())["data"]
    assert status["cached"] == 5 and status["evicted"] == PUSHED + 10 - 5
    page = await records(filled, limit=0)
    assert page["total"] == PUSHED + DISABLED == status["history"]  # no alarm in history
    assert uuids(await records(filled, offset=0, limit=1)) == ["h-0000"]  # evicted first
    newest = await records(filled, sort=1, limit=2)
    assert uuids(newest) == ["h-0468", "h-0469"]  # made while push was off


async def test_filters_priority_paging_sort_limit_and_total(filled: str) -> None:
    everything = range(PUSHED + DISABLED)
    page = await records(filled, begin_time=BASE + 10, end_time=BASE + 12)  # inclusive
    assert uuids(page) == expected(range(30, 39)) and page["total"] == 9
    page = await records(filled, offset=3, limit=3)  # the vendor's request example
    assert (page["offset"], page["limit"], page["count"], page["total"]) == (3, 3, 3, 470)
    assert uuids(page) == expected(everything)[3:6]
    page = await records(filled, limit=500)  # more than 200 is taken as 200
    assert page["limit"] == 200 and page["count"] == 200 and page["total"] == 470
    assert uuids(await records(filled)) == expected(everything)[:100]  # default limit 100
    # descending by time; the three records of one second keep the terminal's order
    desc = await records(filled, sort=1, limit=6)
    assert uuids(desc) == ["h-0468", "h-0469", "h-0465", "h-0466", "h-0467", "h-0462"]
    assert uuids(desc) == expected(everything, descending=True)[:6]
    user5 = [n for n in everything if n % 4 == 0]
    both = await records(filled, user_id="5", job_number="J6", ic_number="C6", limit=200)
    assert uuids(both) == expected(user5) and both["total"] == len(user5)  # user_id wins
    job = await records(filled, user_id="", job_number="J5", ic_number="C6", limit=200)
    assert job["total"] == len([n for n in everything if n % 4 in (0, 3)])  # then job_number
    card = await records(filled, ic_number="C6", begin_time=BASE + 150, limit=200)
    assert uuids(card) == expected([n for n in everything if n % 4 in (1, 3) and n >= 450])


async def test_items_are_in_the_vendor_shape(filled: str) -> None:
    known, unknown = (await records(filled, offset=0, limit=3))["items"][0::2]
    assert list(known) == [
        "recognitionType",
        "entry_mode",
        "deviceSN",
        "abnormal_type",
        "uuid",
        "recognizeScore",
        "bodyTemperature",
        "mask",
        "rgb_image",
        "pass",
        "mode",
        "user",
        "timestamp",
        "groups",
    ]
    assert known["user"] == {
        "name": "王五",
        "user_id": "5",
        "type": 1,
        "ic_number": "C5",
        "id_number": "",
        "job_number": "J5",
    }
    assert known["groups"] == [{"id": "1", "name": "g1"}] and known["deviceSN"] == "SN-H"
    assert unknown["recognitionType"] == 0 and unknown["groups"] == []
    assert unknown["user"] == {
        "name": None,
        "user_id": "",
        "type": None,
        "ic_number": "",
        "id_number": "",
        "job_number": "",
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"begin_time": BASE + 5, "end_time": BASE + 4}, "end_time"),
        ({"limit": -1}, "limit"),
        ({"sort": 3}, "sort"),
        ({"begin": BASE}, "begin"),
    ],
)
async def test_a_bad_query_is_refused_naming_the_field(
    terminal: str, body: dict[str, Any], field: str
) -> None:
    status, reply = await post(terminal + "/v1/event/records", body)
    assert status == 400 and reply["code"] == 400 and reply["msg"].startswith(field), reply


async def test_history_needs_the_account(terminal: str) -> None:
    status, reply = await post(terminal + "/v1/event/records", {}, auth=None)
    assert status == 401 and reply["code"] == 401


async def test_the_client_pages_past_200_in_both_directions(filled: str) -> None:
    everything = range(PUSHED + DISABLED)
    async with TerminalClient(filled, username=USER, password=PASSWORD) as terminal:
        got = [item["uuid"] async for item in terminal.history()]
        assert got == expected(everything)
        got = [item["uuid"] async for item in terminal.history(descending=True, page_size=7)]
        assert got == expected(everything, descending=True)
        window = terminal.history(since=BASE + 100, until=BASE + 140, user_id="6", page_size=2)
        assert [i["uuid"] async for i in window] == expected(
            [n for n in range(300, 423) if n % 4 == 1]
        )


async def test_paging_misses_nothing_while_the_terminal_drops_its_oldest(tmp_path: Path) -> None:
    proc, url = start_device(tmp_path, "--data", str(tmp_path / "d"), "--history-limit", "300")
    try:
        await post(url + "/push/records", [record(n) for n in range(300)], auth=None)
        seen: list[str] = []
        async with TerminalClient(url) as terminal:
            async for item in terminal.history(page_size=100):
                seen.append(item["uuid"])
                if len(seen) == 100:  # 100 new records drop the 100 already listed
                    batch = [record(n) for n in range(300, 400)]
                    await post(url + "/push/records", batch, auth=None)
        assert seen == expected(range(400))  # by offset alone, 100 would have been skipped
    finally:
        proc.stop()


async def test_history_survives_kill9_and_a_lower_limit_drops_the_oldest(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    proc, url = start_device(tmp_path, "--data", data)
    restarted: Process | None = None
    try:
        for n in range(6):  # one request each: six commits
            await post(url + "/push/records", record(n), auth=None)
        proc.kill9()
        restarted, url = start_device(tmp_path, "--data", data, "--history-limit", "4")
        assert uuids(await records(url, limit=10)) == expected(range(2, 6))
    finally:
        proc.stop()
        if restarted is not None:
            restarted.stop()


async def test_a_record_the_full_cache_refuses_is_still_in_history(tmp_path: Path) -> None:
    args = ["--data", str(tmp_path / "d"), "--cache-limit", "2", "--when-full", "refuse-newest"]
    proc, url = start_device(tmp_path, *args)
    try:
        dead = f"http://127.0.0.1:{free_port()}/Record"
        await post(url + "/v1/event/subscribe", {"event_dest": dead, "enabled": True}, auth=None)
        assert (await post(url + "/push/records", [record(0), record(1)], auth=None))[0] == 200
        status, reply = await post(url + "/push/records", record(2), auth=None)
        assert status == 507 and "history keeps" in reply["msg"]  # made, not cached for push
        status, reply = await post(url + "/push/records", [record(n) for n in range(3, 6)], None)
        assert status == 507 and "cannot fit" in reply["msg"]  # a malformed batch: nowhere
        assert uuids(await records(url)) == expected(range(3))
    finally:
        proc.stop()
