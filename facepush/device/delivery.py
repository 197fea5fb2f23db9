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

What to send next and what was acknowledged (cursors, read-ahead, batched deletes) is the
`Backlog`'s (backlog.py); this module decides what an attempt's outcome means.

A Deliverer is cheap (a few tasks and dicts), so one process can run many, optionally
sharing one aiohttp ClientSession; without one it pushes on its own lean HTTP/1.1
connections (http1.py), the faster path for a terminal draining its backlog.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from facepush.backoff import Backoff
from facepush.device.backlog import KINDS, Backlog
from facepush.device.http1 import Http1Client
from facepush.device.outbox import CachedRecord, Outbox
from facepush.device.sender import Attempt, Client, Destination, post_record
from facepush.device.threads import OutboxThreads
from facepush.device.window import AdaptiveWindow, FixedWindow
from facepush.protocol.ack import DeliveryOutcome
from facepush.protocol.times import now_ms

log = logging.getLogger("facepush.device")


@dataclass
class DeliveryStats:
    last_error: str | None = None
    last_error_at: int | None = None  # ms
    last_delivery_at: int | None = None  # ms
    acknowledged: int = 0  # acks received by this deliverer (since it started)
    set_aside: int = 0
    latency_sum: float = 0.0  # seconds from accept to acknowledgement, summed
    rtt_sum: float = 0.0  # seconds per acknowledged request, summed


class _Refusals:
    """Which records the receiver refused, and when each may be tried again."""

    def __init__(self, max_refusals: int, backoff: Backoff) -> None:
        self.max_refusals = max_refusals
        self.backoff = backoff
        self.deferred: dict[int, float] = {}  # refused seq -> monotonic time it may retry
        self.since: dict[int, int] = {}  # refused seq -> successes at its first refusal
        self.successes = 0  # acknowledgements so far
        self.successes_at_failure = -1  # `successes` at the last failure or refusal

    def clear(self) -> None:
        self.deferred.clear()
        self.since.clear()


class Deliverer:
    """The delivery loop of one outbox. `backlog` is its bookkeeping (`backlog.counts()`:
    what the status reports); `stats`, `window`, `failing` and `in_flight` describe it."""

    def __init__(
        self,
        outbox: Outbox | OutboxThreads,
        destination: Destination | None = None,
        *,
        window: int | None = None,
        session: Client | None = None,
        backoff: Backoff | None = None,
        refusal_backoff: Backoff | None = None,
        max_refusals: int = 5,
    ) -> None:
        threads = outbox if isinstance(outbox, OutboxThreads) else OutboxThreads(outbox)
        self._threads = threads
        self.backlog = Backlog(threads)
        self._dest = destination
        self.window: FixedWindow = FixedWindow(window) if window else AdaptiveWindow()
        self._session: Client | None = session
        self._own_session = session is None
        self._backoff = backoff or Backoff()
        self._refusals = _Refusals(max_refusals, refusal_backoff or Backoff())
        self.stats = DeliveryStats()
        self._pause_until = 0.0
        self._rewind_needed = False
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None

    # -- control -----------------------------------------------------------------------

    @property
    def failing(self) -> bool:
        """True while the receiver is failing or refusing everything (backing off)."""
        return self._backoff.failures > 0

    @property
    def in_flight(self) -> int:
        return len(self.backlog.in_flight)

    async def start(self) -> None:
        if self._session is None:
            self._session = Http1Client()
        self._loop_task = asyncio.create_task(self._run(), name="facepush-delivery")
        self.backlog.start()

    async def stop(self) -> None:
        """Stop sending; records in flight stay queued; pending deletes are committed."""
        tasks = [t for t in (self._loop_task, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.backlog.stop()
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    def set_destination(self, destination: Destination | None) -> None:
        """Send to `destination` from now on (None: stop sending, keep the queue).
        Takes effect at once: backoff and deferrals are reset, the backlog restarts."""
        self._dest = destination
        self._backoff.reset()
        self._pause_until = 0.0
        self._refusals.clear()
        self._rewind_needed = True
        self.stats.last_error = None
        self._wake.set()

    def notify(self, kinds: set[int] | None = None) -> None:
        """New records of `kinds` were queued (None: anything may have changed)."""
        if kinds is None:
            self.backlog.arrived(KINDS)
            self._rewind_needed = True
        else:
            self.backlog.arrived(kinds)
        self._wake.set()

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is queued, in flight or unsettled; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.backlog.idle:
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
            self._rewind_needed = False
            self.backlog.rewind()
        await self.window.wait_room()
        deferred = self._refusals.deferred
        record = await self.backlog.next(deferred, time.monotonic())
        if self._dest is None or self._rewind_needed:
            return  # reconfigured meanwhile; the rewind brings `record` back
        if record is None:
            due = min(deferred.values(), default=None)
            if due is not None and due <= time.monotonic():
                self._rewind_needed = True  # a deferred refusal may be retried now
                return
            await self._wait(None if due is None else due - time.monotonic())
            return
        self.window.take()
        self.backlog.in_flight.add(record.seq)
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

    # -- one record --------------------------------------------------------------------

    async def _deliver(self, record: CachedRecord, dest: Destination) -> None:
        assert self._session is not None
        try:
            attempt = await post_record(self._session, dest, record.key, record.body)
        finally:
            self.window.release()
            self.backlog.in_flight.discard(record.seq)
        outcome = attempt.verdict.outcome
        if outcome is DeliveryOutcome.DELIVERED:
            self._on_delivered(record, attempt)
        elif outcome is DeliveryOutcome.REFUSED:
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

    def _on_delivered(self, record: CachedRecord, attempt: Attempt) -> None:
        self.window.record(attempt.rtt, True)
        refusals = self._refusals
        refusals.successes += 1
        refusals.since.pop(record.seq, None)
        self._backoff.reset()
        stats = self.stats
        stats.last_error = None
        stats.acknowledged += 1
        now = now_ms()
        stats.last_delivery_at = now
        stats.rtt_sum += attempt.rtt
        stats.latency_sum += max(0, now - record.accepted_at) / 1000
        self.backlog.acknowledged(record)

    async def _on_refused(self, record: CachedRecord, reason: str) -> None:
        seq, refusals, outbox = record.seq, self._refusals, self._threads.outbox
        since = refusals.since.setdefault(seq, refusals.successes)
        attempts = await self._threads.call(outbox.note_refusal, seq, reason)
        if attempts == 0:  # evicted meanwhile
            refusals.since.pop(seq, None)
            return
        if attempts >= refusals.max_refusals and refusals.successes > since:
            # Refused again and again while other records got through: this record is the
            # problem. Keep it aside so it cannot block the queue.
            refusals.since.pop(seq, None)
            if await self._threads.call(outbox.set_aside_record, seq, reason):
                self.stats.set_aside += 1
                log.warning("set aside %s after %d refusals: %s", record.key, attempts, reason)
            return
        refusals.deferred[seq] = time.monotonic() + refusals.backoff.delay_for(attempts)
        # Back off only when nothing got through since the last failure: then the receiver
        # may be refusing everything (a wrong path answering 404), not just this record.
        self._failed(reason, pause=refusals.successes == refusals.successes_at_failure)

    def _failed(self, reason: str, *, pause: bool) -> None:
        self.stats.last_error = reason
        self.stats.last_error_at = now_ms()
        self._refusals.successes_at_failure = self._refusals.successes
        now = time.monotonic()
        if pause and self._pause_until <= now:
            delay = self._backoff.next_delay()
            self._pause_until = now + delay
            log.info("delivery failed (%s); retrying in %.2f s", reason, delay)
