"""An in-memory outbox: for embedding where durability is not wanted, tests, and emulators
that run many terminals in one process. Same semantics as the SQLite one, minus the disk:
the policy and the counters are `BaseOutbox`'s, this module only keeps the records."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import replace

from facepush.device.outbox import (
    ALARM,
    QUEUED,
    RECOGNITION,
    SET_ASIDE,
    BaseOutbox,
    CachedRecord,
    NewRecord,
    WhenFull,
)
from facepush.protocol.limits import CACHE_LIMIT

_COMPACT_AFTER = 1024  # dead entries in a kind's order before it may be compacted


class MemoryOutbox(BaseOutbox):
    blocking = False

    def __init__(
        self, limit: int = CACHE_LIMIT, when_full: WhenFull = WhenFull.DROP_OLDEST
    ) -> None:
        super().__init__(limit, when_full)
        self._next_seq = 1
        self._records: dict[int, CachedRecord] = {}
        self._state: dict[int, int] = {}
        # Seqs per kind in increasing order (append-only); entries whose record is gone are
        # skipped and compacted away now and then, so lookups stay O(log n).
        self._order: dict[int, list[int]] = {RECOGNITION: [], ALARM: []}
        self._dead: dict[int, int] = {RECOGNITION: 0, ALARM: 0}

    def peek(self, kind: int, after_seq: int, limit: int) -> list[CachedRecord]:
        order = self._order[kind]
        out: list[CachedRecord] = []
        for i in range(bisect.bisect_right(order, after_seq), len(order)):
            seq = order[i]
            if self._state.get(seq) == QUEUED:
                out.append(self._records[seq])
                if len(out) == limit:
                    break
        return out

    def list_set_aside(self, after_seq: int, limit: int) -> list[CachedRecord]:
        aside = sorted(s for s, state in self._state.items() if state == SET_ASIDE)
        return [self._records[seq] for seq in aside if seq > after_seq][:limit]

    def note_refusal(self, seq: int, reason: str) -> int:
        rec = self._records.get(seq)
        if rec is None:
            return 0
        self._records[seq] = replace(rec, attempts=rec.attempts + 1, reason=reason)
        return rec.attempts + 1

    def close(self) -> None:
        pass

    # -- the storage primitives ----------------------------------------------------------

    def _oldest(self, kind: int, count: int) -> list[tuple[int, int, str]]:
        found: list[tuple[int, int, str]] = []
        for seq in self._order[kind]:
            if len(found) == count:
                break
            rec = self._records.get(seq)
            if rec is not None:
                found.append((seq, rec.kind, rec.key))
        return found

    def _insert(self, records: Sequence[NewRecord], accepted_at: int) -> list[int]:
        seqs = list(range(self._next_seq, self._next_seq + len(records)))
        self._next_seq += len(records)
        for seq, new in zip(seqs, records, strict=True):
            self._records[seq] = CachedRecord(seq, new.kind, new.key, new.body, 0, accepted_at)
            self._state[seq] = QUEUED
            self._order[new.kind].append(seq)
        return seqs

    def _delete(self, seqs: Sequence[int], total: str) -> list[tuple[int, int]]:
        gone = []
        for seq in seqs:
            rec = self._records.pop(seq, None)
            if rec is not None:
                gone.append((rec.kind, self._state.pop(seq)))
                self._forget(rec.kind)
        return gone

    def _forget(self, kind: int) -> None:
        self._dead[kind] += 1
        order = self._order[kind]
        if self._dead[kind] > _COMPACT_AFTER and self._dead[kind] * 2 > len(order):
            self._order[kind] = [s for s in order if s in self._records]
            self._dead[kind] = 0

    def _move_aside(self, seq: int, reason: str) -> int | None:
        rec = self._records.get(seq)
        if rec is None or self._state[seq] != QUEUED:
            return None
        self._records[seq] = replace(rec, reason=reason)
        self._state[seq] = SET_ASIDE
        return rec.kind

    def _requeue(self, seqs: Sequence[int] | None) -> list[int]:
        chosen = list(self._state) if seqs is None else seqs
        kinds = []
        for seq in chosen:
            if self._state.get(seq) == SET_ASIDE:
                rec = self._records[seq] = replace(self._records[seq], attempts=0)
                self._state[seq] = QUEUED
                kinds.append(rec.kind)
        return kinds
