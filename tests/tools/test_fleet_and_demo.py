"""`facepush fleet` against a real receiver, counting every record on both sides, and
`facepush demo` from start to a clean stop."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from facepush.cli import main
from tests.support.processes import Process, free_port, wait_http


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    process = Process(
        ["receiver", "serve", "--listen", f"127.0.0.1:{port}", "--data", str(tmp_path / "rcv")],
        tmp_path / "receiver.log",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/healthz", timeout=20)
        yield url
    finally:
        process.stop()


def test_fleet_delivers_every_record_exactly_once(receiver: str) -> None:
    result = CliRunner().invoke(
        main,
        [
            "fleet",
            receiver + "/Record",
            "--devices",
            "20",
            "--backlog",
            "60",
            "--rate",
            "5",
            "--duration",
            "1",
            "--seed",
            "4",
            "--json",
            "--deadline",
            "120",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    live = report["records"] - 20 * 60
    assert 20 * 5 <= live <= 20 * 6  # five or six live records per terminal in one second
    assert report["acknowledged"] == report["records"]
    assert report["set_aside"] == 0 and report["complete"] is True
    assert report["sent"] == report["acknowledged"] + report["retried"]
    stats = _get(receiver + "/api/stats")["data"]
    assert stats["recognitions"] + stats["alarms"] == report["records"]
    assert stats["duplicates"] == 0
    assert stats["devices"] == 20
    assert report["latency_ms"]["p50"] <= report["latency_ms"]["p99"] <= report["latency_ms"]["max"]


def test_fleet_reports_failure_when_the_receiver_is_gone() -> None:
    result = CliRunner().invoke(
        main,
        [
            "fleet",
            f"http://127.0.0.1:{free_port()}/Record",
            "--devices",
            "2",
            "--backlog",
            "3",
            "--deadline",
            "2",
            "--json",
        ],
    )
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["acknowledged"] == 0 and report["complete"] is False
    assert report["retried"] == report["sent"] > 0
    assert "not every record was acknowledged within 2 s" in result.stderr


def test_fleet_refuses_a_bad_push_url() -> None:
    result = CliRunner().invoke(main, ["fleet", "ftp://h/Record"])
    assert result.exit_code == 2 and "event_dest: must be an http or https URL" in result.stderr


def test_demo_starts_feeds_and_stops_cleanly(tmp_path: Path) -> None:
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "facepush",
            "demo",
            "--listen",
            f"127.0.0.1:{free_port()}",
            "--data",
            str(tmp_path),
            "--rate",
            "10",
            "--forward",
            "webhook",  # the mode without any broker
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Secrets exported for real services must not make the demo's parts refuse one
        # another (the stats below are read without a token).
        env={**os.environ, "FACEPUSH_TOKEN": "exported-for-production", "FACEPUSH_PASSWORD": "x"},
        start_new_session=True,  # its own process group: the demo and all its children
    )
    try:
        lines = _read_until(demo, "Press Ctrl-C to stop", timeout=60)
        base = re.search(r"dashboard\s+(\S+)/\n", lines)
        terminals = re.findall(r"terminal\s+(\S+)/push/status", lines)
        assert base and len(terminals) == 2, lines
        assert re.search(r"seed (\d+) \(--seed \1 repeats it\)", lines), lines
        deadline = time.monotonic() + 30
        stats: dict[str, int] = {}
        while time.monotonic() < deadline:
            stats = _get(base.group(1) + "/api/stats")["data"]
            if stats["recognitions"] >= 20 and stats["devices"] == 2:
                break
            time.sleep(0.2)
        assert stats["recognitions"] >= 20 and stats["devices"] == 2, stats
        # Forwarding shows without a broker: the demo's own webhook consumer gets records.
        hook = re.search(r"forwarding\s+\S+/api/forward -> webhook (\S+) \(GET it\)", lines)
        assert hook, lines
        got: dict[str, object] = {}
        while time.monotonic() < deadline:
            got = _get(hook.group(1))["data"]
            if int(got["received"]) >= 10:  # type: ignore[call-overload]
                break
            time.sleep(0.2)
        assert int(got["received"]) >= 10, got  # type: ignore[call-overload]
        [sink] = _get(base.group(1) + "/api/forward")["data"]["items"]
        assert sink["name"] == "demo-webhook" and sink["last_error"] is None, sink
        demo.send_signal(signal.SIGINT)
        out, err = demo.communicate(timeout=30)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):  # children left behind by a failure
            os.killpg(demo.pid, signal.SIGKILL)
    assert demo.returncode == 0, err
    assert "facepush demo stopped" in out
    for url in [base.group(1), *terminals]:  # every child is gone
        with pytest.raises(OSError):
            urllib.request.urlopen(url + "/healthz", timeout=2)


def _read_until(process: subprocess.Popen[str], marker: str, timeout: float) -> str:
    assert process.stdout is not None
    text, deadline = "", time.monotonic() + timeout
    while marker not in text and time.monotonic() < deadline and process.poll() is None:
        text += process.stdout.readline()
    assert marker in text, text + (process.stderr.read() if process.stderr else "")
    return text


def _fleet(push_url: str, *args: str) -> tuple[dict[str, Any], str]:
    result = CliRunner().invoke(
        main, ["fleet", push_url, "--devices", "3", "--backlog", "40", "--json", *args]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result.stderr


def test_runs_without_a_seed_push_new_records_and_say_how_to_repeat(receiver: str) -> None:
    first, said = _fleet(receiver + "/Record")
    seed = first["seed"]
    assert f"seed {seed} (repeat this run with --seed {seed})" in said
    second, _ = _fleet(receiver + "/Record")
    assert second["seed"] != seed
    stats = _get(receiver + "/api/stats")["data"]
    assert stats["duplicates"] == 0  # the second run measured new records, not duplicates
    assert stats["recognitions"] + stats["alarms"] == first["records"] + second["records"]
    again, said = _fleet(receiver + "/Record", "--seed", str(seed))
    assert again["seed"] == seed and "repeat this run" not in said
    repeated = _get(receiver + "/api/stats")["data"]
    assert repeated["recognitions"] == stats["recognitions"]  # the same uuids again
    assert repeated["duplicates"] > 0


def test_seeds_and_fleet_terminals_never_share_uuids(receiver: str, tmp_path: Path) -> None:
    device = Process(
        ["device", "serve", "--listen", "127.0.0.1:0", "--data", str(tmp_path / "dev")],
        tmp_path / "device.log",
    )
    try:
        url = device.wait_listening()
        runner = CliRunner()
        assert (
            runner.invoke(main, ["subscribe", url, "--dest", receiver + "/Record"]).exit_code == 0
        )
        # Before, `simulate --seed 1` repeated the uuids of fleet --seed 0's terminal 1.
        simulated = runner.invoke(
            main, ["simulate", url, "--seed", "1", "--count", "40", "--no-images", "--json"]
        )
        assert simulated.exit_code == 0, simulated.output
        assert json.loads(simulated.stdout)["seed"] == 1
        fleet, _ = _fleet(receiver + "/Record", "--seed", "0")
        deadline = time.monotonic() + 30
        while _get(url + "/push/status")["data"]["queued"]:
            assert time.monotonic() < deadline, "the terminal did not drain"
            time.sleep(0.05)
    finally:
        device.stop()
    stats = _get(receiver + "/api/stats")["data"]
    assert stats["duplicates"] == 0
    assert stats["recognitions"] + stats["alarms"] == 40 + fleet["records"]


def test_demo_forwards_to_mqtt_when_a_broker_answers() -> None:
    from facepush.tools.demo import forward_kind

    assert forward_kind("auto", lambda: True) == "mqtt"
    assert forward_kind("auto", lambda: False) == "webhook"
    assert forward_kind("webhook", lambda: True) == "webhook"
    assert forward_kind("none", lambda: True) is None
