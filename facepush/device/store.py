"""Running outbox calls from asyncio: a blocking backend gets one dedicated writer thread
(one thread serialises commits without locks) and one reader thread (so that paging
through the backlog never waits behind a commit); a non-blocking backend is called inline."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from facepush.device.outbox import Outbox

P = ParamSpec("P")
T = TypeVar("T")


class StoreRunner:
    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self._executor: ThreadPoolExecutor | None = None
        self._reader: ThreadPoolExecutor | None = None
        if outbox.blocking:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="facepush-outbox")
            self._reader = ThreadPoolExecutor(1, thread_name_prefix="facepush-outbox-read")

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run `fn(*args)` on the outbox thread; calls run one at a time in call order."""
        if self._executor is None:
            return fn(*args, **kwargs)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(*args, **kwargs))

    async def read(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a read-only `fn(*args)` on the reader thread; it sees every write that
        completed before this call."""
        if self._reader is None:
            return fn(*args, **kwargs)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader, lambda: fn(*args, **kwargs))

    async def close(self) -> None:
        """Close the outbox after every queued call has run."""
        if self._reader is not None:
            self._reader.shutdown(wait=True)
        await self.call(self.outbox.close)
        if self._executor is not None:
            self._executor.shutdown(wait=True)
