"""The records a forwarder holds between reading and saving: several in flight at once,
and a position that only moves over a contiguous acknowledged prefix.

Every record read is a `Slot` in `order` (forwarding order). A slot is dispatched from
its lane: an ordered sink (one connection) has one lane with the whole window in flight;
a webhook has one lane per terminal with one record in flight, several terminals at
once, so a terminal's records arrive in order however the connections race. A slot that
failed goes back to the front of its lane, in order. The prefix of finished slots
(acknowledged, refused and set aside, or passed over by a filter) is what a save moves
the position over.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from facepush.receiver.forward.positions import Cursor
from facepush.receiver.forward.record import Record

Outcome = Literal["sent", "refused", "filtered", "skipped"]


@dataclass(eq=False, slots=True)
class Slot:
    record: Record
    outcome: Outcome | None = None  # None: not finished
    error: str | None = None  # why it was refused
    attempts: int = 0
    replay: bool = False  # a set-aside record sent again, behind the position
    refused_after: int | None = None  # records acknowledged when it was first refused


@dataclass(slots=True)
class _Lane:
    queue: deque[Slot] = field(default_factory=deque)
    inflight: int = 0


class Window:
    def __init__(self, size: int, ordered: bool) -> None:
        self.size = size
        self.depth = size if ordered else 1
        self.ordered = ordered
        self.order: deque[Slot] = deque()
        self.inflight = 0
        self._lanes: dict[str, _Lane] = {}
        self._ready: OrderedDict[str, None] = OrderedDict()  # lanes that may dispatch
        self._failed: list[Slot] = []

    def _lane_key(self, slot: Slot) -> str:
        return "" if self.ordered else slot.record.device

    def add(self, slot: Slot, outcome: Outcome | None = None) -> None:
        """A record read (or a set-aside one to replay); `outcome` when it is finished
        already (passed over by a filter)."""
        if not slot.replay:
            self.order.append(slot)
        if outcome is not None:
            slot.outcome = outcome
            return
        key = self._lane_key(slot)
        lane = self._lanes.setdefault(key, _Lane())
        lane.queue.append(slot)
        self._mark(key, lane)

    def _mark(self, key: str, lane: _Lane) -> None:
        if lane.queue and lane.inflight < self.depth:
            self._ready[key] = None
        else:
            self._ready.pop(key, None)
            if not lane.queue and not lane.inflight:
                del self._lanes[key]

    def dispatchable(self) -> Iterator[Slot]:
        """Slots to send now, in order within each lane, up to the window."""
        while self.inflight < self.size and self._ready:
            key = next(iter(self._ready))
            lane = self._lanes[key]
            slot = lane.queue.popleft()
            lane.inflight += 1
            self.inflight += 1
            slot.attempts += 1
            self._mark(key, lane)
            yield slot

    def finished(self, slot: Slot, outcome: Outcome, error: str | None = None) -> None:
        slot.outcome, slot.error = outcome, error
        self._settle(slot)

    def failed(self, slot: Slot) -> None:
        """Not acknowledged: held back until `retry()` (after the sink reconnects)."""
        self._settle(slot)
        self._failed.append(slot)

    def _settle(self, slot: Slot) -> None:
        key = self._lane_key(slot)
        lane = self._lanes[key]
        lane.inflight -= 1
        self.inflight -= 1
        self._mark(key, lane)

    def retry(self) -> int:
        """Put every failed slot back at the front of its lane, in order; how many."""
        failed = sorted(self._failed, key=lambda s: s.record.cursor)
        self._failed = []
        by_lane: dict[str, list[Slot]] = {}
        for slot in failed:
            by_lane.setdefault(self._lane_key(slot), []).append(slot)
        for key, slots in by_lane.items():
            lane = self._lanes.setdefault(key, _Lane())
            lane.queue.extendleft(reversed(slots))
            self._mark(key, lane)
        return len(failed)

    def prefix(self) -> Iterator[Slot]:
        """Remove and yield the finished slots at the head of `order`."""
        while self.order and self.order[0].outcome is not None:
            yield self.order.popleft()

    @property
    def unfinished(self) -> int:
        return len(self.order)

    def oldest(self) -> Record | None:
        return self.order[0].record if self.order else None

    def last_cursor(self) -> Cursor | None:
        return self.order[-1].record.cursor if self.order else None
