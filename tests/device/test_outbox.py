"""One suite for every outbox backend: the storage interface's contract."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from facepush.device.errors import BatchTooLargeError, CacheFullError
from facepush.device.memory_outbox import MemoryOutbox
from facepush.device.outbox import ALARM, RECOGNITION, NewRecord, Outbox, WhenFull
from facepush.device.sqlite_outbox import SQLiteOutbox

Factory = Callable[..., Outbox]


@pytest.fixture(params=["memory", "sqlite"])
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    opened: list[Outbox] = []

    def factory(limit: int = 100, when_full: WhenFull = WhenFull.DROP_OLDEST) -> Outbox:
        box: Outbox
        if request.param == "memory":
            box = MemoryOutbox(limit, when_full)
        else:
            box = SQLiteOutbox(tmp_path / "outbox.sqlite3", limit, when_full)
        opened.append(box)
        return box

    yield factory
    for box in opened:
        box.close()


def rec(n: int, kind: int = RECOGNITION) -> NewRecord:
    return NewRecord(kind, f"{'ra'[kind]}:{n}", b'{"n": %d}' % n)


def test_add_then_peek_pages_in_accept_order_per_kind(make: Factory) -> None:
    box = make()
    box.add([rec(1), rec(2, ALARM), rec(3)], 1000)
    box.add([rec(4), rec(5, ALARM)], 2000)
    first = box.peek(RECOGNITION, 0, 2)
    assert [r.key for r in first] == ["r:1", "r:3"]
    assert first[0].body == b'{"n": 1}' and first[0].accepted_at == 1000
    assert [r.key for r in box.peek(RECOGNITION, first[-1].seq, 2)] == ["r:4"]
    assert [r.key for r in box.peek(ALARM, 0, 10)] == ["a:2", "a:5"]
    counts = box.counts()
    assert (counts.cached, counts.queued, counts.queued_alarms) == (5, 5, 2)


def test_ack_removes_and_counts_delivered_once(make: Factory) -> None:
    box = make()
    seqs = box.add([rec(1), rec(2), rec(3)], 0).seqs
    assert box.ack([seqs[0], seqs[2]]) == 2
    assert box.ack([seqs[0]]) == 0  # already gone: not counted twice
    assert [r.key for r in box.peek(RECOGNITION, 0, 10)] == ["r:2"]
    assert box.counts().delivered == 2 and box.counts().queued == 1


def test_seqs_are_never_reused_after_the_queue_empties(make: Factory) -> None:
    box = make()
    first = box.add([rec(1), rec(2)], 0).seqs
    box.ack(first)
    again = box.add([rec(3)], 0).seqs
    assert again[0] > max(first)


def test_drop_oldest_evicts_oldest_recognitions_before_any_alarm(make: Factory) -> None:
    box = make(limit=4)
    box.add([rec(1, ALARM), rec(2), rec(3), rec(4, ALARM)], 0)
    result = box.add([rec(5), rec(6)], 0)
    assert [e.key for e in result.evicted] == ["r:2", "r:3"]
    result = box.add([rec(7)], 0)  # only alarms and newer recognitions left
    assert [e.key for e in result.evicted] == ["r:5"]
    box.add([rec(8, ALARM), rec(9, ALARM), rec(10, ALARM)], 0)  # no recognition: alarms go
    assert box.counts().cached == 4 and box.counts().evicted == 3 + 3
    assert [r.key for r in box.peek(ALARM, 0, 10)] == ["a:4", "a:8", "a:9", "a:10"]


def test_refuse_newest_stores_nothing_when_full(make: Factory) -> None:
    box = make(limit=3, when_full=WhenFull.REFUSE_NEWEST)
    box.add([rec(1), rec(2)], 0)
    with pytest.raises(CacheFullError, match="cache full: 2 of 3"):
        box.add([rec(3), rec(4)], 0)
    assert box.counts().cached == 2
    box.add([rec(3)], 0)
    with pytest.raises(CacheFullError):
        box.add([rec(4)], 0)
    assert box.counts().evicted == 0


def test_a_batch_larger_than_the_cache_is_refused(make: Factory) -> None:
    box = make(limit=2)
    with pytest.raises(BatchTooLargeError, match="smaller batches"):
        box.add([rec(1), rec(2), rec(3)], 0)
    assert box.counts().cached == 0


def test_set_aside_keeps_counts_and_replays(make: Factory) -> None:
    box = make(limit=3)
    seqs = box.add([rec(1), rec(2)], 0).seqs
    assert box.note_refusal(seqs[0], "HTTP 422") == 1
    assert box.note_refusal(seqs[0], "HTTP 422 again") == 2
    assert box.set_aside_record(seqs[0], "HTTP 422 again")
    assert not box.set_aside_record(seqs[0], "twice")
    counts = box.counts()
    assert (counts.queued, counts.set_aside, counts.cached) == (1, 1, 2)
    assert [r.key for r in box.peek(RECOGNITION, 0, 10)] == ["r:2"]
    (item,) = box.list_set_aside(0, 10)
    assert (item.key, item.reason, item.attempts) == ("r:1", "HTTP 422 again", 2)
    # Set-aside records count toward the limit and can be evicted like any other.
    box.add([rec(3)], 0)
    assert box.add([rec(4)], 0).evicted[0].key == "r:1"
    assert box.counts().set_aside == 0


def test_replay_all_or_some(make: Factory) -> None:
    box = make()
    seqs = box.add([rec(1), rec(2), rec(3)], 0).seqs
    for seq in seqs:
        box.set_aside_record(seq, "refused")
    assert box.replay([seqs[1], 999]) == 1
    assert [r.key for r in box.peek(RECOGNITION, 0, 10)] == ["r:2"]
    assert box.replay(None) == 2
    assert [r.attempts for r in box.peek(RECOGNITION, 0, 10)] == [0, 0, 0]
    assert box.counts().set_aside == 0 and box.counts().queued == 3


def test_note_refusal_of_a_gone_record_is_zero(make: Factory) -> None:
    box = make()
    (seq,) = box.add([rec(1)], 0).seqs
    box.ack([seq])
    assert box.note_refusal(seq, "late") == 0


def test_the_real_cap_of_50000(make: Factory) -> None:
    box = make(limit=50_000)
    batch = [rec(n) for n in range(10_000)]
    for _ in range(5):
        box.add(batch, 0)
    assert box.counts().cached == 50_000
    started = time.monotonic()
    result = box.add([rec(50_001), rec(50_002, ALARM)], 0)
    assert len(result.evicted) == 2 and result.cached == 50_000
    assert time.monotonic() - started < 1.0  # eviction does not scan the backlog
    assert box.counts().evicted == 2
    assert box.peek(RECOGNITION, 0, 1)[0].seq == 3  # the two oldest are gone


def test_sqlite_keeps_everything_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    box = SQLiteOutbox(path, limit=3)
    seqs = box.add([rec(1), rec(2, ALARM), rec(3)], 0).seqs
    box.ack([seqs[0]])
    box.set_aside_record(seqs[2], "refused")
    box.add([rec(4), rec(5)], 0)  # evicts r:3 (set aside) to make room
    box.close()
    again = SQLiteOutbox(path, limit=3)
    counts = again.counts()
    assert (counts.cached, counts.queued, counts.queued_alarms) == (3, 3, 1)
    assert (counts.delivered, counts.evicted, counts.set_aside) == (1, 1, 0)
    assert again.add([rec(6)], 0).seqs[0] > 5
    again.close()
