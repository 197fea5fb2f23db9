"""`facepush history | info | time | ping | watch` through click's runner, against real
terminal emulators (`facepush device serve` processes)."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from facepush.cli import main
from tests.support.device import start_device
from tests.support.processes import free_port
from tests.support.servers import start_device as start_on
from tests.support.terminals import PASSWORD, USERNAME, Terminal

BASE = 1_700_000_000
SN = "PSC700C0MC22F07777"
ACCOUNT = ["--username", USERNAME, "--password", PASSWORD]


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def hand_over(url: str, body: Any) -> dict[str, Any]:
    request = urllib.request.Request(url + "/push/records", data=json.dumps(body).encode())
    request.add_header("Content-Type", "application/json")
    pair = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    request.add_header("Authorization", f"Basic {pair}")
    with urllib.request.urlopen(request, timeout=10) as resp:
        return dict(json.loads(resp.read()))


def live_clients(url: str) -> int:
    request = urllib.request.Request(url + "/push/status")
    pair = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    request.add_header("Authorization", f"Basic {pair}")
    with urllib.request.urlopen(request, timeout=10) as resp:
        return int(json.loads(resp.read())["data"]["live_clients"])


def wait_for(check: Any, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} not reached within {timeout} s"
        time.sleep(0.05)


def record(n: int) -> dict[str, Any]:
    user = {"name": f"P{n % 2}", "user_id": str(5 + n % 2), "type": 1, "job_number": f"J{n % 2}"}
    return {
        "type": 0,
        "data": {"uuid": f"c-{n:04d}", "timestamp": BASE + n, "pass": True, "user": user},
    }


@pytest.fixture(scope="module")
def terminal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A terminal with an account, a clock 5 minutes fast and 250 records in history."""
    tmp = tmp_path_factory.mktemp("cli")
    args = ["--data", str(tmp / "d"), "--sn", SN, "--clock-offset", "300", *ACCOUNT]
    proc, url = start_device(tmp, *args)
    for start in range(0, 250, 50):
        hand_over(url, [record(n) for n in range(start, start + 50)])
    yield url
    proc.stop()


def test_history_json_with_filters(terminal: str) -> None:
    since = dt.datetime.fromtimestamp(BASE + 10).isoformat()  # local time, as typed
    result = invoke(
        "history", terminal, *ACCOUNT, "--json", "--user-id", "5", "--since", since,
        "--until", str(BASE + 230),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    got = [json.loads(line)["uuid"] for line in result.stdout.splitlines()]
    assert got == [f"c-{n:04d}" for n in range(10, 231, 2)]
    assert result.stderr.strip() == f"{len(got)} records"


def test_history_csv_pages_past_200(terminal: str) -> None:
    result = invoke("history", terminal, *ACCOUNT, "--csv", "--basic")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["uuid"] for r in rows] == [f"c-{n:04d}" for n in range(250)]
    assert rows[3]["user_id"] == "6" and rows[3]["timestamp"] == str(BASE + 3)
    assert rows[3]["has_image"] == "False" and rows[3]["deviceSN"] == SN


def test_history_lines_newest_first(terminal: str) -> None:
    result = invoke("history", terminal, *ACCOUNT, "--newest-first", "--job-number", "J0")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 125 and lines[0].endswith("c-0248") and lines[-1].endswith("c-0000")
    assert "pass" in lines[0] and "P0 (user 5, job J0)" in lines[0]


def test_history_bad_options_name_the_option(terminal: str) -> None:
    result = invoke("history", terminal, "--since", "yesterday")
    assert result.exit_code == 2 and "--since" in result.stderr and "ISO" in result.stderr
    result = invoke("history", terminal, "--json", "--csv")
    assert result.exit_code == 2 and "not both" in result.stderr
    result = invoke("history", terminal, "--since", "2024-05-02", "--until", "2024-05-01")
    assert result.exit_code == 2 and "--until" in result.stderr
    result = invoke("history", terminal)  # no account
    assert result.exit_code == 1 and "requires a login" in result.stderr


def test_info_time_and_ping(terminal: str) -> None:
    result = invoke("info", terminal, *ACCOUNT, "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["device_sn"] == SN
    assert f"device_sn: {SN}" in invoke("info", terminal, *ACCOUNT).stdout
    result = invoke("time", terminal, *ACCOUNT, "--json")
    clock = json.loads(result.stdout)
    assert result.exit_code == 0 and abs(clock["offset_ms"] - 300_000) <= 1000
    result = invoke("time", terminal, *ACCOUNT)
    assert "clock 5 min fast" in result.stdout and "set by hand" in result.stdout
    result = invoke("ping", terminal)  # no account needed
    assert result.exit_code == 0 and result.stdout.startswith(f"{terminal}: up (")
    dead = f"http://127.0.0.1:{free_port()}"
    result = invoke("ping", dead, "--timeout", "2")
    assert result.exit_code == 1 and "no answer" in result.stderr


def test_info_over_https_with_the_shared_trust_options(secure_terminal: Terminal) -> None:
    result = invoke("info", secure_terminal.url, *ACCOUNT, "--ca", str(secure_terminal.ca_file))
    assert result.exit_code == 0 and "model: facepush-emulator" in result.stdout
    result = invoke("info", secure_terminal.url, *ACCOUNT)
    assert result.exit_code == 1 and "--ca" in result.stderr


def test_time_set_and_ntp(tmp_path: Path) -> None:
    proc, url = start_device(tmp_path, "--data", str(tmp_path / "d"))
    try:
        result = invoke("time", url, "--set", str(int(time.time()) - 3600), "--json")
        assert result.exit_code == 0, result.output
        assert abs(json.loads(result.stdout)["offset_ms"] + 3_600_000) <= 1500
        result = invoke("time", url, "--ntp", "--time-zone", "-5")
        assert result.exit_code == 0 and "clock right" in result.stdout and "-5" in result.stdout
    finally:
        proc.stop()


class Watch:
    """`facepush watch ...` run by click's runner on a thread."""

    def __init__(self, *args: str) -> None:
        self.result: Result | None = None
        self.thread = threading.Thread(target=self._run, args=args, daemon=True)
        self.thread.start()

    def _run(self, *args: str) -> None:
        self.result = invoke("watch", *args)

    def join(self, timeout: float = 20.0) -> Result:
        self.thread.join(timeout)
        assert self.result is not None, "watch did not end"
        return self.result


def test_watch_prints_one_line_per_event(terminal: str) -> None:
    watch = Watch(terminal, *ACCOUNT, "--json", "--count", "3")
    wait_for(lambda: live_clients(terminal) == 1, "watch connected")
    hand_over(terminal, [record(n) for n in range(900, 902)])
    hand_over(terminal, {"type": 1, "data": {"trace_id": "T", "status": 1, "event_time": 1}})
    hand_over(terminal, record(902))
    result = watch.join()
    assert result.exit_code == 0, result.output
    got = [json.loads(line)["uuid"] for line in result.stdout.splitlines()]
    assert got == ["c-0900", "c-0901", "c-0902"]
    assert "watching" in result.stderr


def test_watch_reconnects_when_the_terminal_restarts_or_exits_if_told(tmp_path: Path) -> None:
    dead = invoke("watch", f"http://127.0.0.1:{free_port()}", "--timeout", "2")
    assert dead.exit_code == 1 and "no answer" in dead.stderr  # never connected: exits
    port = free_port()
    proc, url = start_on(tmp_path, *ACCOUNT, port=port)
    try:
        watch = Watch(url, *ACCOUNT, "--json", "--count", "2")
        wait_for(lambda: live_clients(url) == 1, "watch connected")
        hand_over(url, record(1))
        proc.stop()
        proc, _ = start_on(tmp_path, *ACCOUNT, port=port)
        wait_for(lambda: live_clients(url) == 1, "watch connected again")
        hand_over(url, record(2))
        result = watch.join()
        assert result.exit_code == 0, result.output
        assert [json.loads(line)["uuid"] for line in result.stdout.splitlines()] == [
            "c-0001",
            "c-0002",
        ]
        assert "going away" in result.stderr and "reconnecting in 1 s" in result.stderr
        once = Watch(url, *ACCOUNT, "--no-reconnect")
        wait_for(lambda: live_clients(url) == 1, "watch connected")
        proc.stop()
        result = once.join()
        assert result.exit_code == 1 and "going away" in result.stderr
    finally:
        proc.stop()
