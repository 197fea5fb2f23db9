"""The terminal's test helpers: its `device serve` process, a bounded wait, and the type of
the `make_service` fixture's factory (tests/device/conftest.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from facepush.device.service import PushService
from tests.support.processes import Process

# `await make_service(data=..., window=2, timeout=0.3)`: a started PushService.
ServiceFactory = Callable[..., Awaitable[PushService]]


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
