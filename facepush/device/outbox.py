"""The outbox interface: where accepted records wait until the receiver acknowledges them.

A backend is a small synchronous object; the service runs a blocking backend (SQLite) on
one dedicated writer thread plus one reader thread, and calls a non-blocking one (memory)
inline. Every backend keeps:

- records in accept order (`seq`, strictly increasing, never reused), with their kind,
  identity key, the exact bytes to push, attempts and state (queued or set aside);
- the cap (`limit`) and its policy, applied atomically inside `add`;
- the counters `delivered` and `evicted`, updated in the same step as the change they count.

Nothing here loads the whole backlog: `peek` pages through it by seq.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

RECOGNITION = 0
ALARM = 1

QUEUED = 0
SET_ASIDE = 1


class WhenFull(Enum):
    DROP_OLDEST = "drop-oldest"
    REFUSE_NEWEST = "refuse-newest"


@dataclass(frozen=True, slots=True)
class NewRecord:
    """A record about to be cached: its kind (0/1), identity key and the bytes to push."""

    kind: int
    key: str
    body: bytes


@dataclass(frozen=True, slots=True)
class StoredRecord:
    seq: int
    kind: int
    key: str
    body: bytes
    attempts: int = 0
    accepted_at: int = 0  # ms since epoch
    reason: str | None = None  # why it was last refused (set-aside listing)


@dataclass(frozen=True, slots=True)
class Evicted:
    seq: int
    kind: int
    key: str


@dataclass(frozen=True, slots=True)
class AddResult:
    seqs: list[int]
    evicted: list[Evicted] = field(default_factory=list)
    cached: int = 0  # records cached after the add


@dataclass(frozen=True, slots=True)
class Counts:
    cached: int  # every record held, queued or set aside (what counts toward the limit)
    queued: int
    queued_alarms: int
    set_aside: int
    delivered: int  # total since the cache was created
    evicted: int  # total since the cache was created


class Outbox(Protocol):
    """The storage interface. `blocking` says whether calls do I/O (run them off the loop)."""

    blocking: bool
    limit: int
    when_full: WhenFull

    def add(self, records: Sequence[NewRecord], accepted_at: int) -> AddResult:
        """Store `records` atomically, evicting per policy; raises CacheFullError or
        BatchTooLargeError and then stores nothing."""
        ...

    def peek(self, kind: int, after_seq: int, limit: int) -> list[StoredRecord]:
        """Up to `limit` queued records of `kind` with seq > `after_seq`, in seq order.

        Read-only (like `list_set_aside`): may run on a reader thread beside a write, and
        then sees every write that completed before it was called."""
        ...

    def ack(self, seqs: Sequence[int]) -> int:
        """Remove acknowledged records and count them delivered; returns how many were held
        (a record evicted meanwhile is not counted twice)."""
        ...

    def note_refusal(self, seq: int, reason: str) -> int:
        """Count one refusal of a record; returns its attempts so far (0 if it is gone)."""
        ...

    def set_aside(self, seq: int, reason: str) -> bool:
        """Move a queued record aside (kept, counted toward the limit, not sent)."""
        ...

    def list_set_aside(self, after_seq: int, limit: int) -> list[StoredRecord]: ...

    def replay(self, seqs: Sequence[int] | None) -> int:
        """Put set-aside records (all, or those in `seqs`) back in the queue; returns how many."""
        ...

    def counts(self) -> Counts:
        """Current counters; cheap (kept in memory), safe to call from any thread."""
        ...

    def close(self) -> None: ...
