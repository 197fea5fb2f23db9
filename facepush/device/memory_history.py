"""An in-memory history: for embedding without a data directory, tests, and emulators.
Same semantics as the SQLite one, minus the disk; a query scans every record (fine for
the sizes such uses hold)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace

from facepush.device.history import HISTORY_IMAGES, HISTORY_LIMIT, Found, HistoryEntry
from facepush.protocol.history import HistoryQuery


class MemoryHistory:
    blocking = False

    def __init__(self, limit: int = HISTORY_LIMIT, images: int = HISTORY_IMAGES) -> None:
        if limit < 1 or images < 0:
            raise ValueError(f"history limit must be at least 1 and images at least 0: {limit}")
        self.limit = limit
        self.images = images
        self._next_seq = 1
        # uuid -> (seq, entry without its image), in the order added (the terminal's own)
        self._records: OrderedDict[str, tuple[int, HistoryEntry]] = OrderedDict()
        self._images: OrderedDict[int, str] = OrderedDict()  # seq -> snapshot, oldest first

    def add(self, entries: Sequence[HistoryEntry]) -> int:
        added = 0
        for e in entries:
            if e.uuid in self._records:
                continue
            seq, self._next_seq = self._next_seq, self._next_seq + 1
            self._records[e.uuid] = (seq, replace(e, image=None))
            if e.image and self.images:
                self._images[seq] = e.image
            added += 1
        while len(self._records) > self.limit:
            seq, _ = self._records.popitem(last=False)[1]
            self._images.pop(seq, None)
        while len(self._images) > self.images:
            self._images.popitem(last=False)
        return added

    def find(self, query: HistoryQuery) -> Found:
        matches = [(seq, e) for seq, e in self._records.values() if _matches(e, query)]
        # A stable sort by time alone: ties keep the order they were added in.
        matches.sort(key=lambda m: m[1].timestamp, reverse=query.descending)
        page = matches[query.offset : query.offset + query.limit]
        return Found(len(matches), [(e.item, self._images.get(seq)) for seq, e in page])

    def count(self) -> int:
        return len(self._records)

    def close(self) -> None:
        pass


def _matches(e: HistoryEntry, query: HistoryQuery) -> bool:
    if query.begin_time is not None and e.timestamp < query.begin_time:
        return False
    if query.end_time is not None and e.timestamp > query.end_time:
        return False
    if query.filter_field is not None:
        return bool(getattr(e, query.filter_field) == query.filter_value)
    return True
