"""The durable outbox: one SQLite file in WAL mode with synchronous=FULL, so a record is
on disk when `add` returns and survives kill -9 or power loss.

Writes go through one connection, used from one thread at a time (the service gives it a
dedicated thread); the read-only calls (`peek`, `list_set_aside`) use a second connection,
so that with WAL they can run on another thread beside a commit. Counters are kept in
memory as well, so `counts()` answers without touching the disk.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from facepush.device.outbox import QUEUED, SET_ASIDE, BaseOutbox, CachedRecord, NewRecord, WhenFull
from facepush.device.sqlite_db import open_reader, open_sqlite, opening, transaction
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


class SQLiteOutbox(BaseOutbox):
    blocking = True

    def __init__(
        self,
        path: str | Path,
        limit: int = CACHE_LIMIT,
        when_full: WhenFull = WhenFull.DROP_OLDEST,
    ) -> None:
        super().__init__(limit, when_full)
        self.path = Path(path)
        hint = "and holds a facepush outbox (move a damaged file away to start a new one)"
        with opening("outbox", self.path, hint):
            # FULL: the WAL is fsynced at every commit, so an acknowledged intake is on disk.
            self._db = open_sqlite(self.path, synchronous="FULL")
            self._db.executescript(_SCHEMA)
            self._load_counts()
            self._reader = open_reader(self.path)

    def _load_counts(self) -> None:
        groups = self._db.execute("SELECT state, kind, COUNT(*) FROM records GROUP BY 1, 2")
        totals = self._db.execute("SELECT name, value FROM counters")
        self._recount(groups.fetchall(), dict(totals.fetchall()))

    @contextmanager
    def _transaction(self, durable: bool = True) -> Iterator[None]:
        if durable:
            with transaction(self._db, self._load_counts):
                yield
            return
        self._db.execute("PRAGMA synchronous=NORMAL")  # commits without an fsync
        try:
            with transaction(self._db, self._load_counts):
                yield
        finally:
            self._db.execute("PRAGMA synchronous=FULL")

    def peek(self, kind: int, after_seq: int, limit: int) -> list[CachedRecord]:
        rows = self._reader.execute(
            f"SELECT {_COLUMNS} FROM records WHERE state = 0 AND kind = ? AND seq > ? "
            "ORDER BY seq LIMIT ?",
            (kind, after_seq, limit),
        )
        return [CachedRecord(*row) for row in rows]

    def list_set_aside(self, after_seq: int, limit: int) -> list[CachedRecord]:
        rows = self._reader.execute(
            f"SELECT {_COLUMNS} FROM records WHERE state = ? AND seq > ? ORDER BY seq LIMIT ?",
            (SET_ASIDE, after_seq, limit),
        )
        return [CachedRecord(*row) for row in rows]

    def note_refusal(self, seq: int, reason: str) -> int:
        with self._transaction():
            row = self._db.execute(
                "UPDATE records SET attempts = attempts + 1, reason = ? WHERE seq = ? "
                "RETURNING attempts",
                (reason, seq),
            ).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self._reader.close()
        self._db.close()

    # -- the storage primitives (each runs inside `_transaction`) -----------------------

    def _oldest(self, kind: int, count: int) -> list[tuple[int, int, str]]:
        return self._db.execute(
            "SELECT seq, kind, key FROM records WHERE kind = ? ORDER BY seq LIMIT ?",
            (kind, count),
        ).fetchall()

    def _insert(self, records: Sequence[NewRecord], accepted_at: int) -> list[int]:
        self._db.executemany(
            "INSERT INTO records (kind, key, body, accepted_at) VALUES (?, ?, ?, ?)",
            [(r.kind, r.key, r.body, accepted_at) for r in records],
        )
        # AUTOINCREMENT gives one transaction's rows consecutive seqs ending here.
        last = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'records'")
        top = int(last.fetchone()[0])
        return list(range(top - len(records) + 1, top + 1))

    def _delete(self, seqs: Sequence[int], total: str) -> list[tuple[int, int]]:
        gone: list[tuple[int, int]] = []
        for start in range(0, len(seqs), 500):  # stay below SQLite's variable limit
            chunk = seqs[start : start + 500]
            marks = ",".join("?" * len(chunk))
            gone += self._db.execute(
                f"DELETE FROM records WHERE seq IN ({marks}) RETURNING kind, state", chunk
            ).fetchall()
        self._db.execute("UPDATE counters SET value = value + ? WHERE name = ?", (len(gone), total))
        return gone

    def _move_aside(self, seq: int, reason: str) -> int | None:
        row = self._db.execute(
            "UPDATE records SET state = ?, reason = ? WHERE seq = ? AND state = ? RETURNING kind",
            (SET_ASIDE, reason, seq, QUEUED),
        ).fetchone()
        return None if row is None else int(row[0])

    def _requeue(self, seqs: Sequence[int] | None) -> list[int]:
        requeue = "UPDATE records SET state = ?, attempts = 0 WHERE state = ?"
        if seqs is None:
            rows = self._db.execute(f"{requeue} RETURNING kind", (QUEUED, SET_ASIDE)).fetchall()
        else:
            rows = []
            for seq in seqs:
                rows += self._db.execute(
                    f"{requeue} AND seq = ? RETURNING kind", (QUEUED, SET_ASIDE, seq)
                ).fetchall()
        return [kind for (kind,) in rows]
