"""The terminal's history: every recognition record it made, whatever the push
configuration (ruling H1), served by `POST /v1/event/records`.

History is independent of the push cache: a record evicted from the cache, or made while
push was disabled, is still here until history's own retention drops it (`limit` records,
oldest first by the terminal's own order). Alarms are not in history. A record is kept in
the vendor's history shape (`facepush.protocol.history.history_item`), and its snapshot
with it for the newest `images` records only (older items then carry `rgb_image: ""`):
history keeps 100,000 records by default, and their 40 KB snapshots would take 4 GB.
A record handed over twice (same `uuid`) is kept once.

A backend is a small synchronous object, like the outbox's: `SQLiteHistory` (durable) and
`MemoryHistory`, both built on `BaseHistory` (retention and counts, written once), so each
keeps only its storage; `AsyncHistory` runs one behind asyncio on its own threads. One test
suite (tests/device/test_history.py) runs against every backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec

from facepush.device.outbox import RECOGNITION, NewRecord
from facepush.device.threads import ThreadRunner
from facepush.protocol.decode import decode_object
from facepush.protocol.history import HistoryQuery, history_item
from facepush.protocol.jsontext import dump_json
from facepush.protocol.models import Recognition

HISTORY_LIMIT = 100_000  # records kept
HISTORY_IMAGES = 1_000  # newest records whose snapshot is kept


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One record for history: the filter columns, the item JSON and its snapshot."""

    uuid: str
    timestamp: int  # Unix seconds, by the terminal's clock
    user_id: str
    job_number: str
    ic_number: str
    item: bytes  # the history item as JSON, with `rgb_image` ""
    image: str | None = None  # base64 JPEG, or None


@dataclass(frozen=True, slots=True)
class Found:
    """A page of history: how many records match in all, and this page's (item, image)s."""

    total: int
    items: list[tuple[bytes, str | None]]


class History(Protocol):
    """The storage interface. `blocking` says whether calls do I/O (run them off the loop)."""

    blocking: bool
    limit: int  # records kept; the oldest are dropped first
    images: int  # newest records whose snapshot is kept

    def add(self, entries: Sequence[HistoryEntry]) -> int:
        """Store entries in order (one already held by `uuid` is skipped), then drop the
        oldest records beyond `limit` and the oldest snapshots beyond `images`; returns
        how many were new."""
        ...

    def find(self, query: HistoryQuery) -> Found:
        """The records matching `query`, ordered by time (ties in the order they were
        added), `offset`/`limit` applied; `total` counts every match. Read-only: may run
        on a reader thread beside a write."""
        ...

    def count(self) -> int:
        """Records held; cheap, safe from any thread."""
        ...

    def close(self) -> None: ...


class BaseHistory(ABC):
    """The part of a history every backend shares: `add` (each record once, then
    retention: the oldest records beyond `limit`, then the oldest snapshots beyond
    `images`) and the counts, kept in memory. A backend implements the primitives
    (`_insert`, `_drop_oldest`, `_drop_snapshots`) and `find`; where it has transactions it
    overrides `_transaction`, and on a rollback it reloads the counts."""

    blocking: bool

    def __init__(self, limit: int, images: int) -> None:
        if limit < 1 or images < 0:
            raise ValueError(f"history limit must be at least 1 and images at least 0: {limit}")
        self.limit = limit
        self.images = images
        self._count = 0  # records held
        self._snapshots = 0  # of which with their snapshot

    def add(self, entries: Sequence[HistoryEntry]) -> int:
        added = 0
        with self._transaction():
            for e in entries:
                with_image = bool(e.image) and self.images > 0
                if self._insert(e, with_image):
                    added += 1
                    self._snapshots += with_image
            self._count += added
            self._trim()
        return added

    def count(self) -> int:
        return self._count

    def _trim(self) -> None:
        excess = self._count - self.limit
        if excess > 0:
            records, snapshots = self._drop_oldest(excess)
            self._count -= records
            self._snapshots -= snapshots
        excess = self._snapshots - self.images
        if excess > 0:
            self._snapshots -= self._drop_snapshots(excess)

    def _transaction(self) -> AbstractContextManager[object]:
        """The primitives called inside commit together or not at all."""
        return nullcontext()

    @abstractmethod
    def _insert(self, entry: HistoryEntry, with_image: bool) -> bool:
        """Keep `entry` (and its snapshot if `with_image`) after every record held; False
        when a record with its `uuid` is held already (then nothing changes)."""

    @abstractmethod
    def _drop_oldest(self, count: int) -> tuple[int, int]:
        """Drop the `count` oldest records; returns how many records and snapshots went."""

    @abstractmethod
    def _drop_snapshots(self, count: int) -> int:
        """Drop the `count` oldest snapshots (their records stay); returns how many went."""

    @abstractmethod
    def find(self, query: HistoryQuery) -> Found: ...

    @abstractmethod
    def close(self) -> None: ...


def entry_of(record: NewRecord) -> HistoryEntry | None:
    """The history entry of a record as cached for push; None for an alarm."""
    if record.kind != RECOGNITION:
        return None
    push = decode_object(msgspec.json.decode(record.body))
    assert isinstance(push.data, Recognition)
    item = history_item(push.data)
    user = item["user"]
    return HistoryEntry(
        uuid=push.data.uuid,
        timestamp=item["timestamp"],
        user_id=user["user_id"],
        job_number=user["job_number"],
        ic_number=user["ic_number"],
        item=dump_json(item),
        image=push.data.rgb_image,
    )


class AsyncHistory:
    """A History behind asyncio: writes on its own thread, pages built on a reader thread."""

    def __init__(self, history: History) -> None:
        self._threads = ThreadRunner(history, "facepush-history")

    @property
    def backend(self) -> History:
        return self._threads.backend

    def count(self) -> int:
        return self.backend.count()

    async def add(self, records: Sequence[NewRecord]) -> int:
        """Add the recognitions among `records` (decoded off the loop); returns how many."""
        return await self._threads.call(self._add, records)

    def _add(self, records: Sequence[NewRecord]) -> int:
        entries = [e for e in map(entry_of, records) if e is not None]
        return self.backend.add(entries) if entries else 0

    async def page(self, query: HistoryQuery) -> dict[str, Any]:
        """`POST /v1/event/records` data: `{offset, limit, count, total, items}`."""
        return await self._threads.read(self._page, query)

    def _page(self, query: HistoryQuery) -> dict[str, Any]:
        found = self.backend.find(query)
        items = [_with_image(item, image) for item, image in found.items]
        return {
            "offset": query.offset,
            "limit": query.limit,
            "count": len(items),
            "total": found.total,
            "items": items,
        }

    async def close(self) -> None:
        await self._threads.close()


def _with_image(item: bytes, image: str | None) -> dict[str, Any]:
    value: dict[str, Any] = msgspec.json.decode(item)
    if image:
        value["rgb_image"] = image
    return value
