"""The delivery loop's bookkeeping on its own: cursors, read-ahead, batched deletes and the
counts the status reports, over both outbox backends (the loop's tests drive it through
real pushes; these pin each rule without a network)."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from facepush.device.backlog import Backlog
from facepush.device.memory_outbox import MemoryOutbox
from facepush.device.outbox import ALARM, RECOGNITION, CachedRecord, NewRecord, Outbox
from facepush.device.sqlite_outbox import SQLiteOutbox
from facepush.device.threads import OutboxThreads
from tests.support.device import eventually

MakeBacklog = Callable[..., tuple[Backlog, Outbox]]


class CountingSQLite(SQLiteOutbox):
    """The SQLite outbox, noting the size of each page of recognitions read and each
    delete, and able to hold such a page it has read until told (to commit a delete while
    a read is under way)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, 1000)
        self.page_rows: list[int] = []
        self.deletes = 0
        self.hold: threading.Event | None = None

    def peek(self, kind: int, after_seq: int, limit: int) -> list[CachedRecord]:
        rows = super().peek(kind, after_seq, limit)
        if kind != RECOGNITION:
            return rows
        self.page_rows.append(limit)
        if self.hold is not None:
            assert self.hold.wait(timeout=10), "the test never released the read"
        return rows

    def ack(self, seqs: Sequence[int]) -> int:
        self.deletes += 1
        return super().ack(seqs)


@asynccontextmanager
async def backlogs(open_outbox: Callable[[], Outbox]) -> AsyncIterator[MakeBacklog]:
    """Backlogs over fresh outboxes holding the given records; all stopped and closed."""
    made: list[tuple[Backlog, OutboxThreads]] = []

    def factory(*records: NewRecord, **options: Any) -> tuple[Backlog, Outbox]:
        outbox = open_outbox()
        if records:
            outbox.add(list(records), 0)
        threads = OutboxThreads(outbox)
        backlog = Backlog(threads, **options)
        made.append((backlog, threads))
        return backlog, outbox

    try:
        yield factory
    finally:
        for backlog, threads in made:
            await backlog.stop()
            await threads.close()


@pytest.fixture(params=["memory", "sqlite"])
async def make(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MakeBacklog]:
    paths = (tmp_path / f"outbox-{n}.sqlite3" for n in itertools.count())

    def open_outbox() -> Outbox:
        if request.param == "memory":
            return MemoryOutbox(1000)
        return SQLiteOutbox(next(paths), 1000)

    async with backlogs(open_outbox) as factory:
        yield factory


@pytest.fixture
async def counting(tmp_path: Path) -> AsyncIterator[MakeBacklog]:
    paths = (tmp_path / f"counting-{n}.sqlite3" for n in itertools.count())
    async with backlogs(lambda: CountingSQLite(next(paths))) as factory:
        yield factory


def rec(n: int, kind: int = RECOGNITION, size: int = 0) -> NewRecord:
    return NewRecord(kind, f"{'ra'[kind]}:{n}", b'{"n": %d}' % n + b" " * size)


async def sendable(backlog: Backlog, deferred: dict[int, float] | None = None) -> list[str]:
    """The keys `next` hands out, in order, until it has none."""
    keys = []
    while (record := await backlog.next(deferred or {}, 0.0)) is not None:
        keys.append(record.key)
    return keys


async def test_alarms_first_then_recognitions_in_accept_order_across_pages(
    make: MakeBacklog,
) -> None:
    records = [rec(n, ALARM if n % 3 == 0 else RECOGNITION) for n in range(1, 41)]
    backlog, _ = make(*records, page_size=8)
    alarms = [r.key for r in records if r.kind == ALARM]
    assert await sendable(backlog) == alarms + [r.key for r in records if r.kind == RECOGNITION]


async def test_records_queued_after_the_end_are_read_once_announced(make: MakeBacklog) -> None:
    backlog, outbox = make(rec(1))
    assert await sendable(backlog) == ["r:1"]
    outbox.add([rec(2), rec(3, ALARM)], 0)
    assert await sendable(backlog) == []  # at the end, it does not poll the outbox
    backlog.arrived([RECOGNITION, ALARM])
    assert await sendable(backlog) == ["a:3", "r:2"]


async def test_a_rewind_skips_records_in_flight_and_acknowledged(make: MakeBacklog) -> None:
    backlog, _ = make(rec(1), rec(2), rec(3))
    first, second = await taken(backlog), await taken(backlog)
    backlog.in_flight.add(first.seq)
    backlog.acknowledged(second)
    backlog.rewind()
    assert await sendable(backlog) == ["r:3"]
    backlog.in_flight.discard(first.seq)  # its attempt failed: it is sent again
    backlog.rewind()
    assert await sendable(backlog) == ["r:1", "r:3"]


async def test_a_deferred_record_waits_for_its_time(make: MakeBacklog) -> None:
    backlog, outbox = make(rec(1), rec(2))
    seq = outbox.peek(RECOGNITION, 0, 1)[0].seq
    deferred = {seq: 100.0}
    record = await backlog.next(deferred, 50.0)
    assert record is not None and record.key == "r:2" and deferred == {seq: 100.0}
    backlog.rewind()
    record = await backlog.next(deferred, 100.0)
    assert record is not None and record.key == "r:1" and deferred == {}


async def test_acknowledged_records_count_as_delivered_before_their_delete(
    make: MakeBacklog,
) -> None:
    backlog, outbox = make(rec(1), rec(2, ALARM), rec(3))
    backlog.acknowledged(await taken(backlog))  # a:2
    backlog.acknowledged(await taken(backlog))  # r:1
    counts = backlog.counts()
    assert (counts.queued, counts.queued_alarms, counts.delivered) == (1, 0, 2)
    assert counts.cached == 3  # still held until the delete commits
    assert (outbox.counts().queued, outbox.counts().delivered) == (3, 0)
    assert (backlog.unsettled(), backlog.unsettled(ALARM)) == (2, 1)
    assert not backlog.idle
    await backlog.flush()
    assert backlog.counts() == outbox.counts()
    assert (outbox.counts().queued, outbox.counts().delivered) == (1, 2)
    backlog.acknowledged(await taken(backlog))
    assert not backlog.idle  # queued in the outbox until the delete commits
    await backlog.flush()
    assert backlog.idle and backlog.counts().cached == 0


async def test_deletes_are_batched_and_stop_commits_the_rest(tmp_path: Path) -> None:
    outbox = CountingSQLite(tmp_path / "outbox.sqlite3")
    outbox.add([rec(n) for n in range(1, 8)], 0)
    threads = OutboxThreads(outbox)
    backlog = Backlog(threads, ack_batch=100, ack_delay=0.01)
    backlog.start()
    try:
        for _ in range(3):
            backlog.acknowledged(await taken(backlog))
        await eventually(lambda: outbox.counts().delivered == 3, what="the batch deleted")
        assert outbox.deletes == 1  # three acks, one delete
        backlog.acknowledged(await taken(backlog))
    finally:
        await backlog.stop()
        await threads.close()
    assert outbox.deletes == 2
    reopened = SQLiteOutbox(tmp_path / "outbox.sqlite3")
    assert reopened.counts().delivered == 4
    reopened.close()


async def test_large_records_make_smaller_pages(counting: MakeBacklog) -> None:
    backlog, outbox = counting(*[rec(n, size=1000) for n in range(300)], page_bytes=16_000)
    assert len(await sendable(backlog)) == 300
    assert isinstance(outbox, CountingSQLite)
    first, *later = outbox.page_rows
    assert first == 128  # nothing known yet: a full page
    assert set(later) == {15}  # ~1,010 bytes a record: a page stays near 16,000 bytes


async def test_a_page_read_before_a_delete_committed_does_not_bring_it_back(
    counting: MakeBacklog,
) -> None:
    backlog, outbox = counting(*[rec(n) for n in range(1, 21)], page_size=8)
    assert isinstance(outbox, CountingSQLite)
    first = await taken(backlog)
    assert first.key == "r:1"
    backlog.acknowledged(first)
    backlog.rewind()  # as after a failure: read again from the oldest queued record
    outbox.hold = threading.Event()
    reading = asyncio.create_task(backlog.next({}, 0.0))  # reads r:1..r:8 and holds them
    await eventually(lambda: len(outbox.page_rows) == 2, what="the read under way")
    await backlog.flush()  # r:1's delete commits while the page holding it is read
    assert outbox.counts().delivered == 1
    outbox.hold.set()
    outbox.hold = None
    again = await asyncio.wait_for(reading, timeout=10)
    assert again is not None and again.key == "r:2"  # r:1 is not sent twice
    assert await sendable(backlog) == [f"r:{n}" for n in range(3, 21)]
    assert backlog._acked == {}  # no page can hold r:1 now: forgotten, memory stays flat


async def taken(backlog: Backlog) -> CachedRecord:
    record = await backlog.next({}, 0.0)
    assert record is not None
    return record
