"""Forwarding's part of the store: each sink's durable position, the records it set aside,
and the reading of stored records in forwarding order.

The SQL is portable (`?` placeholders, row values); the dialect-specific bits are few and
marked: which rows are final (below), the lease (facepush.receiver.forward.leases), and
on which connection a position is written. The store lends three primitives:
`fetch()` (a read on the calling thread's own reader), SQLite's `write_transaction()`
and PostgreSQL's `connect()`.

Which rows may be forwarded, and in which order, so that nothing is ever skipped:

- SQLite has one writer at a time, and a transaction's ids are above every id committed
  before it: id order is commit order, and a row a reader sees has every lower id already
  committed (or gone for good). The cursor is `id > last`.
- PostgreSQL: ids are taken at insert and transactions commit in any order (and
  `ON CONFLICT DO NOTHING` burns ids, so gaps are normal and permanent): a cursor on
  `id > last` alone skips a row whose transaction commits after a later one's. So each
  row carries its inserting transaction's id (`xid`, the column default
  pg_current_xact_id()), and a read returns only rows with `xid` below its own snapshot's
  xmin: every transaction below xmin has finished, so that set of rows can no longer
  grow, and reading it in (xid, id) order with a cursor on (xid, id) misses nothing. A
  transaction that stays open holds forwarding back (never skipped, only late) until it
  ends. tests/receiver/test_forward_positions.py proves it with a transaction held open.
"""

from __future__ import annotations

import abc
import contextlib
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from facepush.errors import StoreUnavailable
from facepush.protocol.times import now_ms
from facepush.receiver.forward.leases import AdvisoryLease, FileLease, Lease, advisory_key
from facepush.receiver.pg_store import PostgresStore, guarded
from facepush.receiver.sql import EVENT_COLUMNS, Run, SqlStore, to_event
from facepush.receiver.sqlite_store import SQLiteStore
from facepush.receiver.store import EventRow, Store


@dataclass(frozen=True, slots=True, order=True)
class Cursor:
    """A place in forwarding order: (inserting transaction, id); xid is 0 on SQLite."""

    xid: int
    id: int


START = Cursor(0, 0)


@dataclass(frozen=True, slots=True)
class Position:
    sink: str
    cursor: Cursor = START
    forwarded: int = 0
    skipped: int = 0
    set_aside: int = 0
    last_forwarded_at: int | None = None
    last_error: str | None = None
    holder: str | None = None
    updated_at: int | None = None


@dataclass(frozen=True, slots=True)
class SetAside:
    """A record a sink refused for good, kept for that sink."""

    event_id: int
    key: str
    error: str
    attempts: int
    set_aside_at: int
    replay: bool = False


@dataclass(slots=True)
class Progress:
    """What one save adds to a sink's position, in one transaction."""

    cursor: Cursor
    forwarded: int = 0  # acknowledged since the last save
    skipped: int = 0  # passed over by `late = "skip"` since the last save
    last_forwarded_at: int | None = None
    last_error: str | None = None
    set_aside: list[SetAside] = field(default_factory=list)  # newly refused
    replayed: list[int] = field(default_factory=list)  # set-aside records now delivered
    refused_again: list[tuple[int, str]] = field(default_factory=list)  # (event id, why)


_POSITION_COLUMNS = (
    "xid, id, forwarded, skipped, (SELECT COUNT(*) FROM forward_set_aside AS s "
    "WHERE s.sink = p.sink), last_forwarded_at, last_error, holder, updated_at"
)
_SET_ASIDE_COLUMNS = "event_id, key, error, attempts, set_aside_at, replay"


def _position(sink: str, row: Sequence[Any]) -> Position:
    return Position(
        sink=sink,
        cursor=Cursor(int(row[0]), int(row[1])),
        forwarded=int(row[2]),
        skipped=int(row[3]),
        set_aside=int(row[4]),
        last_forwarded_at=row[5],
        last_error=row[6],
        holder=row[7],
        updated_at=row[8],
    )


def _set_aside(row: Sequence[Any]) -> SetAside:
    return SetAside(int(row[0]), row[1], row[2], int(row[3]), int(row[4]), bool(row[5]))


class Positions(abc.ABC):
    """Forwarding's reads and writes, over one SQL store. Reads run on the calling
    thread's reader connection (forwarding calls them on a thread of its own)."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    # -- reads -------------------------------------------------------------------------

    @abc.abstractmethod
    def read(self, after: Cursor, limit: int) -> list[tuple[Cursor, EventRow]]:
        """Up to `limit` final rows after `after`, in forwarding order."""

    @abc.abstractmethod
    def end(self) -> Cursor:
        """The last final row's place: `read(end())` returns only rows stored later."""

    @abc.abstractmethod
    def _after(self, cursor: Cursor) -> tuple[str, list[Any]]:
        """The condition (and its parameters) of the rows after `cursor`."""

    def pending(self, cursor: Cursor, types: Sequence[int], skip_late: bool) -> int:
        """Stored records after `cursor` that a sink with these filters will send."""
        where, params = self._after(cursor)
        marks = ", ".join("?" * len(types))
        where += f" AND type IN ({marks})"
        params += list(types)
        if skip_late:
            where += " AND late = ?"
            params.append(False)
        return int(self.store.fetch(f"SELECT COUNT(*) FROM events WHERE {where}", params)[0][0])

    def next_received_at(self, cursor: Cursor) -> int | None:
        """When the next stored record after `cursor` was received (for the lag)."""
        rows = self.read(cursor, 1)
        return rows[0][1].received_at if rows else None

    def position(self, sink: str) -> Position:
        rows = self.store.fetch(
            f"SELECT {_POSITION_COLUMNS} FROM forward_positions AS p WHERE sink = ?", [sink]
        )
        return _position(sink, rows[0]) if rows else Position(sink)

    def set_aside(self, sink: str, limit: int) -> list[SetAside]:
        rows = self.store.fetch(
            f"SELECT {_SET_ASIDE_COLUMNS} FROM forward_set_aside WHERE sink = ? "
            "ORDER BY event_id LIMIT ?",
            [sink, limit],
        )
        return [_set_aside(r) for r in rows]

    def to_replay(self, sink: str, limit: int) -> list[tuple[SetAside, EventRow]]:
        """Set-aside records asked to be replayed, oldest first, with their rows."""
        cols = ", ".join(f"e.{c.strip()}" for c in EVENT_COLUMNS.split(","))
        aside = ", ".join(f"s.{c.strip()}" for c in _SET_ASIDE_COLUMNS.split(","))
        rows = self.store.fetch(
            f"SELECT {aside}, {cols} FROM forward_set_aside AS s "
            "JOIN events AS e ON e.id = s.event_id "
            "WHERE s.sink = ? AND s.replay = ? ORDER BY s.event_id LIMIT ?",
            [sink, True, limit],
        )
        return [(_set_aside(r[:6]), to_event(r[6:])) for r in rows]

    def image(self, image_id: str) -> bytes | None:
        return self.store.image(image_id)

    # -- writes ------------------------------------------------------------------------

    @abc.abstractmethod
    def lease(self, sink: str) -> Lease: ...

    @abc.abstractmethod
    def _leased(self, lease: Lease) -> contextlib.AbstractContextManager[Run]:
        """A transaction for the holder of `lease`; raises StoreUnavailable."""

    @abc.abstractmethod
    def _unleased(self) -> contextlib.AbstractContextManager[Run]:
        """A transaction for a write of anyone (the API's replay requests)."""

    def save(self, lease: Lease, sink: str, progress: Progress, holder: str) -> None:
        """Move the sink's position and counters and keep what it set aside: all or
        nothing, and only while this process holds the lease."""
        with self._leased(lease) as run:
            now = now_ms()
            _ensure_row(run, sink, now)
            run(
                "UPDATE forward_positions SET xid = ?, id = ?, forwarded = forwarded + ?, "
                "skipped = skipped + ?, "
                "last_forwarded_at = COALESCE(?, last_forwarded_at), last_error = ?, "
                "holder = ?, updated_at = ? WHERE sink = ?",
                [
                    progress.cursor.xid,
                    progress.cursor.id,
                    progress.forwarded,
                    progress.skipped,
                    progress.last_forwarded_at,
                    progress.last_error,
                    holder,
                    now,
                    sink,
                ],
            )
            for item in progress.set_aside:
                run(
                    "INSERT INTO forward_set_aside (sink, event_id, key, error, attempts, "
                    "set_aside_at, replay) VALUES (?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (sink, event_id) DO UPDATE SET error = excluded.error, "
                    "attempts = forward_set_aside.attempts + 1, replay = excluded.replay",
                    [sink, item.event_id, item.key, item.error, item.attempts, now, False],
                )
            for event_id in progress.replayed:
                run(
                    "DELETE FROM forward_set_aside WHERE sink = ? AND event_id = ?",
                    [sink, event_id],
                )
            for event_id, error in progress.refused_again:
                run(
                    "UPDATE forward_set_aside SET error = ?, attempts = attempts + 1, "
                    "replay = ? WHERE sink = ? AND event_id = ?",
                    [error, False, sink, event_id],
                )

    def request_replay(self, sink: str, event_ids: Sequence[int] | None) -> int:
        """Ask the holder to send set-aside records again (all when `event_ids` is None);
        returns how many were found."""
        with self._unleased() as run:
            if event_ids is None:
                rows = run(
                    "UPDATE forward_set_aside SET replay = ? WHERE sink = ? RETURNING event_id",
                    [True, sink],
                )
                return len(rows)
            found = 0
            for event_id in event_ids:
                found += len(
                    run(
                        "UPDATE forward_set_aside SET replay = ? WHERE sink = ? "
                        "AND event_id = ? RETURNING event_id",
                        [True, sink, event_id],
                    )
                )
            return found


def _ensure_row(run: Run, sink: str, now: int) -> None:
    run(
        "INSERT INTO forward_positions (sink, xid, id, forwarded, skipped, updated_at) "
        "VALUES (?, 0, 0, 0, 0, ?) ON CONFLICT (sink) DO NOTHING",
        [sink, now],
    )


class SqlitePositions(Positions):
    def __init__(self, store: SQLiteStore) -> None:
        super().__init__(store)
        self.sqlite = store
        self.path: Path = store.path

    def _after(self, cursor: Cursor) -> tuple[str, list[Any]]:
        return "id > ?", [cursor.id]

    def read(self, after: Cursor, limit: int) -> list[tuple[Cursor, EventRow]]:
        # One writer: every row a reader sees has all lower ids committed (module doc).
        rows = self.store.fetch(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE id > ? ORDER BY id LIMIT ?",
            [after.id, limit],
        )
        return [(Cursor(0, int(r[0])), to_event(r)) for r in rows]

    def end(self) -> Cursor:
        return Cursor(0, int(self.store.fetch("SELECT COALESCE(MAX(id), 0) FROM events", [])[0][0]))

    def lease(self, sink: str) -> Lease:
        return FileLease(self.path.with_name(f"{self.path.name}-forward-{sink}.lock"))

    @contextmanager
    def _leased(self, lease: Lease) -> Iterator[Run]:
        if not lease.check():
            raise StoreUnavailable("the forwarding lease is not held")
        with self._unleased() as run:
            yield run

    @contextmanager
    def _unleased(self) -> Iterator[Run]:
        with self.sqlite.write_transaction() as conn:
            yield self.store.runner(conn)


_PG_READ = f"""
WITH horizon AS (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin)
SELECT xid, {EVENT_COLUMNS} FROM events, horizon
WHERE (xid, id) > (?, ?) AND xid < horizon.xmin
ORDER BY xid, id LIMIT ?
"""
_PG_END = """
WITH horizon AS (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin)
SELECT xid, id FROM events, horizon WHERE xid < horizon.xmin ORDER BY xid DESC, id DESC LIMIT 1
"""


class PgPositions(Positions):
    def __init__(self, store: PostgresStore) -> None:
        super().__init__(store)
        self.pg = store
        self._api_lock = threading.Lock()
        self._api_conn: psycopg.Connection[Any] | None = None

    def _after(self, cursor: Cursor) -> tuple[str, list[Any]]:
        return "(xid, id) > (?, ?)", [cursor.xid, cursor.id]

    def read(self, after: Cursor, limit: int) -> list[tuple[Cursor, EventRow]]:
        # Only below the statement's own snapshot's xmin: a final set (module doc).
        rows = self.store.fetch(_PG_READ, [after.xid, after.id, limit])
        return [(Cursor(int(r[0]), int(r[1])), to_event(r[1:])) for r in rows]

    def end(self) -> Cursor:
        rows = self.store.fetch(_PG_END, [])
        return Cursor(int(rows[0][0]), int(rows[0][1])) if rows else START

    def lease(self, sink: str) -> Lease:
        return AdvisoryLease(self.pg.connect, advisory_key(self.pg.schema, sink))

    @contextmanager
    def _leased(self, lease: Lease) -> Iterator[Run]:
        assert isinstance(lease, AdvisoryLease)
        if lease.conn is None or lease.conn.closed:
            raise StoreUnavailable("the forwarding lease is not held")
        with _pg_transaction(self.pg, lease.conn) as run:
            yield run

    @contextmanager
    def _unleased(self) -> Iterator[Run]:
        with self._api_lock:
            if self._api_conn is None or self._api_conn.closed:
                self._api_conn = self.pg.connect()
            with _pg_transaction(self.pg, self._api_conn) as run:
                yield run

    def close(self) -> None:
        with self._api_lock:
            if self._api_conn is not None:
                self._api_conn.close()


@contextmanager
def _pg_transaction(store: PostgresStore, conn: psycopg.Connection[Any]) -> Iterator[Run]:
    with guarded(conn, "PostgreSQL (forwarding)"), conn.transaction():
        yield store.runner(conn)


def positions_for(store: Store) -> Positions:
    """Forwarding's view of `store` (one of the two SQL backends)."""
    if isinstance(store, SQLiteStore):
        return SqlitePositions(store)
    if isinstance(store, PostgresStore):
        return PgPositions(store)
    raise TypeError(f"forwarding needs a SQL store, got {type(store).__name__}")
