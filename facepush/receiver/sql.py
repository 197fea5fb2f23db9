"""The template of the two SQL backends (huey's `BaseSqlStorage` is the model): the flow of
every write (migrate, ingest, purge_images, execute), the pool of reader connections and
`close()` are written once here, in portable SQL with `?` placeholders; a backend supplies
only its dialect: connections and transactions, placeholders, the multi-row insert of
events, the upsert of images, the migration lock and the mapping of its driver's errors.

The queries are `SqlReads`' (facepush.receiver.sql_reads); what a batch writes is
facepush.receiver.writes' and facepush.receiver.quarantine's.
"""

from __future__ import annotations

import abc
import contextlib
import threading
from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol, TypeVar

from facepush.errors import ReceiverConfigError
from facepush.protocol.times import now_ms
from facepush.receiver import quarantine, schema, writes
from facepush.receiver.attendance.rules import Direction
from facepush.receiver.sql_reads import EVENT_COLUMNS, SqlReads, to_event
from facepush.receiver.store import Incoming, Item, Refused, StoreOutcome

__all__ = ["EVENT_COLUMNS", "Result", "Run", "SqlStore", "Statement", "WriteKind", "to_event"]

T = TypeVar("T")
# A statement with `?` placeholders and its parameters.
Statement = tuple[str, Sequence[Any]]
# Runs a statement with `?` placeholders, returning its rows.
Run = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]
# What a write transaction is for: the backend maps its driver's errors by it (a record
# the database refuses in an ingest is RecordRejected; anything else StoreUnavailable).
WriteKind = Literal["write", "ingest", "migration"]


class Result(Protocol):
    """What the template reads of a statement's result (sqlite3's and psycopg's cursors)."""

    @property
    def description(self) -> Any: ...

    @property
    def rowcount(self) -> int: ...

    def fetchall(self) -> list[Any]: ...


class SqlStore(SqlReads):
    """A SQL backend: the shared flow; the abstract methods below are the dialect."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # the writer connection's
        self._local = threading.local()  # each thread's reader connection
        self._readers: list[Any] = []
        self._readers_lock = threading.Lock()

    # -- the dialect ---------------------------------------------------------------------

    @abc.abstractmethod
    def _atomic(self, work: Callable[[Any], T], kind: WriteKind = "write") -> T:
        """`work(connection)` in ONE transaction on the writer connection, under the writer
        lock, durably committed; driver errors raised as StoreUnavailable (RecordRejected
        for a record the database refuses, in an ingest)."""

    @abc.abstractmethod
    def _connect_reader(self) -> Any:
        """A new read-only connection; raises StoreUnavailable."""

    @abc.abstractmethod
    def _reading(self, conn: Any) -> contextlib.AbstractContextManager[None]:
        """A context in which the driver's errors on reader `conn` are StoreUnavailable."""

    @abc.abstractmethod
    def _run_many(self, conn: Any, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run `sql` (with `?` placeholders) once per row of `rows` (not empty)."""

    @abc.abstractmethod
    def _insert_events(self, conn: Any, events: Sequence[Incoming]) -> set[str]:
        """Insert `events` (in batch order, not empty), skipping keys already stored;
        returns the keys that were new."""

    @abc.abstractmethod
    def _upsert_images(self, conn: Any, rows: Sequence[tuple[Any, ...]]) -> None:
        """Store `writes.image_rows` (not empty); an image already stored only gets the
        later last_used_at."""

    @abc.abstractmethod
    def _begin_migration(self, conn: Any) -> None:
        """What the dialect needs before the migrations run in this transaction (a lock
        against other processes migrating at once, functions the backfills call)."""

    @abc.abstractmethod
    def _close_writer(self) -> None:
        """Close the writer connection (called under the writer lock)."""

    def _sql(self, sql: str) -> str:
        """`sql` (with `?` placeholders) in the dialect's placeholders."""
        return sql

    def _usable(self, conn: Any) -> bool:
        """Whether this thread's reader `conn` can still be used."""
        return True

    # Who holds the schema, in a message ("the database"; SQLite names its file).
    def _name(self) -> str:
        return "the database"

    # -- connections -------------------------------------------------------------------

    def _run(self, conn: Any, sql: str, params: Sequence[Any] | None = None) -> Result:
        # No parameters: the statement is run as it is (psycopg parses no placeholders).
        if params is None:
            cursor: Result = conn.execute(self._sql(sql))
        else:
            cursor = conn.execute(self._sql(sql), params)
        return cursor

    def _reader(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None or not self._usable(conn):
            conn = self._connect_reader()
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        conn = self._reader()
        with self._reading(conn):
            return self._run(conn, sql, params).fetchall()

    def close(self) -> None:
        with self._readers_lock:
            readers, self._readers = self._readers, []
        for conn in readers:
            conn.close()
        with self._lock:
            self._close_writer()

    # -- writes ------------------------------------------------------------------------

    def migrate(self) -> int:
        self._atomic(self._migrate, "migration")
        return schema.LATEST

    def _migrate(self, conn: Any) -> None:
        self._begin_migration(conn)
        self._run(conn, schema.migrations_table(self.dialect))
        row = self._run(conn, "SELECT MAX(version) FROM schema_migrations").fetchall()
        current = int(row[0][0] or 0) if row else 0
        if current > schema.LATEST:
            raise ReceiverConfigError(
                f"{self._name()} has schema version {current}, newer than this receiver "
                f"({schema.LATEST}); upgrade facepush"
            )
        for version in range(current + 1, schema.LATEST + 1):
            for statement in schema.statements(version, self.dialect):
                self._run(conn, statement)
            for statement, params in schema.backfill(version, self.dialect, self.zone):
                self._run(conn, statement, params)
            self._run(
                conn,
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                [version, now_ms()],
            )

    def ingest(self, batch: Sequence[Item]) -> list[StoreOutcome]:
        outcomes, dropped = self._atomic(lambda conn: self._ingest(conn, batch), "ingest")
        self.quarantine_dropped += dropped
        return outcomes

    def _ingest(self, conn: Any, batch: Sequence[Item]) -> tuple[list[StoreOutcome], int]:
        """The batch's outcomes, and how many quarantined pushes were dropped for room."""
        refused = [item for item in batch if isinstance(item, Refused)]
        dropped = 0
        if refused:
            self._run_many(conn, quarantine.QUARANTINE_INSERT, quarantine.values(refused))
            dropped = quarantine.trim(
                lambda q, p: self._run(conn, q, p).fetchall(), self.quarantine_limits
            )
        first = writes.first_occurrences(batch)
        events = [_incoming(batch[i]) for i in first.values()]
        inserted = self._insert_events(conn, events) if events else set()

        def digests(keys: list[str]) -> dict[str, str | None]:
            return dict(self._run(conn, writes.digest_query(len(keys)), keys).fetchall())

        outcomes, stored = writes.batch_outcomes(batch, first, inserted, digests)
        images = writes.image_rows(stored)
        if images:
            self._upsert_images(conn, images)
        for statement, rows in (
            (writes.DEVICE_UPSERT, writes.device_rows(stored)),
            (writes.DEVICE_DAY_UPSERT, writes.device_day_rows(stored, self.zone)),
            (writes.COUNTER_UPDATE, writes.counter_rows(stored, outcomes, batch)),
        ):
            if rows:
                self._run_many(conn, statement, rows)
        return outcomes, dropped

    def execute(self, statements: Sequence[Statement]) -> list[list[tuple[Any, ...]]]:
        """Run writes of portable SQL (`?` placeholders) in ONE transaction on the writer
        connection, durably; returns the rows each statement returned (RETURNING). Call it
        on the writer thread (`Writer.run_exclusive`). Raises StoreUnavailable."""

        def work(conn: Any) -> list[list[tuple[Any, ...]]]:
            run = self.runner(conn)
            return [run(statement, params) for statement, params in statements]

        return self._atomic(work)

    def runner(self, conn: Any) -> Run:
        """Run statements of portable SQL on `conn` (one of this store's connections, in
        the caller's transaction): each returns the rows it returned (RETURNING), or []."""

        def run(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
            cursor = self._run(conn, sql, params)
            return cursor.fetchall() if cursor.description else []

        return run

    def _write(self, sql: str, params: Sequence[Any]) -> None:
        """Run one writing statement (with `?` placeholders) in its own transaction."""
        self.execute([(sql, params)])

    def set_direction(self, serial: str, direction: Direction | None, at: int) -> bool:
        if not self._fetch("SELECT 1 FROM devices WHERE serial = ?", [serial]):
            return False
        if direction is None:
            self._write("DELETE FROM device_directions WHERE serial = ?", [serial])
        else:
            self._write(_DIRECTION_UPSERT, [serial, direction, at])
        return True

    def purge_images(self, older_than_ms: int, flag: str) -> int:
        def work(conn: Any) -> int:
            rows = self._run(
                conn, "DELETE FROM images WHERE last_used_at < ? RETURNING id", [older_than_ms]
            ).fetchall()
            ids = [row[0] for row in rows]
            # Only events from before the cut-off: a record stored meanwhile (by another
            # process sharing the database) that re-inserted the same image keeps it.
            for start in range(0, len(ids), _IDS_PER_STATEMENT):
                chunk = ids[start : start + _IDS_PER_STATEMENT]
                self._run(
                    conn,
                    "UPDATE events SET image_id = NULL, image_flag = ? WHERE received_at < ? "
                    f"AND image_id IN ({', '.join('?' * len(chunk))})",
                    [flag, older_than_ms, *chunk],
                )
            return len(ids)

        return self._atomic(work)


_IDS_PER_STATEMENT = 500  # well below SQLite's 32766 parameters per statement

_DIRECTION_UPSERT = """
INSERT INTO device_directions (serial, direction, updated_at) VALUES (?, ?, ?)
ON CONFLICT (serial) DO UPDATE SET direction = excluded.direction,
    updated_at = excluded.updated_at
"""


def _incoming(item: Item) -> Incoming:
    assert isinstance(item, Incoming)
    return item
