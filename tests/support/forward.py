"""Forwarding in process for the forwarding tests: short intervals (`FAST`), `forwarding`
running on a store, records and alarms as the store's items, bounded waits, and the
receiver's /api/forward item."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from facepush.receiver import Store
from facepush.receiver.forward.forwarder import Tuning
from facepush.receiver.forward.service import Forwarding
from facepush.receiver.forward.settings import ForwardSettings
from facepush.receiver.store import Incoming
from tests.support.receiver import Running, make
from tests.support.records import alarm, recognition

FAST = Tuning(
    save_every_s=0.05,
    poll_s=0.2,
    lease_retry_s=0.2,
    lease_check_s=0.5,
    replay_check_s=0.5,
    backoff_base_s=0.05,
    backoff_cap_s=0.5,
    stop_timeout_s=2.0,
)


@contextlib.asynccontextmanager
async def forwarding(
    store: Store, *sinks: ForwardSettings, tuning: Tuning = FAST
) -> AsyncIterator[Forwarding]:
    running = Forwarding(sinks, store, tuning)
    running.start()
    try:
        yield running
    finally:
        await running.stop()
        running.close()


def records(count: int, devices: int = 2, start: int = 0, **extra: Any) -> list[Incoming]:
    """Recognitions spread over `devices` terminals, received now (not late)."""
    now = int(time.time() * 1000)
    return [
        make(recognition(f"u-{n}", device=f"DEV{n % devices}", **extra), received_at=now)
        for n in range(start, start + count)
    ]


def alarms(count: int, received_at: int | None = None) -> list[Incoming]:
    now = received_at or int(time.time() * 1000)
    return [make(alarm(f"trace-{n}", 1, event_time=now), received_at=now) for n in range(count)]


async def eventually(check: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    """`check()` until truthy (bounded); its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = await asyncio.to_thread(check)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what or check}")
        await asyncio.sleep(0.05)


async def forward_status(rx: Running) -> dict[str, Any]:
    """The receiver's one /api/forward item."""
    [item] = (await rx.get("/api/forward"))["data"]["items"]
    return item  # type: ignore[no-any-return]


async def until(
    rx: Running, check: Callable[[dict[str, Any]], bool], timeout: float = 30
) -> dict[str, Any]:
    """/api/forward's item, once `check` holds for it (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        status = await forward_status(rx)
        if check(status):
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {status}")
        await asyncio.sleep(0.05)
