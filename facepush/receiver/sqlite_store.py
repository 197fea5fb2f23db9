"""The SQLite backend (the default): one file, WAL, synchronous=FULL.

WAL lets the reader threads query while the writer commits; synchronous=FULL makes each
commit durable on return (fsync of the WAL), which is what an acknowledgement promises.
One writer connection, used by the writer thread only, under a lock for safety.

Checkpoints (copying the WAL into the database file, with an fsync of that file) run on a
background thread of their own instead of inside whichever commit crosses the WAL size
threshold: otherwise every thousandth commit stalls for the checkpoint, and all the pushes
waiting on it with it.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import tzinfo
from pathlib import Path
from typing import Any

from facepush.errors import ReceiverConfigError, StoreUnavailable
from facepush.receiver import sql, writes
from facepush.receiver.store import Incoming

PREFIX = "sqlite:///"
_CHECKPOINT_EVERY_S = 0.5
_ROWS_PER_INSERT = 500  # 19 parameters a row, well below SQLite's 32766 per statement
_INSERT_HEAD = f"INSERT INTO events ({writes.EVENT_INSERT_COLUMNS}) VALUES "
_ROW = "(" + ", ".join("?" * writes.EVENT_INSERT_WIDTH) + ")"
_IMAGE_HEAD = "INSERT INTO images (id, bytes, size, created_at, last_used_at) VALUES "
_IMAGE_TAIL = (
    " ON CONFLICT (id) DO UPDATE SET last_used_at = max(images.last_used_at, excluded.last_used_at)"
)
_IMAGES_PER_INSERT = 500  # 5 parameters a row
_BUSY_TIMEOUT_MS = 10_000


def path_of(url: str) -> Path:
    """`sqlite:///var/x.db` is relative, `sqlite:////srv/x.db` absolute (SQLAlchemy's rule)."""
    if not url.startswith(PREFIX) or len(url) == len(PREFIX):
        raise ReceiverConfigError(f"expected sqlite:///PATH, got {url!r}")
    rest = url[len(PREFIX) :]
    if rest == ":memory:":
        raise ReceiverConfigError("sqlite:///:memory: would lose every record; name a file")
    return Path(rest)


def _sha256_hex(value: bytes | None) -> str | None:
    return None if value is None else hashlib.sha256(value).hexdigest()


class SQLiteStore(sql.SqlStore):
    OCTETS = "length(CAST({} AS BLOB))"
    dialect = "sqlite"

    def __init__(self, url: str, zone: tzinfo | None = None) -> None:
        self.url = url
        self.zone = zone
        self.path = path_of(url)
        super().__init__()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ReceiverConfigError(f"cannot create {self.path.parent}: {exc}") from None
        self._writer = self._connect()
        with self._guard():
            self._writer.execute("PRAGMA journal_mode=WAL")
            self._writer.execute("PRAGMA wal_autocheckpoint=0")
        self._stop = threading.Event()
        self._checkpointer = threading.Thread(
            target=self._checkpoints, name="facepush-sqlite-checkpoint", daemon=True
        )
        self._checkpointer.start()

    def _checkpoints(self) -> None:
        conn: sqlite3.Connection | None = None
        while not self._stop.wait(_CHECKPOINT_EVERY_S):
            try:
                conn = conn or self._connect()
                # PASSIVE never blocks the writer or readers; it copies what it can.
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except (sqlite3.Error, StoreUnavailable):
                pass  # try again next round; the WAL stays correct meanwhile
        if conn is not None:
            conn.close()

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=10
            )
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open SQLite database {self.path}: {exc}") from None
        conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"SQLite {self.path}: {exc}") from None

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._guard():
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def write_transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """A transaction on the one writer connection, between the writer's batches (the
        same lock): a small write of another part (forwarding's positions) never waits in
        SQLite's busy handler, and never makes the writer wait in it either."""
        return self._transaction()

    def _connect_reader(self) -> sqlite3.Connection:
        with self._guard():
            conn = self._connect()
            conn.execute("PRAGMA query_only=ON")
        return conn

    def _reading(self, conn: sqlite3.Connection) -> contextlib.AbstractContextManager[None]:
        return self._guard()

    def _scan(self, query: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        # sqlite3 steps the statement as rows are fetched: a caller that stops early leaves
        # the rest of the rows unread.
        conn = self._reader()
        with self._guard():
            cursor = conn.execute(query, params)
        try:
            while True:
                with self._guard():
                    row = cursor.fetchone()
                if row is None:
                    return
                yield row
        finally:
            cursor.close()

    def _atomic(
        self, work: Callable[[sqlite3.Connection], sql.T], kind: sql.WriteKind = "write"
    ) -> sql.T:
        with self._transaction() as conn:
            return work(conn)

    def _begin_migration(self, conn: sqlite3.Connection) -> None:
        # For the v5 backfill: SQLite has no sha256() of its own.
        conn.create_function("sha256_hex", 1, _sha256_hex, deterministic=True)

    def _name(self) -> str:
        return str(self.path)

    def _run_many(
        self, conn: sqlite3.Connection, query: str, rows: Sequence[Sequence[Any]]
    ) -> None:
        conn.executemany(query, rows)

    # Every call into SQLite gives up the GIL and takes it back, and taking it back waits
    # for the event loop to let go (up to the switch interval) while the loop is busy with
    # pushes: a commit that made one call per row (RETURNING steps once per returned row,
    # executemany once per row) took 3x its own time under load, and every push waited
    # for it. So a batch is a handful of statements whatever its size.

    def _insert_events(self, conn: sqlite3.Connection, events: Sequence[Incoming]) -> set[str]:
        # The keys already stored are read first (almost always none: one step), then
        # only the new rows are inserted, in multi-row statements. No other writer can
        # insert in between: the transaction is BEGIN IMMEDIATE (the database's one write
        # lock). Without ON CONFLICT a surprise would fail the batch loudly (503, sent
        # again), never acknowledge a record that was not stored.
        keys = [item.key for item in events]
        known: set[str] = set()
        for start in range(0, len(keys), _ROWS_PER_INSERT):
            some = keys[start : start + _ROWS_PER_INSERT]
            query = f"SELECT key FROM events WHERE key IN ({', '.join('?' * len(some))})"
            known.update(row[0] for row in conn.execute(query, some))
        new = [item for item in events if item.key not in known]
        for start in range(0, len(new), _ROWS_PER_INSERT):
            chunk = new[start : start + _ROWS_PER_INSERT]
            values = [v for item in chunk for v in writes.event_values(item)]
            conn.execute(_INSERT_HEAD + ", ".join([_ROW] * len(chunk)), values)
        return {item.key for item in new}

    def _upsert_images(self, conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        for start in range(0, len(rows), _IMAGES_PER_INSERT):
            chunk = rows[start : start + _IMAGES_PER_INSERT]
            values = [v for row in chunk for v in row]
            marks = ", ".join(["(?, ?, ?, ?, ?)"] * len(chunk))
            conn.execute(_IMAGE_HEAD + marks + _IMAGE_TAIL, values)

    def close(self) -> None:
        self._stop.set()
        self._checkpointer.join(timeout=10)
        super().close()

    def _close_writer(self) -> None:
        self._writer.close()
