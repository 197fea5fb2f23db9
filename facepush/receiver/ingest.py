"""Group commit without a timer.

Push handlers `submit` items and await their outcome. One writer task takes everything
pending the moment it is free, writes it in one transaction on the writer thread, and
resolves each waiter. A lone pusher therefore pays one commit and no wait; under load,
pushes that arrive during a commit share the next one. (A timer would make the lone pusher
wait for it on every record.)

One bad item must not fail the others it shares a transaction with. When a transaction
fails for any reason but an outage (StoreUnavailable: every waiter gets it, and the
terminals retry), its halves are committed on their own, and theirs, down to the item that
fails alone: that one is refused (RecordRejected: 400 and quarantined), the rest commit. A
culprit in a batch of n costs about 2·log2(n) extra transactions instead of n (one by one).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from facepush.errors import RecordRejected, StoreUnavailable
from facepush.receiver.metrics import ReceiverMetrics
from facepush.receiver.store import Incoming, Item, Store, StoreOutcome

log = logging.getLogger("facepush.receiver")

# Upper bound of one transaction, so that one commit (and its waiters' latency) stays short
# when a whole fleet replays its backlog at once.
MAX_BATCH = 512

Pending = tuple[Item, "asyncio.Future[StoreOutcome]"]
T = TypeVar("T")
log = logging.getLogger("facepush.receiver")


@dataclass(frozen=True, slots=True)
class CommitState:
    """How the writer's most recent transaction ended: `at` (time.monotonic()), and the
    reason when the store could not take it (None when it committed)."""

    at: float
    error: str | None = None


class Writer:
    """The one writer of a store: serialises and group-commits every write."""

    def __init__(
        self,
        store: Store,
        metrics: ReceiverMetrics,
        on_stored: Callable[[list[Incoming]], None] | None = None,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.on_stored = on_stored
        # Run on the writer thread after a commit that found records already stored, before
        # their waiters are answered (managed terminals note history records a push
        # delivered after all). Its failure is logged; the records are stored regardless.
        self.on_duplicates: Callable[[list[Incoming]], None] | None = None
        # One thread: SQLite has one writer anyway, and order of commits is order of batches.
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="facepush-writer")
        self._pending: list[Pending] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # Read by /healthz: a recent commit answers for the store without asking it again.
        self.last_commit: CommitState | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="facepush-writer")

    async def stop(self) -> None:
        """Write what is pending, then stop."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
        self.pool.shutdown(wait=True)

    async def submit(self, item: Item) -> StoreOutcome:
        """Store `item` durably; raises StoreUnavailable or RecordRejected."""
        if self._stopping:
            raise StoreUnavailable("the receiver is shutting down")
        future: asyncio.Future[StoreOutcome] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        self._wake.set()
        return await future

    async def submit_all(self, items: Sequence[Item]) -> list[StoreOutcome | Exception]:
        """Store `items` as one submission: they join the next commit together (up to
        MAX_BATCH), so that a page of 200 costs one transaction, not 200. Each result is
        its item's outcome, or the StoreUnavailable / RecordRejected it met."""
        if self._stopping:
            raise StoreUnavailable("the receiver is shutting down")
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[StoreOutcome]] = [loop.create_future() for _ in items]
        self._pending.extend(zip(items, futures, strict=True))
        self._wake.set()
        results = await asyncio.gather(*futures, return_exceptions=True)
        out: list[StoreOutcome | Exception] = []
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, Exception):
                raise result  # cancellation
            out.append(result)
        return out

    async def run_exclusive(self, func: Callable[[], T]) -> T:
        """Run a write (e.g. the image purge) on the writer thread, between batches."""
        return await asyncio.get_running_loop().run_in_executor(self.pool, func)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch = self._pending[:MAX_BATCH]
                del self._pending[:MAX_BATCH]
                await self._commit(batch)
            if self._stopping:
                return

    async def _commit(self, batch: list[Pending]) -> None:
        items = [item for item, _ in batch]
        started = time.perf_counter()
        try:
            outcomes = await self._write(items)
        except StoreUnavailable as exc:
            self.last_commit = CommitState(time.monotonic(), str(exc))
            _fail(batch, exc)
            return
        except Exception as exc:  # this batch's content (or a bug): isolate the culprit
            if len(batch) > 1:
                middle = len(batch) // 2
                await self._commit(batch[:middle])
                await self._commit(batch[middle:])
                return
            if not isinstance(exc, RecordRejected):
                log.error("a record could not be stored", exc_info=exc)
                exc = RecordRejected(f"the record could not be stored: {type(exc).__name__}: {exc}")
            _fail(batch, exc)
            return
        self.last_commit = CommitState(time.monotonic())
        self.metrics.commit_latency.observe(time.perf_counter() - started)
        self.metrics.commits += 1
        self.metrics.committed_items += len(items)
        await self._after_duplicates(items, outcomes)
        stored: list[Incoming] = []
        for (item, future), outcome in zip(batch, outcomes, strict=True):
            if outcome is StoreOutcome.STORED and isinstance(item, Incoming):
                stored.append(item)
            if not future.done():  # the waiter may have gone (client disconnected)
                future.set_result(outcome)
        if stored and self.on_stored is not None:
            self.on_stored(stored)

    async def _after_duplicates(self, items: Sequence[Item], outcomes: list[StoreOutcome]) -> None:
        if self.on_duplicates is None or StoreOutcome.DUPLICATE not in outcomes:
            return
        found = [
            item
            for item, outcome in zip(items, outcomes, strict=True)
            if outcome is StoreOutcome.DUPLICATE and isinstance(item, Incoming)
        ]
        try:
            await asyncio.get_running_loop().run_in_executor(self.pool, self.on_duplicates, found)
        except Exception as exc:  # the records are stored; only the bookkeeping is missing
            log.warning("after storing duplicates: %s: %s", type(exc).__name__, exc)

    async def _write(self, items: Sequence[Item]) -> list[StoreOutcome]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, self.store.ingest, items)


def _fail(batch: list[Pending], exc: Exception) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(exc)
