"""`/v1/device/time`, `/v1/device/info` and `/v2/datasync/ping` on a real `facepush device
serve` process: a terminal given a clock 5 minutes fast reports it, TerminalClient measures
the offset (ruling T1), its records carry that clock's time; the clock set by hand survives a
restart; the ping answers without credentials (ruling P1)."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from facepush.client import TerminalClient
from facepush.errors import AuthenticationError, TerminalRefused
from facepush.tools.records import RecordFactory
from facepush.tools.simulate import simulate
from tests.support.device import start_device

USER, PASSWORD = "admin", "s3cret-pw"
FAST_MS = 300_000  # 5 minutes
SN = "PSC700C0MC22F09999"


def http(url: str, body: Any = None, auth: bool = True) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    request.add_header("Content-Type", "application/json")
    if auth:
        pair = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        request.add_header("Authorization", f"Basic {pair}")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A terminal whose clock is 5 minutes fast, with an account."""
    tmp = tmp_path_factory.mktemp("fast")
    args = ["--data", str(tmp / "d"), "--clock-offset", "300", "--sn", SN]
    proc, url = start_device(tmp, *args, "--username", USER, "--password", PASSWORD)
    yield url
    proc.stop()


def client(url: str) -> TerminalClient:
    return TerminalClient(url, username=USER, password=PASSWORD)


async def test_a_clock_5_minutes_fast_is_reported_and_measured(fast: str) -> None:
    before = now_ms()
    status, raw = http(fast + "/v1/device/time")
    after = now_ms()
    data = json.loads(raw)["data"]
    assert status == 200 and data["manual_mode"] is True and data["time_zone"] == 8
    assert before + FAST_MS - 1000 <= data["local_time"] <= after + FAST_MS + 1000
    async with client(fast) as terminal:
        clock = await terminal.time()
    assert abs(clock.offset_ms - FAST_MS) <= 1000, clock
    assert clock.in_words == "clock 5 min fast"


async def test_records_carry_the_terminal_clocks_time(fast: str) -> None:
    http(fast + "/push/records", {"type": 0, "data": {"uuid": "no-time-given"}})
    async with client(fast) as terminal:
        report = await simulate(terminal, RecordFactory(seed=3, images=False), count=5)
        items = [i async for i in terminal.history()]
    host_s = now_ms() // 1000
    stamped = {i["uuid"]: i["timestamp"] for i in items}
    assert report.handed == 5 and len(stamped) >= 2  # the simulation's recognitions too
    for uuid, seconds in stamped.items():
        assert abs(seconds - (host_s + FAST_MS // 1000)) <= 5, (uuid, seconds, host_s)


async def test_info_names_the_terminal(fast: str) -> None:
    async with client(fast) as terminal:
        info = await terminal.info()
    assert info.device_sn == SN and info.model == "facepush-emulator"
    assert set(info.model_ver) == {
        "hunter",
        "august",
        "aligner",
        "headpose",
        "blur",
        "liveness",
        "feature",
        "attribute",
    }
    assert info.mac_wired.count(":") == 5 and info.api_ver


def test_ping_needs_no_credentials_and_the_rest_does(fast: str) -> None:
    assert http(fast + "/v2/datasync/ping", auth=False) == (
        200,
        b'{"code":200,"msg":"OK","data":null}',
    )
    for path in ("/v1/device/info", "/v1/device/time", "/v1/event"):
        status, raw = http(fast + path, auth=False)
        assert status == 401 and json.loads(raw)["code"] == 401, path
    assert http(fast + "/v1/device/time", {"time_zone": 5}, auth=False)[0] == 401


async def test_the_client_pings_without_logging_in(fast: str) -> None:
    async with TerminalClient(fast, username=USER, password="wrong") as terminal:
        assert 0 < await terminal.ping() < 5  # up, whatever the password
        with pytest.raises(AuthenticationError, match="wrong password"):
            await terminal.info()


async def test_the_clock_set_by_hand_survives_a_restart(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    proc, url = start_device(tmp_path, "--data", data)
    try:
        async with TerminalClient(url) as terminal:
            assert abs((await terminal.time()).offset_ms) < 1000  # the host's clock
            slow = await terminal.set_time(local_time=now_ms() - 90_000, manual_mode=True)
            assert abs(slow.offset_ms + 90_000) <= 1000 and slow.manual_mode
            with pytest.raises(TerminalRefused, match="time_zone"):
                await terminal.set_time(time_zone=13)
            with pytest.raises(TerminalRefused, match="local_time"):
                await terminal.set_time(local_time=now_ms() // 1000, manual_mode=True)  # seconds
        status, raw = http(url + "/v1/device/time", {"timezone": 5}, auth=False)
        assert status == 400 and json.loads(raw)["msg"].startswith("timezone")
        proc.stop()
        proc, url = start_device(tmp_path, "--data", data)
        async with TerminalClient(url) as terminal:
            again = await terminal.time()
            assert abs(again.offset_ms + 90_000) <= 1000 and again.manual_mode
        # NTP again: the vendor's own example sends local_time along, which then does nothing
        status, raw = http(
            url + "/v1/device/time",
            {"local_time": 1660038297736, "manual_mode": False, "time_zone": "+5"},
            auth=False,
        )
        reply = json.loads(raw)
        assert status == 200 and "local_time ignored" in reply["msg"]
        assert reply["data"]["manual_mode"] is False and reply["data"]["time_zone"] == 5
        assert abs(reply["data"]["local_time"] - now_ms()) < 1000
    finally:
        proc.stop()
