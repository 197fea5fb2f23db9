"""The durable history: its own SQLite file (`history.sqlite3`) beside the outbox, WAL mode.

Commits use synchronous=NORMAL: a commit survives the process being killed (kill -9), and
power loss can cost at most the last moments of history, never its consistency. The push
cache keeps its own fsynced copy of every record queued for push, so a record the
receiver needs is never only in this file's last transaction.

Indexes: `ts` (time), and (`user_id`, `ts`), (`job_number`, `ts`), (`ic_number`, `ts`) for
the three filters; with SQLite's rowid (`seq`, the terminal's own order) at the end of each
index entry, every filter, sort and count is an index range scan, and `offset` skips over
index entries only (the page's rows are looked up afterwards). Snapshots live in a table of
their own, so that dropping them leaves the records' pages small.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

from facepush.device.history import HISTORY_IMAGES, HISTORY_LIMIT, BaseHistory, Found, HistoryEntry
from facepush.device.sqlite_db import open_reader, open_sqlite, opening, transaction
from facepush.protocol.history import FILTER_FIELDS, HistoryQuery

_SCHEMA = """
CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- the terminal's own order, never reused
    uuid TEXT NOT NULL UNIQUE,
    ts INTEGER NOT NULL,                    -- Unix seconds, by the terminal's clock
    user_id TEXT NOT NULL,
    job_number TEXT NOT NULL,
    ic_number TEXT NOT NULL,
    item BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS history_ts ON history (ts);
CREATE INDEX IF NOT EXISTS history_user_id ON history (user_id, ts);
CREATE INDEX IF NOT EXISTS history_job_number ON history (job_number, ts);
CREATE INDEX IF NOT EXISTS history_ic_number ON history (ic_number, ts);
CREATE TABLE IF NOT EXISTS history_images (seq INTEGER PRIMARY KEY, image TEXT NOT NULL);
"""


class SQLiteHistory(BaseHistory):
    blocking = True

    def __init__(
        self, path: str | Path, limit: int = HISTORY_LIMIT, images: int = HISTORY_IMAGES
    ) -> None:
        super().__init__(limit, images)
        self.path = Path(path)
        with opening("history", self.path, "(move a damaged file away to start a new history)"):
            self._db = open_sqlite(self.path, synchronous="NORMAL")
            self._db.executescript(_SCHEMA)
            self._load_counts()
            with self._transaction():
                self._trim()  # a lower --history-limit than last time applies at once
            self._reader = open_reader(self.path)

    def _load_counts(self) -> None:
        self._count = int(self._db.execute("SELECT COUNT(*) FROM history").fetchone()[0])
        images = self._db.execute("SELECT COUNT(*) FROM history_images").fetchone()
        self._snapshots = int(images[0])

    def _transaction(self) -> AbstractContextManager[object]:
        return transaction(self._db, self._load_counts)

    def find(self, query: HistoryQuery) -> Found:
        count, page, args = queries(query)
        total = int(self._reader.execute(count, args).fetchone()[0])
        if query.limit == 0 or query.offset >= total:
            return Found(total, [])
        rows = self._reader.execute(page, (*args, query.limit, query.offset)).fetchall()
        return Found(total, [(bytes(item), image) for item, image in rows])

    def close(self) -> None:
        self._reader.close()
        self._db.close()

    # -- the storage primitives (each runs inside `_transaction`) -----------------------

    def _insert(self, entry: HistoryEntry, with_image: bool) -> bool:
        e = entry
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO history "
            "(uuid, ts, user_id, job_number, ic_number, item) VALUES (?, ?, ?, ?, ?, ?)",
            (e.uuid, e.timestamp, e.user_id, e.job_number, e.ic_number, e.item),
        )
        if cursor.rowcount == 0:
            return False  # already held
        if with_image:
            self._db.execute(
                "INSERT INTO history_images (seq, image) VALUES (?, ?)",
                (cursor.lastrowid, e.image),
            )
        return True

    def _drop_oldest(self, count: int) -> tuple[int, int]:
        last = self._db.execute(
            "SELECT seq FROM history ORDER BY seq LIMIT 1 OFFSET ?", (count - 1,)
        ).fetchone()[0]
        records = self._db.execute("DELETE FROM history WHERE seq <= ?", (last,)).rowcount
        snapshots = self._db.execute("DELETE FROM history_images WHERE seq <= ?", (last,))
        return records, snapshots.rowcount

    def _drop_snapshots(self, count: int) -> int:
        return self._db.execute(
            "DELETE FROM history_images WHERE seq IN "
            "(SELECT seq FROM history_images ORDER BY seq LIMIT ?)",
            (count,),
        ).rowcount


def queries(query: HistoryQuery) -> tuple[str, str, list[object]]:
    """The SQL of `total` and of the page (its parameters, then LIMIT and OFFSET)."""
    where, args = _where(query)
    direction = "DESC" if query.descending else "ASC"
    count = f"SELECT COUNT(*) FROM history WHERE {where}"
    # The page's seqs come from the index alone (offset skips index entries); only then
    # are its rows and snapshots read. Ties keep the terminal's order (seq ASC).
    page = (
        f"SELECT h.item, i.image FROM (SELECT seq, ts FROM history WHERE {where} "
        f"ORDER BY ts {direction}, seq LIMIT ? OFFSET ?) AS p "
        "JOIN history h ON h.seq = p.seq LEFT JOIN history_images i ON i.seq = p.seq "
        f"ORDER BY p.ts {direction}, p.seq"
    )
    return count, page, args


def _where(query: HistoryQuery) -> tuple[str, list[object]]:
    clauses: list[str] = ["1"]
    args: list[object] = []
    if query.filter_field is not None:
        assert query.filter_field in FILTER_FIELDS  # a column name, never user text
        clauses.append(f"{query.filter_field} = ?")
        args.append(query.filter_value)
    if query.begin_time is not None:
        clauses.append("ts >= ?")
        args.append(query.begin_time)
    if query.end_time is not None:
        clauses.append("ts <= ?")
        args.append(query.end_time)
    return " AND ".join(clauses), args
