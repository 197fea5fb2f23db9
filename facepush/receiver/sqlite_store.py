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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import tzinfo
from pathlib import Path
from typing import Any

from facepush.errors import ReceiverConfigError, StoreUnavailable
from facepush.protocol.times import now_ms
from facepush.receiver import quarantine, schema, sql, writes
from facepush.receiver.store import Incoming, Item, Refused, StoreOutcome

PREFIX = "sqlite:///"
_CHECKPOINT_EVERY_S = 0.5
_ROWS_PER_INSERT = 500  # 19 parameters a row, well below SQLite's 32766 per statement
_INSERT_HEAD = f"INSERT INTO events ({writes.EVENT_INSERT_COLUMNS}) VALUES "
_ROW = "(" + ", ".join("?" * writes.EVENT_INSERT_WIDTH) + ")"
_INSERT_TAIL = " ON CONFLICT (key) DO NOTHING RETURNING key"
_IMAGE_UPSERT = (
    "INSERT INTO images (id, bytes, size, created_at, last_used_at) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (id) DO UPDATE SET last_used_at = "
    "max(images.last_used_at, excluded.last_used_at)"
)
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


def _event(item: Item) -> Incoming:
    assert isinstance(item, Incoming)
    return item


class SQLiteStore(sql.SqlStore):
    OCTETS = "length(CAST({} AS BLOB))"
    dialect = "sqlite"

    def __init__(self, url: str, zone: tzinfo | None = None) -> None:
        self.url = url
        self.zone = zone
        self.path = path_of(url)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ReceiverConfigError(f"cannot create {self.path.parent}: {exc}") from None
        self._lock = threading.Lock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
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

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            with self._guard():
                conn = self._connect()
                conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def _fetch(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        conn = self._reader()
        with self._guard():
            return conn.execute(query, params).fetchall()

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

    def migrate(self) -> int:
        with self._transaction() as conn:
            # For the v5 backfill: SQLite has no sha256() of its own.
            conn.create_function("sha256_hex", 1, _sha256_hex, deterministic=True)
            conn.execute(schema.migrations_table("sqlite"))
            row = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
            current = int(row[0] or 0)
            if current > schema.LATEST:
                raise ReceiverConfigError(
                    f"{self.path} has schema version {current}, newer than this receiver "
                    f"({schema.LATEST}); upgrade facepush"
                )
            for version in range(current + 1, schema.LATEST + 1):
                for statement in schema.statements(version, "sqlite"):
                    conn.execute(statement)
                for statement, params in schema.backfill(version, "sqlite", self.zone):
                    conn.execute(statement, params)
                conn.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    (version, now_ms()),
                )
        return schema.LATEST

    def ingest(self, batch: Sequence[Item]) -> list[StoreOutcome]:
        first = writes.first_occurrences(batch)
        events = [batch[i] for i in first.values()]
        refused = [item for item in batch if isinstance(item, Refused)]
        inserted: set[str] = set()
        dropped = 0
        with self._transaction() as conn:
            if refused:
                conn.executemany(quarantine.QUARANTINE_INSERT, quarantine.values(refused))
                dropped = quarantine.trim(
                    lambda q, p: conn.execute(q, p).fetchall(),
                    lambda q, p: conn.execute(q, p).rowcount,
                    self.quarantine_limits,
                )
            # One multi-row statement per chunk: far fewer calls into SQLite than a row at a
            # time, and RETURNING names exactly the rows that were new.
            for start in range(0, len(events), _ROWS_PER_INSERT):
                chunk = events[start : start + _ROWS_PER_INSERT]
                values = [v for item in chunk for v in writes.event_values(_event(item))]
                query = _INSERT_HEAD + ", ".join([_ROW] * len(chunk)) + _INSERT_TAIL
                inserted.update(row[0] for row in conn.execute(query, values))

            def digests(keys: list[str]) -> dict[str, str | None]:
                return dict(conn.execute(writes.digest_query(len(keys)), keys).fetchall())

            outcomes, stored = writes.batch_outcomes(batch, first, inserted, digests)
            conn.executemany(_IMAGE_UPSERT, writes.image_rows(stored))
            conn.executemany(writes.DEVICE_UPSERT, writes.device_rows(stored))
            conn.executemany(writes.DEVICE_DAY_UPSERT, writes.device_day_rows(stored, self.zone))
            conn.executemany(writes.COUNTER_UPDATE, writes.counter_rows(stored, outcomes, batch))
        self.quarantine_dropped += dropped
        return outcomes

    def _write(self, query: str, params: Sequence[Any]) -> None:
        self.execute([(query, params)])

    def execute(self, statements: Sequence[sql.Statement]) -> list[list[tuple[Any, ...]]]:
        with self._transaction() as conn:
            return [conn.execute(statement, params).fetchall() for statement, params in statements]

    def purge_images(self, older_than_ms: int, flag: str) -> int:
        with self._transaction() as conn:
            conn.execute(
                "UPDATE events SET image_id = NULL, image_flag = ? WHERE image_id IN "
                "(SELECT id FROM images WHERE last_used_at < ?)",
                (flag, older_than_ms),
            )
            return conn.execute(
                "DELETE FROM images WHERE last_used_at < ?", (older_than_ms,)
            ).rowcount

    def close(self) -> None:
        self._stop.set()
        self._checkpointer.join(timeout=10)
        with self._readers_lock:
            readers, self._readers = self._readers, []
        for conn in readers:
            conn.close()
        with self._lock:
            self._writer.close()
