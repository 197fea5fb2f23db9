"""The delivery loop: takes queued records from an outbox and pushes them to a destination.

Rules (ruling 2 of docs/protocol-rulings.md, and what docs/device.md adds):
- a record leaves the outbox only after the receiver acknowledged it (HTTP 2xx and JSON
  code 200); acknowledged records are deleted in batches, so a crash between the ack and
  the delete re-sends a few records, which the receiver de-duplicates by identity;
- alarms first, then recognitions, each in accept order (seq);
- up to `window` records in flight (adaptive by default, see window.py);
- a failure (timeout, connection error, 5xx, bad body, other codes) pauses sending with
  exponential backoff and full jitter, then resumes from the oldest queued record;
- a specific refusal (4xx, JSON code 4xx) defers that record; after `max_refusals`
  refusals, while the receiver accepted other records meanwhile, it is set aside. A receiver
  refusing everything only makes the loop back off.

A Deliverer is cheap (a few tasks and dicts), so one process can run many, optionally
sharing one aiohttp ClientSession.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field

import aiohttp

from facepush.backoff import Backoff
from facepush.device.outbox import ALARM, RECOGNITION, Outbox, StoredRecord
from facepush.device.sender import Attempt, Destination, post_record
from facepush.device.store import StoreRunner
from facepush.device.window import AdaptiveWindow, FixedWindow
from facepush.protocol.ack import Outcome
from facepush.protocol.times import now_ms

log = logging.getLogger("facepush.device")
_KINDS = (ALARM, RECOGNITION)  # alarms are never held behind recognitions


@dataclass
class _Cursor:
    """Where the forward pass over one kind's queue stands.

    Pages are read ahead (while half a page is still buffered) so that sending never waits
    for the disk. `pages` remembers, per buffered page, its last seq and the delete
    generation it was read at, so that records acknowledged and deleted since can be told
    apart (see `Deliverer._prune_acked`).
    """

    after_seq: int = 0
    buffer: deque[StoredRecord] = field(default_factory=deque)
    pages: deque[tuple[int, int]] = field(default_factory=deque)  # (last seq, generation)
    exhausted: bool = False
    version: int = 0  # bumped when records of this kind arrive
    epoch: int = 0  # bumped by a rewind: a read-ahead from before it is stale
    reading: asyncio.Task[None] | None = None
    reading_gen: int = 0


@dataclass
class DeliveryStats:
    last_error: str | None = None
    last_error_at: int | None = None  # ms
    last_delivery_at: int | None = None  # ms
    acknowledged: int = 0  # acks received by this deliverer (since it started)
    set_aside: int = 0
    latency_sum: float = 0.0  # seconds from accept to acknowledgement, summed
    rtt_sum: float = 0.0  # seconds per acknowledged request, summed


class Deliverer:
    def __init__(
        self,
        outbox: Outbox | StoreRunner,
        destination: Destination | None = None,
        *,
        window: int | None = None,
        session: aiohttp.ClientSession | None = None,
        backoff: Backoff | None = None,
        refusal_backoff: Backoff | None = None,
        max_refusals: int = 5,
        page_size: int = 128,
        page_bytes: int = 2 << 20,
        ack_batch: int = 512,
        ack_delay: float = 0.02,
    ) -> None:
        self._store = outbox if isinstance(outbox, StoreRunner) else StoreRunner(outbox)
        self._outbox = self._store.outbox
        self._dest = destination
        self.window: FixedWindow = FixedWindow(window) if window else AdaptiveWindow()
        self._session = session
        self._own_session = session is None
        self._backoff = backoff or Backoff()
        self._refusal_backoff = refusal_backoff or Backoff()
        self._max_refusals = max_refusals
        self._page_size = page_size
        self._page_bytes = page_bytes
        self._page_rows = page_size  # fewer rows a page when records are large (images)
        self._ack_batch = ack_batch
        self._ack_delay = ack_delay
        self.stats = DeliveryStats()
        self._cursors = {kind: _Cursor() for kind in _KINDS}
        self._in_flight: set[int] = set()
        self._acked: dict[int, int] = {}  # seq -> delete generation (0: not committed yet)
        self._ack_pending: list[StoredRecord] = []
        self._unsettled = {kind: 0 for kind in _KINDS}  # acked, delete not yet committed
        self._deleted_gen = 0  # bumped each time a batch of deletes has committed
        self._deferred: dict[int, float] = {}  # refused seq -> monotonic time it may retry
        self._refused_since: dict[int, int] = {}  # refused seq -> successes at 1st refusal
        self._successes = 0
        self._successes_at_failure = -1
        self._pause_until = 0.0
        self._rewind_needed = False
        self._wake = asyncio.Event()
        self._ack_wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._flush_task: asyncio.Task[None] | None = None

    # -- control -----------------------------------------------------------------------

    @property
    def destination(self) -> Destination | None:
        return self._dest

    @property
    def failing(self) -> bool:
        """True while the receiver is failing or refusing everything (backing off)."""
        return self._backoff.failures > 0

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def unsettled(self, kind: int | None = None) -> int:
        """Acknowledged records whose batched delete has not committed yet."""
        return sum(self._unsettled.values()) if kind is None else self._unsettled[kind]

    async def start(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=30)
            self._session = aiohttp.ClientSession(connector=connector)
        self._loop_task = asyncio.create_task(self._run(), name="facepush-delivery")
        self._flush_task = asyncio.create_task(self._flusher(), name="facepush-acks")

    async def stop(self) -> None:
        """Stop sending; records in flight stay queued; pending deletes are committed."""
        reads = [c.reading for c in self._cursors.values()]
        tasks = [t for t in (self._loop_task, *self._tasks, *reads) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._flush_task is not None:
            self._flush_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flush_task
        await self._flush()
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    def set_destination(self, destination: Destination | None) -> None:
        """Send to `destination` from now on (None: stop sending, keep the queue).
        Takes effect at once: backoff and deferrals are reset, the backlog restarts."""
        self._dest = destination
        self._backoff.reset()
        self._pause_until = 0.0
        self._deferred.clear()
        self._refused_since.clear()
        self._rewind_needed = True
        self.stats.last_error = None
        self._wake.set()

    def notify(self, kinds: set[int] | None = None) -> None:
        """New records of `kinds` were queued (None: anything may have changed)."""
        for kind in _KINDS if kinds is None else kinds:
            cursor = self._cursors[kind]
            cursor.version += 1
            cursor.exhausted = False
        if kinds is None:
            self._rewind_needed = True
        self._wake.set()

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is queued, in flight or unsettled; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._outbox.counts().queued and not self._in_flight and not self.unsettled():
                return True
            await asyncio.sleep(0.01)
        return False

    # -- the loop ----------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the outbox failed (disk full, I/O error): keep trying
                log.exception("delivery loop error; retrying")
                self._rewind_needed = True
                self._failed(f"outbox error: {exc}", pause=True)

    async def _step(self) -> None:
        """Send one record, or wait until there is something to do."""
        if self._dest is None:
            await self._wait(None)
            return
        now = time.monotonic()
        if self._pause_until > now:
            await self._wait(self._pause_until - now)
            return
        if self._rewind_needed:
            self._rewind()
        await self.window.wait_room()
        record = await self._next()
        if self._dest is None or self._rewind_needed:
            return  # reconfigured meanwhile; the rewind brings `record` back
        if record is None:
            due = min(self._deferred.values(), default=None)
            if due is not None and due <= time.monotonic():
                self._rewind_needed = True  # a deferred refusal may be retried now
                return
            await self._wait(None if due is None else due - time.monotonic())
            return
        self.window.take()
        self._in_flight.add(record.seq)
        task = asyncio.create_task(self._deliver(record, self._dest))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _wait(self, timeout: float | None) -> None:
        # Not asyncio.wait_for: on Python 3.11 it can swallow a cancellation that arrives
        # together with the wake-up, and stop() would then wait forever.
        if not self._wake.is_set():
            waiter = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait({waiter}, timeout=timeout)
            finally:
                waiter.cancel()
        self._wake.clear()

    def _rewind(self) -> None:
        self._rewind_needed = False
        for cursor in self._cursors.values():
            cursor.after_seq = 0
            cursor.buffer.clear()
            cursor.pages.clear()
            cursor.exhausted = False
            cursor.epoch += 1
            cursor.reading = None  # a read-ahead still running finds its epoch stale

    async def _next(self) -> StoredRecord | None:
        now = time.monotonic()
        for kind in _KINDS:
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
                if seq in self._in_flight or seq in self._acked:
                    continue
                due = self._deferred.get(seq)
                if due is not None:
                    if due > now:
                        continue
                    del self._deferred[seq]
                return record
        return None

    def _read_ahead_start(self, kind: int, cursor: _Cursor) -> None:
        if cursor.reading is None:
            cursor.reading_gen = self._deleted_gen
            cursor.reading = asyncio.create_task(self._read_page(kind, cursor, cursor.epoch))

    async def _read_ahead(self, kind: int, cursor: _Cursor) -> None:
        self._read_ahead_start(kind, cursor)
        reading = cursor.reading
        assert reading is not None
        await asyncio.shield(reading)  # a cancelled caller must not cancel the shared read

    async def _read_page(self, kind: int, cursor: _Cursor, epoch: int) -> None:
        version, gen, rows = cursor.version, cursor.reading_gen, self._page_rows
        try:
            page = await self._store.read(self._outbox.peek, kind, cursor.after_seq, rows)
        finally:
            if cursor.epoch == epoch:
                cursor.reading = None
        if cursor.epoch != epoch:
            return  # rewound meanwhile: the page may hold records sent since
        if page:
            cursor.after_seq = page[-1].seq
            cursor.buffer.extend(page)
            cursor.pages.append((page[-1].seq, gen))
            # Keep a page near `page_bytes`, so that memory stays flat with 40 KB images.
            mean = sum(len(r.body) for r in page) / len(page)
            self._page_rows = max(8, min(self._page_size, int(self._page_bytes / mean)))
        cursor.exhausted = len(page) < rows and cursor.version == version
        self._prune_acked()

    def _prune_acked(self) -> None:
        # An acknowledged seq stays in `_acked` (and is skipped) until its delete committed
        # before every page that might still hold it was read; then no read can return it.
        live = [c.pages[0][1] for c in self._cursors.values() if c.pages]
        live += [c.reading_gen for c in self._cursors.values() if c.reading is not None]
        bound = min(live) if live else self._deleted_gen
        stale = [seq for seq, gen in self._acked.items() if 0 < gen <= bound]
        for seq in stale:
            del self._acked[seq]

    # -- one record --------------------------------------------------------------------

    async def _deliver(self, record: StoredRecord, dest: Destination) -> None:
        assert self._session is not None
        try:
            attempt = await post_record(self._session, dest, record.key, record.body)
        finally:
            self.window.release()
            self._in_flight.discard(record.seq)
        outcome = attempt.verdict.outcome
        if outcome is Outcome.DELIVERED:
            self._on_delivered(record, attempt)
        elif outcome is Outcome.REFUSED:
            self.window.record(attempt.rtt, True)  # the receiver coped; not congestion
            try:
                await self._on_refused(record, attempt.verdict.reason)
            except Exception:  # the outbox failed; the record stays queued as it was
                log.exception("could not record the refusal of %s", record.key)
        else:
            self.window.record(attempt.rtt, False)
            self._rewind_needed = True  # resume from the oldest queued record
            self._failed(attempt.verdict.reason, pause=True)
        self._wake.set()

    def _on_delivered(self, record: StoredRecord, attempt: Attempt) -> None:
        self.window.record(attempt.rtt, True)
        self._successes += 1
        self._backoff.reset()
        self._refused_since.pop(record.seq, None)
        stats = self.stats
        stats.last_error = None
        stats.acknowledged += 1
        now = now_ms()
        stats.last_delivery_at = now
        stats.rtt_sum += attempt.rtt
        stats.latency_sum += max(0, now - record.accepted_at) / 1000
        self._acked[record.seq] = 0
        self._unsettled[record.kind] += 1
        self._ack_pending.append(record)
        self._ack_wake.set()

    async def _on_refused(self, record: StoredRecord, reason: str) -> None:
        seq = record.seq
        since = self._refused_since.setdefault(seq, self._successes)
        attempts = await self._store.call(self._outbox.note_refusal, seq, reason)
        if attempts == 0:  # evicted meanwhile
            self._refused_since.pop(seq, None)
            return
        if attempts >= self._max_refusals and self._successes > since:
            # Refused again and again while other records got through: this record is the
            # problem. Keep it aside so it cannot block the queue.
            self._refused_since.pop(seq, None)
            if await self._store.call(self._outbox.set_aside, seq, reason):
                self.stats.set_aside += 1
                log.warning("set aside %s after %d refusals: %s", record.key, attempts, reason)
            return
        self._deferred[seq] = time.monotonic() + self._refusal_backoff.delay_for(attempts)
        # Back off only when nothing got through since the last failure: then the receiver
        # may be refusing everything (a wrong path answering 404), not just this record.
        self._failed(reason, pause=self._successes == self._successes_at_failure)

    def _failed(self, reason: str, *, pause: bool) -> None:
        self.stats.last_error = reason
        self.stats.last_error_at = now_ms()
        self._successes_at_failure = self._successes
        now = time.monotonic()
        if pause and self._pause_until <= now:
            delay = self._backoff.next_delay()
            self._pause_until = now + delay
            log.info("delivery failed (%s); retrying in %.2f s", reason, delay)

    # -- batched deletes ---------------------------------------------------------------

    async def _flusher(self) -> None:
        while True:
            await self._ack_wake.wait()
            self._ack_wake.clear()
            if len(self._ack_pending) < self._ack_batch:
                await asyncio.sleep(self._ack_delay)  # let a few more acks join the batch
            try:
                await self._flush()
            except Exception:  # keep flushing later batches; these records are re-sent
                log.exception("could not delete acknowledged records from the outbox")

    async def _flush(self) -> None:
        batch, self._ack_pending = self._ack_pending, []
        if not batch:
            return
        try:
            await self._store.call(self._outbox.ack, [r.seq for r in batch])
        finally:
            for record in batch:
                self._unsettled[record.kind] -= 1
        self._deleted_gen += 1
        for record in batch:
            self._acked[record.seq] = self._deleted_gen
