"""Running a storage backend's calls from asyncio: a blocking backend (SQLite) gets one
dedicated writer thread (one thread serialises commits without locks) and one reader
thread (so that reads never wait behind a commit); a non-blocking one (memory) is called
inline. The outbox and the history each have their own runner, so their own threads."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, ParamSpec, Protocol, TypeVar

from facepush.device.outbox import Outbox

P = ParamSpec("P")
T = TypeVar("T")


class Backend(Protocol):
    """What the runner needs of a storage backend."""

    blocking: bool

    def close(self) -> None: ...


B = TypeVar("B", bound=Backend)


class ThreadRunner(Generic[B]):
    """Runs `backend`'s calls: writes on one thread in call order, reads on another."""

    def __init__(self, backend: B, name: str) -> None:
        self.backend = backend
        self._writer: ThreadPoolExecutor | None = None
        self._reader: ThreadPoolExecutor | None = None
        if backend.blocking:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix=name)
            self._reader = ThreadPoolExecutor(1, thread_name_prefix=f"{name}-read")

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run `fn(*args)` on the writer thread; calls run one at a time in call order."""
        if self._writer is None:
            return fn(*args, **kwargs)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, lambda: fn(*args, **kwargs))

    async def read(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a read-only `fn(*args)` on the reader thread; it sees every write that
        completed before this call."""
        if self._reader is None:
            return fn(*args, **kwargs)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader, lambda: fn(*args, **kwargs))

    async def close(self) -> None:
        """Close the backend after every queued call has run."""
        if self._reader is not None:
            self._reader.shutdown(wait=True)
        await self.call(self.backend.close)
        if self._writer is not None:
            self._writer.shutdown(wait=True)


class OutboxThreads(ThreadRunner[Outbox]):
    """The outbox's runner (its threads are named `facepush-outbox`)."""

    def __init__(self, outbox: Outbox) -> None:
        super().__init__(outbox, "facepush-outbox")

    @property
    def outbox(self) -> Outbox:
        return self.backend
