"""Who forwards a sink: exactly one process at a time, and the lease moves the moment its
holder dies (kill -9 included), because the operating system or the database server, not
the holder, gives it back.

- SQLite: an exclusive `flock` on a lock file beside the database, one per sink; the
  kernel releases it when the holder's file descriptor closes, at the latest when the
  process is gone.
- PostgreSQL: a session-level `pg_try_advisory_lock` held on a connection of its own; the
  server releases it when that connection ends, at the latest when the holder's socket is
  closed by its kernel. The holder writes its position on that same connection, so a
  holder that lost its connection (and so its lease) cannot write a position any more.

Every method is blocking and meant for the forwarder's own thread.
"""

from __future__ import annotations

import abc
import contextlib
import fcntl
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from facepush.errors import StoreUnavailable
from facepush.files import private_file


class Lease(abc.ABC):
    """The right to forward one sink."""

    @abc.abstractmethod
    def try_acquire(self) -> bool:
        """Take the lease if no other process holds it; True when this one holds it now."""

    @abc.abstractmethod
    def check(self) -> bool:
        """Whether this process still holds the lease (PostgreSQL: its connection lives)."""

    @abc.abstractmethod
    def release(self) -> None: ...


class FileLease(Lease):
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        private_file(self.path)
        fd = os.open(self.path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def check(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None


def advisory_key(schema: str | None, sink: str) -> int:
    """A signed 64-bit advisory lock key for a sink of the tables in `schema`: advisory
    locks are per database, and one database may hold several receivers' schemas."""
    digest = hashlib.sha256(f"facepush-forward:{schema or ''}:{sink}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class AdvisoryLease(Lease):
    """`pg_try_advisory_lock(key)` on `conn`, a connection used for nothing else but this
    sink's position writes (see Positions.save)."""

    def __init__(self, connect: Callable[[], psycopg.Connection[Any]], key: int) -> None:
        self._connect = connect  # an autocommit connection; raises StoreUnavailable
        self.key = key
        self.conn: psycopg.Connection[Any] | None = None

    def try_acquire(self) -> bool:
        if self.conn is not None and not self.conn.closed:
            return True
        conn = self._connect()
        try:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", [self.key]).fetchone()
        except psycopg.Error as exc:
            conn.close()
            raise StoreUnavailable(f"PostgreSQL lease: {exc}") from None
        if not (row and row[0]):
            conn.close()
            return False
        self.conn = conn
        return True

    def check(self) -> bool:
        if self.conn is None or self.conn.closed:
            return False
        try:
            self.conn.execute("SELECT 1")
        except psycopg.Error:
            self.release()
            return False
        return True

    def release(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(psycopg.Error):
                self.conn.close()  # the server releases the session's advisory locks
            self.conn = None
