"""One sink's forwarder: holds the sink's lease, reads stored records after the sink's
position on a thread (and database connection) of its own, sends a window of them at
once, and saves the position over the contiguous acknowledged prefix.

The push path never waits for it: the writer's hook only wakes it (`wake()`), and a sink
that is down, slow or refusing only makes the forwarder back off (capped, full jitter)
and catch up later from its durable position. A record is read only once committed (see
positions.py), and the position moves only after the sink acknowledged every record up
to it; after a crash the records past the saved position are sent again (at least once:
the key lets the sink drop repeats).

A record the sink refuses (HTTP 4xx but 408/429) is set aside only when it is refused
again while the sink acknowledged other records meanwhile (the device's rule: a wrong URL
answering 404 to everything must not set every record aside); until then the refusal is a
failure like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, TypeVar

from facepush.backoff import Backoff
from facepush.errors import RecordRefused, SinkUnavailable, StoreUnavailable
from facepush.protocol.times import now_ms
from facepush.receiver.forward.positions import Cursor, Position, Positions, Progress, SetAside
from facepush.receiver.forward.record import Record, record_of
from facepush.receiver.forward.settings import ForwardSettings
from facepush.receiver.forward.sink import Sink, make_sink
from facepush.receiver.forward.tuning import Tuning
from facepush.receiver.forward.window import Slot, Window
from facepush.receiver.store import EventRow
from facepush.redact import redact

log = logging.getLogger("facepush.receiver.forward")
T = TypeVar("T")
State = Literal["starting", "standby", "connecting", "forwarding", "idle", "retrying", "stopped"]


class _LeaseLost(Exception):
    """Control flow: this replica no longer holds the sink's lease."""


class Forwarder:
    def __init__(
        self,
        settings: ForwardSettings,
        positions: Positions,
        holder: str,
        tuning: Tuning | None = None,
        sink: Sink | None = None,
    ) -> None:
        self.settings = settings
        self.name = settings.name
        self.positions = positions
        self.holder = holder
        self.tuning = tuning = tuning or Tuning()
        self.sink = sink or make_sink(settings, holder)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"facepush-forward-{self.name}")
        self._lease = positions.lease(self.name)
        self._backoff = Backoff(tuning.backoff_base_s, tuning.backoff_cap_s)
        self.state: State = "starting"
        self.leased = False
        self.last_error: str | None = None
        self.last_error_at: int | None = None
        self.failures = 0  # failed attempts (sends, connects) in this process
        self.sent = 0  # acknowledged by the sink in this process
        self.window: Window | None = None
        self.cursor: Cursor | None = None  # the prefix's end, while leased
        self._kick = asyncio.Event()
        self._rows_waiting = True
        self._replay_asked = True
        self._stopping = False
        self._progress = Progress(Cursor(0, 0))
        self._dirty = False
        self._broken: str | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._replays: set[int] = set()  # set-aside records being sent again

    # -- control -----------------------------------------------------------------------

    def wake(self) -> None:
        """New records were stored (the writer's hook): read again soon."""
        self._rows_waiting = True
        self._kick.set()

    def replay_requested(self) -> None:
        self._replay_asked = True
        self._kick.set()

    async def stop(self) -> None:
        self._stopping = True
        self._kick.set()

    async def _db(self, func: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, func, *args)

    async def run(self) -> None:
        """Forward until stopped: take the lease (or wait for it), forward, give it back."""
        try:
            while not self._stopping:
                try:
                    held = await self._db(self._lease.try_acquire)
                except StoreUnavailable as exc:
                    self._note_error(f"cannot take the lease: {exc}")
                    held = False
                if not held:
                    self.state = "standby"
                    await self._pause(self.tuning.lease_retry_s)
                    continue
                self.leased = True
                try:
                    await self._forward()
                except (_LeaseLost, StoreUnavailable) as exc:
                    self._note_error(f"forwarding stopped: {exc}")
                    log.warning("%s: %s", self.name, self.last_error)
                finally:
                    self.leased = False
                    await self._wind_down()
        finally:
            self.state = "stopped"
            self._pool.shutdown(wait=True)

    async def _wind_down(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.sink.close()
        self.window, self.cursor = None, None
        with contextlib.suppress(Exception):
            await self._db(self._lease.release)

    async def _pause(self, seconds: float) -> None:
        """Sleep, but not past a stop."""
        self._kick.clear()
        if not self._stopping:
            await self._wait(seconds)

    # -- forwarding while leased ---------------------------------------------------------

    async def _forward(self) -> None:
        position: Position = await self._db(self.positions.position, self.name)
        self.cursor = position.cursor
        read_from = position.cursor
        self.window = window = Window(self.settings.window, self.sink.ordered)
        self._progress = Progress(position.cursor)
        self._rows_waiting = self._replay_asked = True
        self._broken = None
        self._replays = set()
        await self._connect()
        last_save = last_check = last_replay = time.monotonic()
        high = max(2 * self.settings.window, self.tuning.read_batch)
        while not self._stopping:
            self._kick.clear()
            self._advance()
            if self._broken is not None and window.inflight == 0:
                await self._recover()
                continue
            if self._broken is None:
                self._dispatch(window)
            now = time.monotonic()
            if self._replay_asked or now - last_replay >= self.tuning.replay_check_s:
                await self._queue_replays()
                last_replay = now
            if self._rows_waiting and window.unfinished < high:
                read_from = await self._read(read_from)
                continue  # dispatch what was read at once
            if self._dirty and now - last_save >= self.tuning.save_every_s:
                await self._save()
                last_save = now
            if now - last_check >= self.tuning.lease_check_s:
                if not await self._db(self._lease.check):
                    raise _LeaseLost("the lease was lost (its database connection ended)")
                last_check = now
            if self._broken is None:
                self.state = "forwarding" if window.unfinished or window.inflight else "idle"
            if not await self._wait(
                self.tuning.save_every_s if self._dirty else self.tuning.poll_s
            ):  # a quiet moment: look for others' records
                self._rows_waiting = True
        await self._finish()

    async def _wait(self, seconds: float) -> bool:
        """Until kicked (True) or `seconds` without (False). A timer, not wait_for: this
        runs once per acknowledgement at full speed, and wait_for makes a task each time."""
        if self._kick.is_set():
            return True
        expired = False

        def expire() -> None:
            nonlocal expired
            expired = True
            self._kick.set()

        timer = asyncio.get_running_loop().call_later(seconds, expire)
        try:
            await self._kick.wait()
        finally:
            timer.cancel()
        return not expired

    async def _finish(self) -> None:
        """Stopping: let the window's sends end (bounded), save, and close."""
        window = self.window
        deadline = time.monotonic() + self.tuning.stop_timeout_s
        while window is not None and window.inflight and time.monotonic() < deadline:
            self._kick.clear()
            await self._wait(max(0.0, deadline - time.monotonic()))
        self._advance()
        if self._dirty:
            with contextlib.suppress(StoreUnavailable, _LeaseLost):
                await self._save()

    async def _connect(self) -> None:
        while not self._stopping:
            self.state = "connecting"
            try:
                await self.sink.open()
                return
            except SinkUnavailable as exc:
                self._fail(str(exc))
            await self._back_off()

    async def _recover(self) -> None:
        """Every send of the window has ended and some failed: back off, reconnect, retry."""
        reason, self._broken = self._broken, None
        log.info("%s: %s; retrying", self.name, reason)
        await self._back_off()
        await self.sink.close()
        await self._connect()
        if self.window is not None:
            self.window.retry()

    async def _back_off(self) -> None:
        self.state = "retrying"
        await self._pause(self._backoff.next_delay())

    async def _read(self, after: Cursor) -> Cursor:
        rows: list[Record] = await self._db(self._records, after)
        self._rows_waiting = len(rows) >= self.tuning.read_batch
        assert self.window is not None
        for record in rows:
            self.window.add(Slot(record), self._filter(record))
        return rows[-1].cursor if rows else after

    def _records(self, after: Cursor) -> list[Record]:
        """On the forwarder's thread: rows read and turned into messages off the loop."""
        return [
            self._record(c, row) for c, row in self.positions.read(after, self.tuning.read_batch)
        ]

    def _record(self, cursor: Cursor, row: EventRow) -> Record:
        image = None
        if self.sink.wants_images and row.image_id and not row.late and row.type == 0:
            image = self.positions.image(row.image_id)
        return record_of(cursor, row, image)

    def _filter(self, record: Record) -> Literal["filtered", "skipped"] | None:
        if record.kind not in self.settings.types:
            return "filtered"
        if record.late and self.settings.late == "skip":
            return "skipped"
        return None

    async def _queue_replays(self) -> None:
        self._replay_asked = False
        assert self.window is not None
        rows = await self._db(self.positions.to_replay, self.name, self.settings.window)
        for aside, row in rows:
            # Not twice at once, nor again before the last outcome is saved.
            if aside.event_id not in self._replays and not self._saving(aside.event_id):
                record = await self._db(self._record, Cursor(0, row.id), row)
                self._replays.add(aside.event_id)
                self.window.add(Slot(record, attempts=aside.attempts, replay=True))

    def _saving(self, event_id: int) -> bool:
        progress = self._progress
        return event_id in progress.replayed or any(
            e == event_id for e, _ in progress.refused_again
        )

    # -- sending ---------------------------------------------------------------------------

    def _dispatch(self, window: Window) -> None:
        """Send what the window lets through, in batches of the sink's share of the window
        (several in flight; less asyncio work per record), or one by one."""
        slots = list(window.dispatchable())
        size = max(1, int(self.settings.window * self.sink.batch_share))
        for start in range(0, len(slots), size):
            task = asyncio.create_task(self._send(window, slots[start : start + size]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, window: Window, slots: list[Slot]) -> None:
        try:
            results = await self.sink.send_batch([slot.record for slot in slots])
        except Exception as exc:  # a bug in a sink: a failure, never a lost record
            log.exception("%s: sending failed", self.name)
            results = [exc] * len(slots)
        try:
            for slot, result in zip(slots, results, strict=True):
                self._judge(window, slot, result)
        finally:
            self._kick.set()

    def _judge(self, window: Window, slot: Slot, result: BaseException | None) -> None:
        if result is None:
            self._delivered(window, slot)
        elif isinstance(result, RecordRefused):
            self._refused(window, slot, str(result))
        else:
            window.failed(slot)
            if not isinstance(result, SinkUnavailable):
                log.error("%s: sending %s failed: %r", self.name, slot.record.key, result)
            reason = str(result) if isinstance(result, SinkUnavailable) else repr(result)
            self._fail(reason)

    def _delivered(self, window: Window, slot: Slot) -> None:
        window.finished(slot, "sent")
        self.sent += 1
        self._backoff.reset()
        self.last_error = None
        self._progress.last_forwarded_at = now_ms()
        if slot.replay:
            self._replays.discard(slot.record.event_id)
            self._progress.replayed.append(slot.record.event_id)
            self._progress.forwarded += 1
            self._dirty = True

    def _refused(self, window: Window, slot: Slot, reason: str) -> None:
        # Set aside only a record refused again while others got through (module doc).
        if slot.replay or (slot.refused_after is not None and self.sent > slot.refused_after):
            window.finished(slot, "refused", reason)
            if slot.replay:
                self._replays.discard(slot.record.event_id)
                self._progress.refused_again.append((slot.record.event_id, reason))
                self._dirty = True
            log.warning("%s: set aside %s: %s", self.name, slot.record.key, reason)
            return
        if slot.refused_after is None:
            slot.refused_after = self.sent
        window.failed(slot)
        self._fail(
            f"{reason} (record {slot.record.key}; set aside if refused again while other "
            "records get through)"
        )

    def _fail(self, reason: str) -> None:
        self.failures += 1
        self._note_error(reason)
        # From the failure on, the sink is retrying (the loop backs off once the sends in
        # flight end): the status never shows a last_error beside "forwarding".
        self.state = "retrying"
        if self._broken is None:
            self._broken = self.last_error

    def _note_error(self, reason: str) -> None:
        self.last_error = redact(reason)
        self.last_error_at = now_ms()

    # -- the position --------------------------------------------------------------------

    def _advance(self) -> None:
        assert self.window is not None
        progress = self._progress
        for slot in self.window.prefix():
            record = slot.record
            if slot.outcome == "sent":
                progress.forwarded += 1
            elif slot.outcome == "skipped":
                progress.skipped += 1
            elif slot.outcome == "refused":
                progress.set_aside.append(
                    SetAside(record.event_id, record.key, slot.error or "", slot.attempts, now_ms())
                )
            progress.cursor = self.cursor = record.cursor
            self._dirty = True

    async def _save(self) -> None:
        done, self._progress = self._progress, Progress(self._progress.cursor)
        done.last_error = self.last_error
        self._dirty = False  # a change during the save makes it dirty again
        try:
            await self._db(self.positions.save, self._lease, self.name, done, self.holder)
        except StoreUnavailable as exc:
            self._progress = _merge(done, self._progress)
            self._dirty = True
            if not await self._db(self._lease.check):
                raise _LeaseLost(f"the lease was lost: {exc}") from None
            self._note_error(f"cannot save the position: {exc}")

    def lag_s(self) -> float | None:
        """Seconds since the oldest record read and not yet finished was received; None
        when this process holds none (not forwarding the sink, or nothing read yet)."""
        window = self.window
        if window is None:
            return None
        try:  # read from the API's threads while the loop changes it
            oldest = window.oldest()
        except IndexError:
            oldest = None
        return max(0.0, (now_ms() - oldest.received_at) / 1000) if oldest else None


def _merge(old: Progress, new: Progress) -> Progress:
    """What a failed save held, put back in front of what came since."""
    return Progress(
        cursor=new.cursor,
        forwarded=old.forwarded + new.forwarded,
        skipped=old.skipped + new.skipped,
        last_forwarded_at=new.last_forwarded_at or old.last_forwarded_at,
        set_aside=old.set_aside + new.set_aside,
        replayed=old.replayed + new.replayed,
        refused_again=old.refused_again + new.refused_again,
    )
