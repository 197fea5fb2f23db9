"""The attendance endpoints on a real receiver (loopback HTTP): JSON, CSV, XLSX, terminal
directions through PUT /api/devices/{serial}, and every bad input named."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from click.testing import CliRunner

from facepush.receiver import Store, open_store
from facepush.receiver.attendance import AttendanceSettings
from facepush.receiver.cli import receiver
from tests.support.receiver import Running, Serve
from tests.support.records import recognition

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def backend() -> str:
    return "sqlite"  # the store's query runs on both backends in test_attendance_rules


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = open_store(db_url, zone=BERLIN)  # the zone of the receivers served here
    try:
        yield opened
    finally:
        opened.close()


def at(local: str) -> int:
    return int(datetime.fromisoformat(local).replace(tzinfo=BERLIN).timestamp() * 1000)


def shown(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=BERLIN).strftime("%H:%M")


async def push_day(rx: Running) -> None:
    """Anna in at the gate (IN-1) and out at the exit (OUT-1); Omar at the lobby (both)."""
    day = [
        ("7", "Anna", "IN-1", "2024-03-04 08:00"),
        ("7", "Anna", "OUT-1", "2024-03-04 12:00"),
        ("7", "Anna", "IN-1", "2024-03-04 12:45"),
        ("8", '=HYPERLINK("http://x")', "LOBBY", "2024-03-04 09:00"),
        ("8", '=HYPERLINK("http://x")', "LOBBY", "2024-03-04 18:00"),
        ("7", "Anna", "OUT-1", "2024-03-05 17:00"),
    ]
    for n, (user, name, device, when) in enumerate(day):
        record = recognition(
            f"api-{n}",
            device=device,
            user_id=user,
            timestamp=at(when),
            user={"name": name, "user_id": user, "type": 1},
        )
        assert (await rx.push(record))[0] == 200


async def table(rx: Running, **query: str) -> list[tuple[Any, ...]]:
    reply = await rx.get("/api/attendance", **query)
    return [
        (
            i["day"],
            i["user_id"],
            shown(i["first_in"]),
            shown(i["last_out"]),
            i["passages"],
            i["devices"],
            i["open"],
        )
        for i in reply["data"]["items"]
    ]


async def put(rx: Running, serial: str, body: Any, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    async with rx.session.put(f"{rx.url}/api/devices/{serial}", json=body, **kwargs) as resp:
        return resp.status, await resp.json(content_type=None)


async def test_attendance_follows_the_directions_set_and_configured(serve: Serve) -> None:
    settings = AttendanceSettings(direction={"IN-1": "in"})
    rx = await serve(timezone="Europe/Berlin", attendance=settings)
    await push_day(rx)
    # OUT-1 is still `both`: Anna's 12:00 is her last out, 12:45 (an in-gate) leaves her in.
    assert await table(rx, **{"from": "2024-03-04"}) == [
        ("2024-03-04", "7", "08:00", "12:00", 3, ["IN-1", "OUT-1"], True),
        ("2024-03-04", "8", "09:00", "18:00", 2, ["LOBBY"], False),
    ]
    assert await put(rx, "OUT-1", {"direction": "out"}) == (
        200,
        {
            "code": 200,
            "msg": "OK",
            "data": {"serial": "OUT-1", "direction": "out", "direction_from": "api"},
        },
    )
    # The stored direction wins over the configured one.
    assert (await put(rx, "IN-1", {"direction": "both"}))[1]["data"]["direction_from"] == "api"
    devices = {d["serial"]: d for d in (await rx.get("/api/devices"))["data"]["items"]}
    assert {s: (d["direction"], d["direction_from"]) for s, d in devices.items()} == {
        "IN-1": ("both", "api"),
        "OUT-1": ("out", "api"),
        "LOBBY": ("both", "default"),
    }
    # null removes the stored value: the configuration applies again.
    status, reply = await put(rx, "IN-1", {"direction": None})
    assert (status, reply["data"]["direction"], reply["data"]["direction_from"]) == (
        200,
        "in",
        "config",
    )
    assert await table(rx, **{"from": "2024-03-04", "to": "2024-03-05"}) == [
        ("2024-03-04", "7", "08:00", "12:00", 3, ["IN-1", "OUT-1"], True),
        ("2024-03-04", "8", "09:00", "18:00", 2, ["LOBBY"], False),
        ("2024-03-05", "7", None, "17:00", 1, ["OUT-1"], False),
    ]
    assert await table(rx, **{"from": "2024-03-04", "user_id": "8"}) == [
        ("2024-03-04", "8", "09:00", "18:00", 2, ["LOBBY"], False),
    ]
    assert await table(rx, **{"from": "2024-03-04", "device": "OUT-1"}) == [
        ("2024-03-04", "7", None, "12:00", 1, ["OUT-1"], False),
    ]
    assert await table(rx, **{"from": "2024-02-01", "to": "2024-02-29"}) == []


async def test_csv_and_xlsx(serve: Serve) -> None:
    rx = await serve(timezone="Europe/Berlin")
    await push_day(rx)
    query = {"from": "2024-03-04", "to": "2024-03-05"}
    async with rx.session.get(f"{rx.url}/api/attendance.csv", params=query) as resp:
        assert resp.status == 200 and resp.content_type == "text/csv"
        assert "attendance-2024-03-04-to-2024-03-05.csv" in resp.headers["Content-Disposition"]
        rows = list(csv.reader(io.StringIO(await resp.text())))
    assert rows == [
        ["day", "user_id", "name", "first_in", "last_out", "hours", "passages", "devices", "open"],
        [
            "2024-03-04",
            "7",
            "Anna",
            "2024-03-04 08:00:00",
            "2024-03-04 12:45:00",
            "4.75",
            "3",
            "IN-1 OUT-1",
            "false",
        ],
        # A name that a spreadsheet would run as a formula is neutralised.
        [
            "2024-03-04",
            "8",
            '\'=HYPERLINK("http://x")',
            "2024-03-04 09:00:00",
            "2024-03-04 18:00:00",
            "9.00",
            "2",
            "LOBBY",
            "false",
        ],
        ["2024-03-05", "7", "Anna", "2024-03-05 17:00:00", "", "", "1", "OUT-1", "true"],
    ]
    async with rx.session.get(f"{rx.url}/api/attendance.xlsx", params=query) as resp:
        assert resp.status == 200
        assert resp.content_type.endswith("spreadsheetml.sheet")
        data = await resp.read()
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book["Attendance"]
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    assert cells == [
        [
            "Day",
            "User ID",
            "Name",
            "First in",
            "Last out",
            "Hours",
            "Passages",
            "Terminals",
            "Open",
        ],
        [
            datetime(2024, 3, 4),
            "7",
            "Anna",
            datetime(2024, 3, 4, 8),
            datetime(2024, 3, 4, 12, 45),
            4.75,
            3,
            "IN-1 OUT-1",
            False,
        ],
        [
            datetime(2024, 3, 4),
            "8",
            '=HYPERLINK("http://x")',
            datetime(2024, 3, 4, 9),
            datetime(2024, 3, 4, 18),
            9,
            2,
            "LOBBY",
            False,
        ],
        [datetime(2024, 3, 5), "7", "Anna", datetime(2024, 3, 5, 17), None, None, 1, "OUT-1", True],
    ]
    # A string cell, not a formula: the name is text in the workbook.
    assert sheet["C3"].data_type == "s"
    assert sheet["D2"].number_format == "yyyy-mm-dd hh:mm:ss"
    widths = {k: v.width for k, v in sheet.column_dimensions.items()}
    assert widths["C"] >= len('=HYPERLINK("http://x")') and widths["D"] >= 19
    assert sheet.freeze_panes == "A2"


@pytest.mark.parametrize(
    ("query", "msg"),
    [
        ({"from": "2024-03-05", "to": "2024-03-01"}, "to: 2024-03-01 is before from (2024-03-05)"),
        ({"from": "2024-01-01", "to": "2025-01-01"}, "to: the range has 367 days; ask for at"),
        ({"to": "2024-01-01"}, "from: required: a local date YYYY-MM-DD"),
        ({"from": "04.03.2024"}, "from: '04.03.2024' is not a date YYYY-MM-DD"),
        ({"from": "2024-03-04", "user_id": ""}, "user_id: must not be empty"),
        ({"from": "2024-03-04", "person": "7"}, "person: unknown parameter"),
        ({"from": "2024-W10-1"}, "from: '2024-W10-1' is not a date YYYY-MM-DD"),
        ({"from": "20240304xx"}, "from: '20240304xx' is not a date YYYY-MM-DD"),
        ({"from": "２０２４-03-04"}, "from: '２０２４-03-04' is not a date YYYY-MM-DD"),
        ({"from": "2024-03-04", "user_id": "a\x00b"}, "user_id: contains NUL"),
    ],
)
async def test_bad_queries_are_named_400s(serve: Serve, query: dict[str, str], msg: str) -> None:
    rx = await serve(timezone="Europe/Berlin")
    for path in ("/api/attendance", "/api/attendance.csv", "/api/attendance.xlsx"):
        status, reply = await rx.status_of(path, params=query)
        assert (status, reply["code"]) == (400, 400), (path, reply)
        assert reply["msg"].startswith(msg), reply


async def test_bad_directions_are_named(serve: Serve) -> None:
    rx = await serve(timezone="Europe/Berlin")
    await push_day(rx)
    status, reply = await put(rx, "LOBBY", {"direction": "sideways"})
    assert (status, reply["msg"]) == (
        400,
        'direction: \'sideways\' is not a direction; use "in", "out" or "both" (or null)',
    )
    status, reply = await put(rx, "LOBBY", {"direction": "in", "name": "x"})
    assert (status, reply["msg"]) == (400, "name: unknown field (only direction can be set)")
    status, reply = await put(rx, "LOBBY", ["in"])
    assert status == 400 and reply["msg"].startswith("body: expected")
    status, reply = await put(rx, "LOB%00BY", {"direction": "in"})
    assert status == 400 and reply["msg"].startswith("serial: contains NUL"), reply
    status, reply = await put(rx, "GATE-NEVER-SEEN", {"direction": "in"})
    assert status == 404 and "[attendance.direction]" in reply["msg"]
    # A management write: JSON only, and never from another site.
    async with rx.session.put(
        f"{rx.url}/api/devices/LOBBY",
        data="direction=in",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ) as r:
        assert r.status == 415
    status, _ = await put(
        rx, "LOBBY", {"direction": "in"}, headers={"Origin": "http://evil.example"}
    )
    assert status == 403
    devices = (await rx.get("/api/devices"))["data"]["items"]
    assert {d["serial"]: d["direction"] for d in devices}["LOBBY"] == "both"


def test_bad_settings_stop_the_start(tmp_path: Path) -> None:
    result = CliRunner().invoke(receiver, ["serve", "--timezone", "Europe/Berlinn"])
    assert result.exit_code == 1
    assert "--timezone: unknown time zone 'Europe/Berlinn' (did you mean" in result.output
    config = tmp_path / "receiver.toml"
    config.write_text('[attendance]\nday_starts = "4:00"\n')
    result = CliRunner().invoke(receiver, ["serve", "--config", str(config)])
    assert result.exit_code == 1
    assert f"{config}: attendance.day_starts: '4:00' is not HH:MM" in result.output
