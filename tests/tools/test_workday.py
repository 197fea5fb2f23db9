"""`facepush simulate --day`: a seeded working day, and the same day delivered live and as a
backlog the terminal kept while its receiver was down, giving the same attendance."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from click.testing import CliRunner

from facepush.cli import main
from facepush.receiver.attendance import AttendanceSettings, DateRange
from facepush.receiver.attendance.rules import reference
from facepush.tools.records import RecordFactory
from facepush.tools.workday import site_factory, workday
from tests.support.attendance import passages
from tests.support.processes import free_port
from tests.support.servers import http_json, start_device, start_receiver, wait_drained

BERLIN = ZoneInfo("Europe/Berlin")
DAY = date(2024, 3, 4)
SN = "GATE-SIM-01"


def local(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=BERLIN)


def test_a_working_day_is_seeded_and_realistic() -> None:
    def day(seed: int) -> list[dict[str, Any]]:
        factory = site_factory(DAY, BERLIN, seed=seed, device_sn=SN, images=False)
        return workday(factory, DAY, BERLIN)

    records = day(3)
    assert records == day(3) and records != day(4)
    times = [local(r["data"]["timestamp"] * 1000) for r in records]
    assert times == sorted(times)
    assert times[0].date() == DAY and times[0].hour >= 7
    assert times[-1].date() == DAY + timedelta(days=1)  # night shifts end the next morning
    settings = AttendanceSettings(day_starts="05:00", debounce=60)
    items = reference(passages(records), DateRange(DAY, DAY), settings, BERLIN, {})
    people = {p.user_id for p in RecordFactory(seed=3, images=False).people if p.kind == 1}
    present = {i.user_id for i in items} & people
    assert 0.85 * len(people) <= len(present) < len(people)  # a few stay home
    arrivals = sorted(local(i.first_in).time() for i in items if i.first_in is not None)
    assert str(arrivals[len(arrivals) // 2])[:2] in {"08", "09"}  # around 08:30
    nights = [i for i in items if i.last_out and local(i.last_out).date() > DAY]
    assert len(nights) == 3 and all(local(i.first_in or 0).hour >= 19 for i in nights)
    assert any(i.open for i in items)  # forgot to badge out
    assert any(i.passages >= 4 for i in items)  # lunch out and back in
    raw = len([r for r in records if r["data"]["pass"]])
    assert raw > sum(i.passages for i in items)  # repeats within seconds, counted once
    assert any(not r["data"]["pass"] for r in records)  # denied now and then


def test_bad_day_options_are_named() -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["simulate", "http://127.0.0.1:9", "--day", "4.3.2024"])
    assert result.exit_code == 2 and "--day" in result.output and "YYYY-MM-DD" in result.output
    result = runner.invoke(
        main, ["simulate", "http://127.0.0.1:9", "--day", "2024-03-04", "--timezone", "Nowhere/X"]
    )
    assert result.exit_code == 2 and "unknown time zone 'Nowhere/X'" in result.output
    result = runner.invoke(main, ["simulate", "http://x:9", "--day", "2024-03-04", "--count", "5"])
    assert result.exit_code == 2 and "leave out --count" in result.output


def simulate(device: str, tmp: Path) -> dict[str, Any]:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "facepush",
            "simulate",
            device,
            "--day",
            DAY.isoformat(),
            "--timezone",
            "Europe/Berlin",
            "--sn",
            SN,
            "--seed",
            "5",
            "--no-images",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp,
    )
    assert run.returncode == 0, run.stderr
    report: dict[str, Any] = json.loads(run.stdout)
    return report


def attendance(receiver: str) -> list[dict[str, Any]]:
    query = f"from={DAY}&to={DAY + timedelta(days=1)}"
    items: list[dict[str, Any]] = http_json(f"{receiver}/api/attendance?{query}")["data"]["items"]
    return items


def test_a_day_kept_by_a_terminal_whose_receiver_was_down_gives_the_same_attendance(
    tmp_path: Path,
) -> None:
    started = []
    try:
        live_rx, live_url = start_receiver(tmp_path, "--timezone", "Europe/Berlin", name="live")
        started.append(live_rx)
        live_dev, live_dev_url = start_device(tmp_path, name="live-dev")
        started.append(live_dev)
        late_dev, late_dev_url = start_device(tmp_path, name="late-dev")
        started.append(late_dev)
        late_port = free_port()  # where the second receiver will listen, the next morning
        for device, receiver in (
            (live_dev_url, live_url),
            (late_dev_url, f"http://127.0.0.1:{late_port}"),
        ):
            body = {"event_dest": f"{receiver}/Record", "enabled": True}
            assert http_json(f"{device}/v1/event/subscribe", body)["code"] == 200

        live, kept = simulate(live_dev_url, tmp_path), simulate(late_dev_url, tmp_path)
        assert live["accepted"] == kept["accepted"] == live["handed"] > 100
        wait_drained(live_dev_url, timeout=30)
        status = http_json(f"{late_dev_url}/push/status")["data"]
        assert status["queued"] == kept["accepted"] and status["delivered"] == 0  # kept all day

        late_rx, late_url = start_receiver(
            tmp_path, "--timezone", "Europe/Berlin", port=late_port, name="late"
        )
        started.append(late_rx)
        wait_drained(late_dev_url, timeout=60)
        from_live, from_backlog = attendance(live_url), attendance(late_url)
        assert from_backlog == from_live
        assert len(from_live) > 30 and any(item["open"] for item in from_live)
        print(f"\n[workday] {kept['accepted']} records, {len(from_live)} person-days, same")
    finally:
        for process in reversed(started):
            process.stop()
