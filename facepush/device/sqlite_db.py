"""Opening one of the terminal's SQLite files (the outbox, the history) the same way."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Literal

from facepush.files import private_file


def open_sqlite(path: Path, synchronous: Literal["FULL", "NORMAL"]) -> sqlite3.Connection:
    """The writing connection to `path`: WAL mode, autocommit (transactions are explicit),
    usable from the one thread that writes at a time. Raises sqlite3.Error or OSError."""
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
    """A second, read-only-by-use connection: with WAL it reads beside a commit."""
    return sqlite3.connect(path, isolation_level=None, check_same_thread=False)
