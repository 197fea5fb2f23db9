"""The dashboard stream of a receiver with several workers: fed from the database.

Each worker's writer only sees what that worker stored, and a client of /api/stream
reaches one worker; so with `--workers N` every worker reads the records stored after its
cursor, in forwarding's order (facepush.receiver.forward.positions: id order on SQLite,
(xid, id) below the snapshot's xmin on PostgreSQL, so that a transaction committing late
is streamed late, never skipped), and publishes them to its own clients. The worker's own
commits wake it at once; the others' are seen within `poll_s`.

While no client listens the cursor just follows the end of the table: a client gets what
is stored after it connected, as with one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from facepush.receiver.errors import StoreUnavailable
from facepush.receiver.forward.positions import Cursor, Positions
from facepush.receiver.stream import Broadcaster

log = logging.getLogger("facepush.receiver.stream")
Run = Callable[[Callable[[], Any]], Awaitable[Any]]  # a blocking read on a reader thread

BATCH = 500  # rows read per query; a backlog is read in several


class StoreFeed:
    def __init__(
        self, positions: Positions, run: Run, broadcaster: Broadcaster, poll_s: float
    ) -> None:
        self.positions = positions
        self.run_read = run
        self.broadcaster = broadcaster
        self.poll_s = poll_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._behind = False  # the last read was a full batch

    def wake(self) -> None:
        """Called after this worker's commits (on the event loop)."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="facepush-stream-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        cursor: Cursor | None = None
        while True:
            try:
                cursor = await self._step(cursor)
            except StoreUnavailable as exc:
                log.warning("the stream cannot read the store: %s", exc)
                await asyncio.sleep(self.poll_s)
                continue
            if cursor is not None and self._behind:
                continue  # a full batch: read on at once
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_s)
            self._wake.clear()

    async def _step(self, cursor: Cursor | None) -> Cursor:
        self._behind = False
        if cursor is None or not self.broadcaster.clients:
            end: Cursor = await self.run_read(self.positions.end)
            return end
        after = cursor
        rows = await self.run_read(lambda: self.positions.read(after, BATCH))
        if not rows:
            return cursor
        self.broadcaster.publish_rows([row for _, row in rows])
        self._behind = len(rows) == BATCH
        last: Cursor = rows[-1][0]
        return last
