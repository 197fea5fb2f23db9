"""Fixtures of the forwarding tests: a consumer of each kind (`kind` runs a test against
MQTT, NATS JetStream and a webhook alike), a fresh SQLite store, and forwarding running
in-process on it with short intervals."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from facepush.receiver import Store, open_store
from facepush.receiver.forward.forwarder import Tuning
from facepush.receiver.forward.service import Forwarding
from facepush.receiver.forward.settings import ForwardSettings
from facepush.receiver.store import Incoming
from tests.forward.consumers import KINDS, Consumer, consumer
from tests.receiver.helpers import alarm, recognition
from tests.receiver.test_store import make

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


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def sink_consumer(kind: str) -> AsyncIterator[Consumer]:
    made = consumer(kind)
    await made.start()
    try:
        yield made
    finally:
        await made.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'receiver.sqlite3'}")
    try:
        yield opened
    finally:
        opened.close()


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
