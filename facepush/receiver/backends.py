"""Choosing a backend from a `--db` URL."""

from __future__ import annotations

from facepush.receiver.errors import ReceiverConfigError
from facepush.receiver.store import Store


def open_store(url: str, *, migrate: bool = True) -> Store:
    """The store for `sqlite:///PATH` or `postgresql://...`, its schema brought up to date."""
    store: Store
    if url.startswith("sqlite:"):
        from facepush.receiver.sqlite_store import SQLiteStore

        store = SQLiteStore(url)
    elif url.startswith(("postgresql:", "postgres:")):
        from facepush.receiver.pg_store import PostgresStore

        store = PostgresStore(url)
    else:
        raise ReceiverConfigError(
            f"--db {url!r}: expected sqlite:///PATH or postgresql://USER@HOST:PORT/DB"
        )
    if migrate:
        try:
            store.migrate()
        except BaseException:
            store.close()
            raise
    return store
