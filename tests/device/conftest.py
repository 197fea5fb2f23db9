from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from facepush.backoff import Backoff
from facepush.device.service import PushService
from facepush.device.settings import DeviceSettings
from tests.device.standin import StandIn
from tests.support import Process

ServiceFactory = Callable[..., Awaitable[PushService]]


@pytest.fixture
async def standin() -> AsyncIterator[StandIn]:
    receiver = StandIn()
    await receiver.start()
    yield receiver
    await receiver.stop()


@pytest.fixture
async def make_service(tmp_path: Path) -> AsyncIterator[ServiceFactory]:
    """Started services with quick backoff (tests wait in tenths, not tens, of seconds)."""
    started: list[PushService] = []

    async def make(data: Path | None = tmp_path / "device", **options: Any) -> PushService:
        options.setdefault("backoff", Backoff(base=0.02, cap=0.2))
        options.setdefault("refusal_backoff", Backoff(base=0.02, cap=0.1))
        options.setdefault("timeout", 2.0)
        given = {k: options.pop(k) for k in list(options) if k in DeviceSettings.__struct_fields__}
        service = PushService(DeviceSettings.of(data=data, **given), **options)
        await service.start()
        started.append(service)
        return service

    yield make
    for service in started:
        if service._deliverer is not None:
            await service.stop()


async def eventually(
    check: Callable[[], bool], timeout: float = 10.0, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        await asyncio.sleep(0.02)


def start_device(
    tmp_path: Path,
    *args: str,
    name: str = "device",
    env: dict[str, str] | None = None,
    preexec: Callable[[], Any] | None = None,
) -> tuple[Process, str]:
    """A real `python -m facepush device serve` on a free port; returns it and its URL."""
    log = tmp_path / f"{name}-{time.monotonic_ns()}.log"
    proc = Process(["device", "serve", "--listen", "127.0.0.1:0", *args], log, env, preexec)
    return proc, proc.wait_listening(timeout=20)
