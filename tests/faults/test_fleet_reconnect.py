"""200 terminals with backlogs reconnect to one receiver at once: nothing is lost, the
receiver answers its health check throughout, and its memory stays bounded."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from facepush.tools.fleet import Fleet, FleetOptions
from tests.support.servers import http_json, report, start_receiver

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
    fleet = Fleet(FleetOptions(url + "/Record", devices=DEVICES, backlog=BACKLOG, deadline=240))
    total = DEVICES * BACKLOG
    checks: list[float] = []
    checked_at: list[int] = []  # records acknowledged when each health check was made
    failures: list[str] = []

    async def watch_health(done: asyncio.Event) -> None:
        # Paced by progress, not by the clock: one check per 2% of the drain.
        timeout = aiohttp.ClientTimeout(total=HEALTH_TIMEOUT_S)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while not done.is_set():
                progress = fleet.acknowledged()
                started = time.monotonic()
                try:
                    async with session.get(url + "/healthz") as resp:
                        await resp.read()
                        if resp.status != 200:
                            failures.append(f"HTTP {resp.status}")
                except (aiohttp.ClientError, TimeoutError) as exc:
                    failures.append(type(exc).__name__)
                checks.append(time.monotonic() - started)
                checked_at.append(progress)
                while not done.is_set() and fleet.acknowledged() < progress + total // 50:
                    await asyncio.sleep(0.005)

    done = asyncio.Event()
    watcher = asyncio.create_task(watch_health(done))
    try:
        report_ = await fleet.run()
        done.set()
        await asyncio.wait_for(watcher, 2 * HEALTH_TIMEOUT_S)
        _, peak = rss_mb(pid)
        stats = await asyncio.to_thread(http_json, url + "/api/stats")
    finally:
        done.set()
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        receiver.stop()
    data = stats["data"]
    mid_drain = [n for n in checked_at if 0 < n < total]
    report(
        "200 terminals reconnect",
        terminals=DEVICES,
        records=report_.records,
        acknowledged=report_.acknowledged,
        requests=report_.sent,
        stored=data["recognitions"] + data["alarms"],
        duplicates_refused=data["duplicates"],
        seconds=round(report_.seconds, 1),
        health_checks=len(checks),
        checks_mid_drain=len(mid_drain),
        slowest_health_ms=round(max(checks) * 1000),
        receiver_peak_rss_mb=round(peak),
    )
    assert report_.complete and report_.acknowledged == total
    assert data["recognitions"] + data["alarms"] == DEVICES * BACKLOG
    assert data["devices"] == DEVICES
    assert not failures, failures[:5]
    # Answered throughout the drain, not just before and after it.
    assert len(mid_drain) >= 3 and min(mid_drain) < total // 2 <= max(mid_drain), checked_at
    assert peak < RSS_BOUND_MB
