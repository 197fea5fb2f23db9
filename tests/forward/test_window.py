"""The window: several records in flight, the position only over a contiguous finished
prefix, failed records back in order, one record of a terminal at a time for webhooks."""

from __future__ import annotations

from facepush.receiver.forward.positions import Cursor
from facepush.receiver.forward.record import Record
from facepush.receiver.forward.window import Slot, Window


def slot(n: int, device: str = "D") -> Slot:
    return Slot(Record(Cursor(0, n), n, f"k{n}", "recognition", device, False, 0, b"{}"))


def test_the_prefix_moves_only_over_finished_slots_in_order() -> None:
    window = Window(3, ordered=True)
    slots = [slot(n) for n in range(1, 6)]
    for s in slots:
        window.add(s)
    sent = list(window.dispatchable())
    assert [s.record.event_id for s in sent] == [1, 2, 3]  # the window's size
    assert list(window.dispatchable()) == []
    window.finished(sent[2], "sent")  # the third acknowledged first
    assert list(window.prefix()) == []  # 1 and 2 still in flight: no move
    window.finished(sent[0], "sent")
    assert [s.record.event_id for s in window.prefix()] == [1]
    assert [s.record.event_id for s in window.dispatchable()] == [4, 5]
    window.failed(sent[1])  # 2 failed: held back until the sink reconnects
    assert list(window.dispatchable()) == []
    assert window.retry() == 1
    assert [s.record.event_id for s in window.dispatchable()] == [2]
    window.finished(slots[3], "sent")
    window.finished(slots[4], "sent")
    assert list(window.prefix()) == []  # 2 not yet: nothing moves past it
    window.finished(slots[1], "sent")
    assert [s.record.event_id for s in window.prefix()] == [2, 3, 4, 5]


def test_a_filtered_slot_is_finished_at_once_and_passed_over() -> None:
    window = Window(2, ordered=True)
    window.add(slot(1), "filtered")
    window.add(slot(2), "skipped")
    window.add(slot(3))
    assert [s.record.event_id for s in window.dispatchable()] == [3]
    assert [s.outcome for s in window.prefix()] == ["filtered", "skipped"]


def test_a_webhook_window_sends_one_record_per_terminal_at_a_time() -> None:
    window = Window(8, ordered=False)
    for n, device in enumerate(["A", "A", "B", "A", "B", "C"], start=1):
        window.add(slot(n, device))
    first = list(window.dispatchable())
    assert [(s.record.device, s.record.event_id) for s in first] == [("A", 1), ("B", 3), ("C", 6)]
    window.finished(first[0], "sent")
    assert [s.record.event_id for s in window.dispatchable()] == [2]  # A's next, in order
    window.failed(first[1])
    window.retry()
    assert [s.record.event_id for s in window.dispatchable()] == [3]  # B's failed one again
