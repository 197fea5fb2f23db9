"""200 terminals with backlogs reconnect to one receiver at once: nothing is lost, the
receiver answers its health check throughout, and its memory stays bounded."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from facepush.tools.fleet import FleetOptions, run_fleet
from tests.faults.conftest import http_json, report, start_receiver

DEVICES = 200
BACKLOG = 50
HEALTH_TIMEOUT_S = 2.0
RSS_BOUND_MB = 300


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of a process, in MB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


async def test_fleet_of_200_reconnecting_at_once(tmp_path: Path) -> None:
    receiver, url = start_receiver(tmp_path)
    pid = receiver.proc.pid
    checks: list[float] = []
    failures: list[str] = []

    async def watch_health(done: asyncio.Event) -> None:
        timeout = aiohttp.ClientTimeout(total=HEALTH_TIMEOUT_S)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while not done.is_set():
                started = time.monotonic()
                try:
                    async with session.get(url + "/healthz") as resp:
                        await resp.read()
                        if resp.status != 200:
                            failures.append(f"HTTP {resp.status}")
                except (aiohttp.ClientError, TimeoutError) as exc:
                    failures.append(type(exc).__name__)
                checks.append(time.monotonic() - started)
                await asyncio.sleep(0.1)

    try:
        done = asyncio.Event()
        watcher = asyncio.create_task(watch_health(done))
        fleet = await run_fleet(
            FleetOptions(url + "/Record", devices=DEVICES, backlog=BACKLOG, seed=3, deadline=240)
        )
        done.set()
        await watcher
        _, peak = rss_mb(pid)
        stats = await asyncio.to_thread(http_json, url + "/api/stats")
    finally:
        receiver.stop()
    data = stats["data"]
    report(
        "200 terminals reconnect",
        terminals=DEVICES,
        records=fleet.records,
        acknowledged=fleet.acknowledged,
        requests=fleet.sent,
        stored=data["recognitions"] + data["alarms"],
        duplicates_refused=data["duplicates"],
        seconds=round(fleet.seconds, 1),
        health_checks=len(checks),
        slowest_health_ms=round(max(checks) * 1000),
        receiver_peak_rss_mb=round(peak),
    )
    assert fleet.complete and fleet.acknowledged == DEVICES * BACKLOG
    assert data["recognitions"] + data["alarms"] == DEVICES * BACKLOG
    assert data["devices"] == DEVICES
    assert not failures, failures[:5]
    assert len(checks) >= 5
    assert peak < RSS_BOUND_MB
