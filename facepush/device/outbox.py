"""The outbox interface: where accepted records wait until the receiver acknowledges them.

A backend is a small synchronous object; the service runs a blocking backend (SQLite) on
one dedicated writer thread plus one reader thread, and calls a non-blocking one (memory)
inline. Every backend keeps:

- records in accept order (`seq`, strictly increasing, never reused), with their kind,
  identity key, the exact bytes to push, attempts and state (queued or set aside);
- the cap (`limit`) and its policy, applied atomically inside `add`;
- the counters `delivered` and `evicted`, updated in the same step as the change they count.

The policy and the counters are written once, in `BaseOutbox`; a backend built on it
(`MemoryOutbox`, `SQLiteOutbox`) implements only its storage: a handful of primitives, each
one storage step. Nothing here loads the whole backlog: `peek` pages through it by seq.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from facepush.errors import BatchTooLargeError, CacheFullError

RECOGNITION = 0
ALARM = 1

QUEUED = 0
SET_ASIDE = 1

EVICTION_ORDER = (RECOGNITION, ALARM)  # alarms go last (ruling 8, docs/protocol-rulings.md)
DELIVERED, EVICTED = "delivered", "evicted"  # the two totals a removal counts toward


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
class CachedRecord:
    """A record as the outbox (the terminal's cache) holds it; "store" is the receiver's."""

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

    def peek(self, kind: int, after_seq: int, limit: int) -> list[CachedRecord]:
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

    def set_aside_record(self, seq: int, reason: str) -> bool:
        """Move one queued record aside (kept, counted toward the limit, not sent); False
        when it is not queued (gone, or aside already)."""
        ...

    def list_set_aside(self, after_seq: int, limit: int) -> list[CachedRecord]: ...

    def replay(self, seqs: Sequence[int] | None) -> int:
        """Put set-aside records (all, or those in `seqs`) back in the queue; returns how many."""
        ...

    def counts(self) -> Counts:
        """Current counters; cheap (kept in memory), safe to call from any thread."""
        ...

    def close(self) -> None: ...


class BaseOutbox(ABC):
    """The part of an outbox every backend shares: the cap and its policy (room for a batch,
    which records to evict), and the counters, kept in memory so that `counts()` never
    touches the storage. A backend implements the primitives (`_oldest`, `_insert`,
    `_delete`, `_move_aside`, `_requeue`) plus the interface's reads and `note_refusal`;
    where it has transactions it overrides `_transaction`, and on a rollback it reloads the
    counters (they may have moved inside it)."""

    blocking: bool

    def __init__(self, limit: int, when_full: WhenFull) -> None:
        if limit < 1:
            raise ValueError(f"cache limit must be at least 1, got {limit}")
        self.limit = limit
        self.when_full = when_full
        self._queued = {RECOGNITION: 0, ALARM: 0}
        self._set_aside = 0
        self._totals = {DELIVERED: 0, EVICTED: 0}

    # -- the interface, written once ----------------------------------------------------

    def add(self, records: Sequence[NewRecord], accepted_at: int) -> AddResult:
        if len(records) > self.limit:
            raise BatchTooLargeError(len(records), self.limit)
        excess = self._cached + len(records) - self.limit
        if excess > 0 and self.when_full is WhenFull.REFUSE_NEWEST:
            raise CacheFullError(self._cached, self.limit, len(records))
        evicted: list[Evicted] = []
        with self._transaction():
            for kind in EVICTION_ORDER:
                if len(evicted) < excess:
                    rows = self._oldest(kind, excess - len(evicted))
                    evicted += [Evicted(*row) for row in rows]
            if evicted:
                self._remove([e.seq for e in evicted], EVICTED)
            seqs = self._insert(records, accepted_at)
        for r in records:
            self._queued[r.kind] += 1
        return AddResult(seqs, evicted, self._cached)

    def ack(self, seqs: Sequence[int]) -> int:
        if not seqs:
            return 0
        # Not durable: a delete lost to power loss only re-sends acknowledged records (the
        # receiver de-duplicates), and the next durable commit makes it durable anyway.
        with self._transaction(durable=False):
            return self._remove(seqs, DELIVERED)

    def set_aside_record(self, seq: int, reason: str) -> bool:
        with self._transaction():
            kind = self._move_aside(seq, reason)
        if kind is None:
            return False
        self._queued[kind] -= 1
        self._set_aside += 1
        return True

    def replay(self, seqs: Sequence[int] | None) -> int:
        with self._transaction():
            kinds = self._requeue(seqs)
        for kind in kinds:
            self._queued[kind] += 1
            self._set_aside -= 1
        return len(kinds)

    def counts(self) -> Counts:
        return Counts(
            cached=self._cached,
            queued=self._queued[RECOGNITION] + self._queued[ALARM],
            queued_alarms=self._queued[ALARM],
            set_aside=self._set_aside,
            delivered=self._totals[DELIVERED],
            evicted=self._totals[EVICTED],
        )

    @property
    def _cached(self) -> int:
        return self._queued[RECOGNITION] + self._queued[ALARM] + self._set_aside

    def _recount(self, groups: Iterable[tuple[int, int, int]], totals: Mapping[str, int]) -> None:
        """Set the counters from what storage that outlives the process holds (at open, and
        after a rollback): its (state, kind, records) groups, and its totals."""
        self._queued = {RECOGNITION: 0, ALARM: 0}
        self._set_aside = 0
        for state, kind, n in groups:
            if state == QUEUED:
                self._queued[kind] = self._queued.get(kind, 0) + n
            else:
                self._set_aside += n
        self._totals = {DELIVERED: int(totals[DELIVERED]), EVICTED: int(totals[EVICTED])}

    def _remove(self, seqs: Sequence[int], total: str) -> int:
        gone = self._delete(seqs, total)
        for kind, state in gone:
            if state == QUEUED:
                self._queued[kind] -= 1
            else:
                self._set_aside -= 1
        self._totals[total] += len(gone)
        return len(gone)

    # -- what a backend implements -------------------------------------------------------

    def _transaction(self, durable: bool = True) -> AbstractContextManager[object]:
        """The primitives called inside commit together or not at all; `durable`: on disk
        when it ends (False: may be lost to power loss, never to a crash)."""
        return nullcontext()

    @abstractmethod
    def _oldest(self, kind: int, count: int) -> list[tuple[int, int, str]]:
        """(seq, kind, key) of up to `count` of the oldest records of `kind`, queued or
        set aside."""

    @abstractmethod
    def _insert(self, records: Sequence[NewRecord], accepted_at: int) -> list[int]:
        """Store `records` queued, in order; returns their new seqs."""

    @abstractmethod
    def _delete(self, seqs: Sequence[int], total: str) -> list[tuple[int, int]]:
        """Delete the records held among `seqs` and add how many to the stored `total`
        (`DELIVERED` or `EVICTED`) where totals are stored; returns each one's (kind, state)."""

    @abstractmethod
    def _move_aside(self, seq: int, reason: str) -> int | None:
        """Set a queued record aside with `reason`; its kind, or None if it is not queued."""

    @abstractmethod
    def _requeue(self, seqs: Sequence[int] | None) -> list[int]:
        """Queue again, attempts back to 0, the set-aside records (all, or those among
        `seqs`); returns each one's kind."""

    @abstractmethod
    def peek(self, kind: int, after_seq: int, limit: int) -> list[CachedRecord]: ...

    @abstractmethod
    def list_set_aside(self, after_seq: int, limit: int) -> list[CachedRecord]: ...

    @abstractmethod
    def note_refusal(self, seq: int, reason: str) -> int: ...

    @abstractmethod
    def close(self) -> None: ...
