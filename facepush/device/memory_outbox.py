"""An in-memory outbox: for embedding where durability is not wanted, tests, and emulators
that run many terminals in one process. Same semantics as the SQLite one, minus the disk."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import replace

from facepush.device.errors import BatchTooLargeError, CacheFullError
from facepush.device.outbox import (
    ALARM,
    QUEUED,
    RECOGNITION,
    SET_ASIDE,
    AddResult,
    Counts,
    Evicted,
    NewRecord,
    StoredRecord,
    WhenFull,
)
from facepush.protocol.limits import CACHE_LIMIT


class MemoryOutbox:
    blocking = False

    def __init__(
        self, limit: int = CACHE_LIMIT, when_full: WhenFull = WhenFull.DROP_OLDEST
    ) -> None:
        if limit < 1:
            raise ValueError(f"cache limit must be at least 1, got {limit}")
        self.limit = limit
        self.when_full = when_full
        self._next_seq = 1
        self._records: dict[int, StoredRecord] = {}
        self._state: dict[int, int] = {}
        # Seqs per kind in increasing order (append-only); entries whose record is gone are
        # skipped and compacted away now and then, so lookups stay O(log n).
        self._order: dict[int, list[int]] = {RECOGNITION: [], ALARM: []}
        self._dead: dict[int, int] = {RECOGNITION: 0, ALARM: 0}
        self._delivered = 0
        self._evicted = 0
        self._queued = {RECOGNITION: 0, ALARM: 0}
        self._set_aside = 0

    def add(self, records: Sequence[NewRecord], accepted_at: int) -> AddResult:
        if len(records) > self.limit:
            raise BatchTooLargeError(len(records), self.limit)
        excess = len(self._records) + len(records) - self.limit
        evicted: list[Evicted] = []
        if excess > 0:
            if self.when_full is WhenFull.REFUSE_NEWEST:
                raise CacheFullError(len(self._records), self.limit, len(records))
            for kind in (RECOGNITION, ALARM):  # alarms go last (ruling 8, docs/protocol-rulings.md)
                for seq in self._order[kind]:
                    if len(evicted) == excess:
                        break
                    if seq in self._records:
                        rec = self._records[seq]
                        evicted.append(Evicted(seq, rec.kind, rec.key))
            for item in evicted:
                self._remove(item.seq)
            self._evicted += len(evicted)
        seqs = []
        for new in records:
            seq = self._next_seq
            self._next_seq += 1
            self._records[seq] = StoredRecord(seq, new.kind, new.key, new.body, 0, accepted_at)
            self._state[seq] = QUEUED
            self._order[new.kind].append(seq)
            self._queued[new.kind] += 1
            seqs.append(seq)
        return AddResult(seqs, evicted, len(self._records))

    def peek(self, kind: int, after_seq: int, limit: int) -> list[StoredRecord]:
        order = self._order[kind]
        out: list[StoredRecord] = []
        for i in range(bisect.bisect_right(order, after_seq), len(order)):
            seq = order[i]
            if self._state.get(seq) == QUEUED:
                out.append(self._records[seq])
                if len(out) == limit:
                    break
        return out

    def ack(self, seqs: Sequence[int]) -> int:
        held = sum(1 for seq in seqs if self._remove(seq))
        self._delivered += held
        return held

    def note_refusal(self, seq: int, reason: str) -> int:
        rec = self._records.get(seq)
        if rec is None:
            return 0
        self._records[seq] = replace(rec, attempts=rec.attempts + 1, reason=reason)
        return rec.attempts + 1

    def set_aside(self, seq: int, reason: str) -> bool:
        rec = self._records.get(seq)
        if rec is None or self._state[seq] != QUEUED:
            return False
        self._records[seq] = replace(rec, reason=reason)
        self._state[seq] = SET_ASIDE
        self._queued[rec.kind] -= 1
        self._set_aside += 1
        return True

    def list_set_aside(self, after_seq: int, limit: int) -> list[StoredRecord]:
        out = []
        for seq in sorted(s for s, state in self._state.items() if state == SET_ASIDE):
            if seq > after_seq:
                out.append(self._records[seq])
                if len(out) == limit:
                    break
        return out

    def replay(self, seqs: Sequence[int] | None) -> int:
        chosen = self._state if seqs is None else {s: self._state.get(s) for s in seqs}
        count = 0
        for seq, state in list(chosen.items()):
            if state == SET_ASIDE:
                rec = self._records[seq]
                self._records[seq] = replace(rec, attempts=0)
                self._state[seq] = QUEUED
                self._queued[rec.kind] += 1
                self._set_aside -= 1
                count += 1
        return count

    def counts(self) -> Counts:
        return Counts(
            cached=len(self._records),
            queued=self._queued[RECOGNITION] + self._queued[ALARM],
            queued_alarms=self._queued[ALARM],
            set_aside=self._set_aside,
            delivered=self._delivered,
            evicted=self._evicted,
        )

    def close(self) -> None:
        pass

    def _remove(self, seq: int) -> bool:
        rec = self._records.pop(seq, None)
        if rec is None:
            return False
        if self._state.pop(seq) == QUEUED:
            self._queued[rec.kind] -= 1
        else:
            self._set_aside -= 1
        self._dead[rec.kind] += 1
        order = self._order[rec.kind]
        if self._dead[rec.kind] > 1024 and self._dead[rec.kind] * 2 > len(order):
            self._order[rec.kind] = [s for s in order if s in self._records]
            self._dead[rec.kind] = 0
        return True
