"""The delivery loop's view of the outbox: which record to send next, and which were
acknowledged.

A `Backlog` reads each kind's queue forward in pages, alarms first, each in seq order, and
reads the next page ahead while half a page is still buffered, so that sending never waits
for the disk. It skips records in flight, acknowledged or deferred. Acknowledged records
are deleted from the outbox in batches (a crash between the ack and the delete re-sends a
few, which the receiver de-duplicates); until its batch commits, an acknowledged record is
*unsettled*: still queued in the outbox, already delivered in `counts()`.

Why an acknowledged seq is remembered after its delete committed: a page read before the
commit may still hold it. Each page remembers how many delete batches had committed when
its read started, and a seq is forgotten once its batch committed before every page (and
running read) that might still hold it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from facepush.device.outbox import ALARM, RECOGNITION, CachedRecord, Counts
from facepush.device.threads import OutboxThreads

log = logging.getLogger("facepush.device")
KINDS = (ALARM, RECOGNITION)  # alarms are never held behind recognitions


@dataclass
class _Cursor:
    """Where the forward pass over one kind's queue stands."""

    after_seq: int = 0
    buffer: deque[CachedRecord] = field(default_factory=deque)
    # Per buffered page: its last seq, and the delete batches committed before it was read.
    pages: deque[tuple[int, int]] = field(default_factory=deque)
    exhausted: bool = False  # the last read reached the end of the queue
    arrivals: int = 0  # bumped when records of this kind arrive: a short read saw them or not
    rewinds: int = 0  # bumped by a rewind: a read started before it is stale
    reading: asyncio.Task[None] | None = None  # the read-ahead under way
    reading_after: int = 0  # delete batches committed before `reading` started


class Backlog:
    """Cursors, read-ahead and batched deletes over one outbox (run by `threads`).

    `page_size` records a page at most, fewer when records are large, so that a page
    stays near `page_bytes`; acknowledged records are deleted `ack_batch` at a time, or
    after `ack_delay` seconds."""

    def __init__(
        self,
        threads: OutboxThreads,
        *,
        page_size: int = 128,
        page_bytes: int = 2 << 20,
        ack_batch: int = 512,
        ack_delay: float = 0.02,
    ) -> None:
        self._threads = threads
        self._page_size = page_size
        self._page_bytes = page_bytes
        self._page_rows = page_size  # fewer rows a page when records are large (images)
        self._ack_batch = ack_batch
        self._ack_delay = ack_delay
        self._cursors = {kind: _Cursor() for kind in KINDS}
        self.in_flight: set[int] = set()  # seqs being sent
        self._acked: dict[int, int] = {}  # seq -> the delete batch that removed it (0: none yet)
        self._unsettled = {kind: 0 for kind in KINDS}  # acknowledged, delete not committed
        self._pending: list[CachedRecord] = []  # acknowledged, delete not started
        self._batches = 0  # delete batches committed
        self._ack_wake = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None

    # -- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        self._flusher = asyncio.create_task(self._flush_loop(), name="facepush-acks")

    async def stop(self) -> None:
        """Stop reading ahead and commit the pending deletes."""
        reads = [c.reading for c in self._cursors.values() if c.reading is not None]
        for task in reads:
            task.cancel()
        await asyncio.gather(*reads, return_exceptions=True)
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        await self.flush()

    # -- what the delivery loop asks -------------------------------------------------------

    def arrived(self, kinds: Iterable[int]) -> None:
        """Records of `kinds` were queued: a cursor at the end reads on."""
        for kind in kinds:
            cursor = self._cursors[kind]
            cursor.arrivals += 1
            cursor.exhausted = False

    def rewind(self) -> None:
        """Start again from the oldest queued record (after a failure, a replay, a new
        destination); records in flight or acknowledged are still skipped."""
        for cursor in self._cursors.values():
            cursor.after_seq = 0
            cursor.buffer.clear()
            cursor.pages.clear()
            cursor.exhausted = False
            cursor.rewinds += 1
            cursor.reading = None  # a read-ahead still running finds itself stale

    async def next(self, deferred: dict[int, float], now: float) -> CachedRecord | None:
        """The next record to send, or None when every queued one is in flight,
        acknowledged or deferred. `deferred` maps a refused seq to the time (monotonic) it
        may be sent again: one due by `now` is taken out of it and returned."""
        for kind in KINDS:
            cursor = self._cursors[kind]
            while True:
                if not cursor.buffer:
                    if cursor.exhausted and cursor.reading is None:
                        break
                    await self._read_ahead(kind, cursor)
                    if not cursor.buffer:
                        if cursor.exhausted:
                            break
                        continue
                record = cursor.buffer.popleft()
                while cursor.pages and cursor.pages[0][0] < record.seq:
                    cursor.pages.popleft()
                if len(cursor.buffer) <= self._page_rows // 2 and not cursor.exhausted:
                    self._read_ahead_start(kind, cursor)
                seq = record.seq
                if seq in self.in_flight or seq in self._acked:
                    continue
                due = deferred.get(seq)
                if due is not None:
                    if due > now:
                        continue
                    del deferred[seq]
                return record
        return None

    def acknowledged(self, record: CachedRecord) -> None:
        """The receiver acknowledged `record`: skip it from now on, delete it soon."""
        self._acked[record.seq] = 0
        self._unsettled[record.kind] += 1
        self._pending.append(record)
        self._ack_wake.set()

    def unsettled(self, kind: int | None = None) -> int:
        """Acknowledged records whose batched delete has not committed yet."""
        return sum(self._unsettled.values()) if kind is None else self._unsettled[kind]

    def counts(self) -> Counts:
        """The outbox's counts with unsettled records counted delivered, not queued: what
        the receiver has, as far as anyone asks (`PushService.status`)."""
        counts = self._threads.outbox.counts()
        unsettled = self.unsettled()
        return replace(
            counts,
            queued=counts.queued - unsettled,
            queued_alarms=counts.queued_alarms - self._unsettled[ALARM],
            delivered=counts.delivered + unsettled,
        )

    @property
    def idle(self) -> bool:
        """Nothing queued, in flight or unsettled."""
        return (
            not self._threads.outbox.counts().queued
            and not self.in_flight
            and not any(self._unsettled.values())
        )

    # -- reading ahead -------------------------------------------------------------------

    def _read_ahead_start(self, kind: int, cursor: _Cursor) -> None:
        if cursor.reading is None:
            cursor.reading_after = self._batches
            cursor.reading = asyncio.create_task(self._read_page(kind, cursor, cursor.rewinds))

    async def _read_ahead(self, kind: int, cursor: _Cursor) -> None:
        self._read_ahead_start(kind, cursor)
        reading = cursor.reading
        assert reading is not None
        await asyncio.shield(reading)  # a cancelled caller must not cancel the shared read

    async def _read_page(self, kind: int, cursor: _Cursor, rewinds: int) -> None:
        arrivals, after, rows = cursor.arrivals, cursor.reading_after, self._page_rows
        outbox = self._threads.outbox
        try:
            page = await self._threads.read(outbox.peek, kind, cursor.after_seq, rows)
        finally:
            if cursor.rewinds == rewinds:
                cursor.reading = None
        if cursor.rewinds != rewinds:
            return  # rewound meanwhile: the page may hold records sent since
        if page:
            cursor.after_seq = page[-1].seq
            cursor.buffer.extend(page)
            cursor.pages.append((page[-1].seq, after))
            # Keep a page near `page_bytes`, so that memory stays flat with 40 KB images.
            mean = sum(len(r.body) for r in page) / len(page)
            self._page_rows = max(8, min(self._page_size, int(self._page_bytes / mean)))
        cursor.exhausted = len(page) < rows and cursor.arrivals == arrivals
        self._forget_deleted()

    def _forget_deleted(self) -> None:
        # An acknowledged seq stays in `_acked` (and is skipped) until its delete committed
        # before every page that might still hold it was read; then no read can return it.
        live = [c.pages[0][1] for c in self._cursors.values() if c.pages]
        live += [c.reading_after for c in self._cursors.values() if c.reading is not None]
        bound = min(live) if live else self._batches
        stale = [seq for seq, batch in self._acked.items() if 0 < batch <= bound]
        for seq in stale:
            del self._acked[seq]

    # -- batched deletes -------------------------------------------------------------------

    async def _flush_loop(self) -> None:
        while True:
            await self._ack_wake.wait()
            self._ack_wake.clear()
            if len(self._pending) < self._ack_batch:
                await asyncio.sleep(self._ack_delay)  # let a few more acks join the batch
            try:
                await self.flush()
            except Exception:  # keep flushing later batches; these records are re-sent
                log.exception("could not delete acknowledged records from the outbox")

    async def flush(self) -> None:
        """Delete the acknowledged records not deleted yet (one batch)."""
        batch, self._pending = self._pending, []
        if not batch:
            return
        outbox = self._threads.outbox
        try:
            await self._threads.call(outbox.ack, [r.seq for r in batch])
        finally:
            for record in batch:
                self._unsettled[record.kind] -= 1
        self._batches += 1
        for record in batch:
            self._acked[record.seq] = self._batches
