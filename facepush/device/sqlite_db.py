"""The terminal's SQLite files (the outbox, the history), opened and written alike: WAL
mode, one writing connection used by one thread at a time, explicit transactions, and a
second connection for reads, which with WAL run beside a commit."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from facepush.errors import DataDirError
from facepush.files import private_file


@contextmanager
def opening(what: str, path: Path, hint: str) -> Iterator[None]:
    """Turn a failure to open `path` into a DataDirError naming it, what it is and `hint`."""
    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        raise DataDirError(
            f"cannot open the {what} {path}: {exc}. Check that the --data directory is "
            f"writable {hint}."
        ) from None


def open_sqlite(path: Path, synchronous: Literal["FULL", "NORMAL"]) -> sqlite3.Connection:
    """The writing connection to `path`. Raises sqlite3.Error or OSError."""
    # Created 0600 before SQLite opens it: its -wal and -shm files take its mode.
    private_file(path)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={synchronous}")
        db.execute("PRAGMA busy_timeout=5000")
        # Some builds default to secure_delete=ON, which rewrites every deleted 40 KB
        # image with zeros through the WAL; FAST purges b-tree pages at no extra I/O.
        db.execute("PRAGMA secure_delete=FAST")
    except BaseException:
        db.close()
        raise
    return db


def open_reader(path: Path) -> sqlite3.Connection:
    """The reading connection to `path` (used for reads only, from the reader thread)."""
    return sqlite3.connect(path, isolation_level=None, check_same_thread=False)


@contextmanager
def transaction(db: sqlite3.Connection, rolled_back: Callable[[], None]) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT; on an error ROLLBACK, then `rolled_back()` (to reload
    what the caller keeps in memory and may have moved inside), then the error."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        rolled_back()
        raise
    db.execute("COMMIT")
