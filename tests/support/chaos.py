"""A real receiver behind the chaos middleware of `facepush receiver serve --chaos`
(facepush/receiver/chaos.py), in process on a loopback socket with a real SQLite store:
the terminal tests' receiver for the faults chaos injects (HTTP 500, a JSON code other than
200, a reply that is not JSON, a hang past the terminal's timeout, a connection reset).

`failing_receiver(mode, ...)` gives, for each way of failing the terminal tests name, the
chaos receiver, or the recording stand-in (tests/support/standin.py) for the two refusals
the middleware has no fault for (HTTP 400 and 404 to everything)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from facepush.receiver import open_store
from facepush.receiver.chaos import Chaos, ChaosSpec
from tests.support.receiver import Running, configured, running
from tests.support.standin import StandIn

# The failure modes of the terminal tests that the chaos middleware injects, as its SPEC.
CHAOS_MODES = {
    "http500": "http500=1",
    "code500": "code=1,reply-code=500",
    "code400": "code=1,reply-code=400",
    "garbage": "garbage=1",
    "timeout": "hang=1,hang-s=2",  # past the terminal's timeout; bounded for the teardown
    "reset": "reset=1",
}


class FailingReceiver(Protocol):
    """A receiver that fails every push until `recover()`."""

    @property
    def url(self) -> str: ...

    def attempts(self) -> int: ...

    def recover(self) -> None: ...

    async def wait_acked(self, keys: set[str], timeout: float = 20.0) -> None: ...


@dataclass
class ChaosReceiver:
    running: Running
    chaos: Chaos

    @property
    def url(self) -> str:
        return self.running.url + self.running.settings.path

    def attempts(self) -> int:
        """The pushes the middleware failed so far."""
        return sum(self.chaos.counts.values())

    def recover(self) -> None:
        """No fault from now on: every push reaches the receiver."""
        self.chaos.spec.probabilities = {}

    async def wait_acked(self, keys: set[str], timeout: float = 20.0) -> None:
        """Wait until the receiver stored each of `keys` (it acknowledges what it stored)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while missing := {k for k in keys if self.running.store.event(k) is None}:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{len(missing)} of {len(keys)} not stored in {timeout} s")
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def chaos_receiver(db_url: str, spec: str) -> AsyncIterator[ChaosReceiver]:
    """A receiver on `db_url` (SQLite) whose push path meets the chaos SPEC `spec`."""
    store = open_store(db_url)
    try:
        chaos = Chaos(ChaosSpec.parse(spec))
        settings = configured(db_url)
        async with running(settings, store, middlewares=[chaos.middleware(settings.path)]) as rx:
            yield ChaosReceiver(rx, chaos)
    finally:
        store.close()


@contextlib.asynccontextmanager
async def failing_receiver(mode: str, db_url: str) -> AsyncIterator[FailingReceiver]:
    """A receiver failing every push in `mode` (a key of CHAOS_MODES, "refuse" or "404")."""
    if mode in CHAOS_MODES:
        async with chaos_receiver(db_url, CHAOS_MODES[mode]) as receiver:
            yield receiver
        return
    standin = StandIn(mode=mode)
    await standin.start()
    try:
        yield standin
    finally:
        await standin.stop()
