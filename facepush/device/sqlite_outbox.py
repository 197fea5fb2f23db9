"""The durable outbox: one SQLite file in WAL mode with synchronous=FULL, so a record is
on disk when `add` returns and survives kill -9 or power loss.

Writes go through one connection, used from one thread at a time (the service gives it a
dedicated thread); the read-only calls (`peek`, `list_set_aside`) use a second connection,
so that with WAL they can run on another thread beside a commit. Counters are kept in
memory as well, so `counts()` answers without touching the disk.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from facepush.device.errors import BatchTooLargeError, CacheFullError, DataDirError
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
from facepush.files import private_file
from facepush.protocol.limits import CACHE_LIMIT

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- accept order, never reused
    kind INTEGER NOT NULL,
    key TEXT NOT NULL,
    body BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    state INTEGER NOT NULL DEFAULT 0,
    reason TEXT,
    accepted_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS records_queue ON records (state, kind, seq);
CREATE INDEX IF NOT EXISTS records_age ON records (kind, seq);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO counters VALUES ('delivered', 0), ('evicted', 0);
"""
_COLUMNS = "seq, kind, key, body, attempts, accepted_at, reason"


class SQLiteOutbox:
    blocking = True

    def __init__(
        self,
        path: str | Path,
        limit: int = CACHE_LIMIT,
        when_full: WhenFull = WhenFull.DROP_OLDEST,
    ) -> None:
        if limit < 1:
            raise ValueError(f"cache limit must be at least 1, got {limit}")
        self.limit = limit
        self.when_full = when_full
        self.path = Path(path)
        try:
            # Created 0600 before SQLite opens it: its -wal and -shm files take its mode.
            private_file(self.path)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: the WAL is fsynced at every commit, so an acknowledged intake is on disk.
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=5000")
            # Some builds default to secure_delete=ON, which rewrites every deleted 40 KB
            # image with zeros through the WAL; FAST purges b-tree pages at no extra I/O.
            self._db.execute("PRAGMA secure_delete=FAST")
            self._db.executescript(_SCHEMA)
            self._load_counts()
            self._reader = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except (sqlite3.Error, OSError) as exc:
            raise DataDirError(
                f"cannot open the outbox {self.path}: {exc}. Check that the --data directory "
                "is writable and holds a facepush outbox (move a damaged file away to start "
                "a new one)."
            ) from None

    def _load_counts(self) -> None:
        self._queued = {RECOGNITION: 0, ALARM: 0}
        self._set_aside = 0
        rows = self._db.execute("SELECT state, kind, COUNT(*) FROM records GROUP BY state, kind")
        for state, kind, n in rows:
            if state == QUEUED:
                self._queued[kind] = self._queued.get(kind, 0) + n
            else:
                self._set_aside += n
        counters = dict(self._db.execute("SELECT name, value FROM counters").fetchall())
        self._delivered = int(counters["delivered"])
        self._evicted = int(counters["evicted"])

    @property
    def _cached(self) -> int:
        return self._queued[RECOGNITION] + self._queued[ALARM] + self._set_aside

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            self._load_counts()  # the in-memory counters may have moved with the rollback
            raise
        self._db.execute("COMMIT")

    def add(self, records: Sequence[NewRecord], accepted_at: int) -> AddResult:
        if len(records) > self.limit:
            raise BatchTooLargeError(len(records), self.limit)
        excess = self._cached + len(records) - self.limit
        if excess > 0 and self.when_full is WhenFull.REFUSE_NEWEST:
            raise CacheFullError(self._cached, self.limit, len(records))
        evicted: list[Evicted] = []
        with self._transaction() as db:
            if excess > 0:
                # Alarms go last (ruling 8, docs/protocol-rulings.md).
                for kind in (RECOGNITION, ALARM):
                    if len(evicted) < excess:
                        rows = db.execute(
                            "SELECT seq, kind, key FROM records WHERE kind = ? "
                            "ORDER BY seq LIMIT ?",
                            (kind, excess - len(evicted)),
                        )
                        evicted.extend(Evicted(*row) for row in rows)
                self._delete([e.seq for e in evicted], "evicted")
            db.executemany(
                "INSERT INTO records (kind, key, body, accepted_at) VALUES (?, ?, ?, ?)",
                [(r.kind, r.key, r.body, accepted_at) for r in records],
            )
            # AUTOINCREMENT gives one transaction's rows consecutive seqs ending here.
            last = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'records'")
            top = int(last.fetchone()[0])
        for r in records:
            self._queued[r.kind] += 1
        seqs = list(range(top - len(records) + 1, top + 1))
        return AddResult(seqs, evicted, self._cached)

    def peek(self, kind: int, after_seq: int, limit: int) -> list[StoredRecord]:
        rows = self._reader.execute(
            f"SELECT {_COLUMNS} FROM records WHERE state = 0 AND kind = ? AND seq > ? "
            "ORDER BY seq LIMIT ?",
            (kind, after_seq, limit),
        )
        return [StoredRecord(*row) for row in rows]

    def ack(self, seqs: Sequence[int]) -> int:
        if not seqs:
            return 0
        # Without an fsync: a delete lost to power loss only re-sends acknowledged records
        # (the receiver de-duplicates), and the next FULL commit makes it durable anyway.
        self._db.execute("PRAGMA synchronous=NORMAL")
        try:
            with self._transaction():
                held = self._delete(seqs, "delivered")
        finally:
            self._db.execute("PRAGMA synchronous=FULL")
        return held

    def _delete(self, seqs: Sequence[int], counter: str) -> int:
        held = 0
        for start in range(0, len(seqs), 500):  # stay below SQLite's variable limit
            chunk = seqs[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"DELETE FROM records WHERE seq IN ({marks}) RETURNING kind, state", chunk
            ).fetchall()
            for kind, state in rows:
                if state == QUEUED:
                    self._queued[kind] -= 1
                else:
                    self._set_aside -= 1
            held += len(rows)
        self._db.execute("UPDATE counters SET value = value + ? WHERE name = ?", (held, counter))
        if counter == "delivered":
            self._delivered += held
        else:
            self._evicted += held
        return held

    def note_refusal(self, seq: int, reason: str) -> int:
        with self._transaction() as db:
            row = db.execute(
                "UPDATE records SET attempts = attempts + 1, reason = ? WHERE seq = ? "
                "RETURNING attempts",
                (reason, seq),
            ).fetchone()
        return int(row[0]) if row else 0

    def set_aside(self, seq: int, reason: str) -> bool:
        with self._transaction() as db:
            row = db.execute(
                "UPDATE records SET state = ?, reason = ? WHERE seq = ? AND state = ? "
                "RETURNING kind",
                (SET_ASIDE, reason, seq, QUEUED),
            ).fetchone()
        if row is None:
            return False
        self._queued[row[0]] -= 1
        self._set_aside += 1
        return True

    def list_set_aside(self, after_seq: int, limit: int) -> list[StoredRecord]:
        rows = self._reader.execute(
            f"SELECT {_COLUMNS} FROM records WHERE state = ? AND seq > ? ORDER BY seq LIMIT ?",
            (SET_ASIDE, after_seq, limit),
        )
        return [StoredRecord(*row) for row in rows]

    def replay(self, seqs: Sequence[int] | None) -> int:
        with self._transaction() as db:
            if seqs is None:
                rows = db.execute(
                    "UPDATE records SET state = ?, attempts = 0 WHERE state = ? RETURNING kind",
                    (QUEUED, SET_ASIDE),
                ).fetchall()
            else:
                rows = []
                for seq in seqs:
                    rows += db.execute(
                        "UPDATE records SET state = ?, attempts = 0 WHERE seq = ? AND state = ? "
                        "RETURNING kind",
                        (QUEUED, seq, SET_ASIDE),
                    ).fetchall()
        for (kind,) in rows:
            self._queued[kind] += 1
            self._set_aside -= 1
        return len(rows)

    def counts(self) -> Counts:
        return Counts(
            cached=self._cached,
            queued=self._queued[RECOGNITION] + self._queued[ALARM],
            queued_alarms=self._queued[ALARM],
            set_aside=self._set_aside,
            delivered=self._delivered,
            evicted=self._evicted,
        )

    def close(self) -> None:
        self._reader.close()
        self._db.close()
