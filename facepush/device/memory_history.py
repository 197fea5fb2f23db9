"""An in-memory history: for embedding without a data directory, tests, and emulators.
Same semantics as the SQLite one, minus the disk (retention and counts are
`BaseHistory`'s); a query scans every record (fine for the sizes such uses hold)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace

from facepush.device.history import (
    HISTORY_IMAGES,
    HISTORY_LIMIT,
    BaseHistory,
    Found,
    HistoryEntry,
)
from facepush.protocol.history import HistoryQuery


class MemoryHistory(BaseHistory):
    blocking = False

    def __init__(self, limit: int = HISTORY_LIMIT, images: int = HISTORY_IMAGES) -> None:
        super().__init__(limit, images)
        self._next_seq = 1
        # uuid -> (seq, entry without its image), in the order added (the terminal's own)
        self._records: OrderedDict[str, tuple[int, HistoryEntry]] = OrderedDict()
        self._images: OrderedDict[int, str] = OrderedDict()  # seq -> snapshot, oldest first

    def find(self, query: HistoryQuery) -> Found:
        matches = [(seq, e) for seq, e in self._records.values() if _matches(e, query)]
        # A stable sort by time alone: ties keep the order they were added in.
        matches.sort(key=lambda m: m[1].timestamp, reverse=query.descending)
        page = matches[query.offset : query.offset + query.limit]
        return Found(len(matches), [(e.item, self._images.get(seq)) for seq, e in page])

    def close(self) -> None:
        pass

    def _insert(self, entry: HistoryEntry, with_image: bool) -> bool:
        if entry.uuid in self._records:
            return False
        seq, self._next_seq = self._next_seq, self._next_seq + 1
        self._records[entry.uuid] = (seq, replace(entry, image=None))
        if with_image and entry.image:
            self._images[seq] = entry.image
        return True

    def _drop_oldest(self, count: int) -> tuple[int, int]:
        snapshots = 0
        for _ in range(count):
            seq, _entry = self._records.popitem(last=False)[1]
            snapshots += self._images.pop(seq, None) is not None
        return count, snapshots

    def _drop_snapshots(self, count: int) -> int:
        for _ in range(count):
            self._images.popitem(last=False)
        return count


def _matches(e: HistoryEntry, query: HistoryQuery) -> bool:
    if query.begin_time is not None and e.timestamp < query.begin_time:
        return False
    if query.end_time is not None and e.timestamp > query.end_time:
        return False
    if query.filter_field is not None:
        return bool(getattr(e, query.filter_field) == query.filter_value)
    return True
