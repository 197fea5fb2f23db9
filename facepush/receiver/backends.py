"""Choosing a backend from a `--db` URL."""

from __future__ import annotations

from datetime import tzinfo
from pathlib import Path

from facepush.errors import ReceiverConfigError
from facepush.files import private_dir, private_file
from facepush.receiver.store import Store


def check_url(url: str) -> None:
    """Raise ReceiverConfigError saying what is wrong with a database URL (the settings
    name the option: `--db: ...`)."""
    if url.startswith("sqlite:"):
        from facepush.receiver.sqlite_store import path_of

        path_of(url)
    elif url.startswith(("postgresql:", "postgres:")):
        from facepush.receiver.pg_store import split_url

        split_url(url)
    else:
        raise ReceiverConfigError(
            f"expected sqlite:///PATH or postgresql://USER@HOST:PORT/DB, got {url!r}"
        )


def open_store(url: str, *, migrate: bool = True, zone: tzinfo | None = None) -> Store:
    """The store for `sqlite:///PATH` or `postgresql://...`, its schema brought up to date.
    `zone` is the time zone of its local days (per-day counts, `today`); None: the
    machine's."""
    check_url(url)
    store: Store
    if url.startswith("sqlite:"):
        from facepush.receiver.sqlite_store import SQLiteStore, path_of

        _private_database(path_of(url))
        store = SQLiteStore(url, zone=zone)
    else:
        from facepush.receiver.pg_store import PostgresStore

        store = PostgresStore(url, zone=zone)
    if migrate:
        try:
            store.migrate()
        except BaseException:
            store.close()
            raise
    return store


def _private_database(path: Path) -> None:
    """The database's directory (0700) and file (0600) made before SQLite opens it, so
    that the face images in it, and in its -wal and -shm files, are the service's own."""
    try:
        private_dir(path.parent)
        private_file(path)
    except OSError as exc:
        raise ReceiverConfigError(f"cannot create {path}: {exc.strerror or exc}") from None
