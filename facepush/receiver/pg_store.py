"""The PostgreSQL backend: several receiver processes may share one database.

`INSERT ... ON CONFLICT (key) DO NOTHING RETURNING key` makes the identity rule hold across
processes: two receivers storing the same record at once store it once (the second waits on
the first's uncommitted row, then sees the conflict) and both acknowledge it. Each batch
locks rows in key order, so concurrent writers cannot deadlock each other; a deadlock or
serialisation failure from elsewhere is retried.

`postgresql://...?schema=NAME` keeps the tables in schema NAME (created when missing), so
that one database can hold several receivers or test runs; libpq never sees that parameter.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from datetime import tzinfo
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql as pg_sql

from facepush.errors import ReceiverConfigError, RecordRejected, StoreUnavailable
from facepush.receiver import sql, writes
from facepush.receiver.store import Incoming

_RETRIES = 5
_MIGRATION_LOCK = 0x66616365  # pg_advisory_xact_lock key: "face"

_EVENT_INSERT = f"""
INSERT INTO events ({writes.EVENT_INSERT_COLUMNS})
SELECT * FROM unnest(
    %b::text[], %b::smallint[], %b::text[], %b::text[], %b::bigint[], %b::bigint[],
    %b::boolean[], %b::text[], %b::boolean[], %b::text[], %b::integer[], %b::integer[],
    %b::text[], %b::text[], %b::text[], %b::text[], %b::bigint[], %b::text[],
    %b::text[], %b::text[]
) ORDER BY 1
ON CONFLICT (key) DO NOTHING
RETURNING key
"""

# %b: the snapshots travel in binary; as text every byte would be hex-escaped and parsed.
_IMAGE_UPSERT = """
INSERT INTO images (id, bytes, size, created_at, last_used_at)
SELECT * FROM unnest(%s::text[], %b::bytea[], %s::integer[], %s::bigint[], %s::bigint[])
ORDER BY 1
ON CONFLICT (id) DO UPDATE SET last_used_at = GREATEST(images.last_used_at, excluded.last_used_at)
"""


def split_url(url: str) -> tuple[str, str | None]:
    """The libpq URL without our `schema` parameter, and that schema (or None).

    The other parameters are libpq's and pass through byte for byte: decoding and encoding
    them again would change them, since libpq reads "+" as a plus, not a space."""
    parts = urlsplit(url)
    if parts.scheme not in {"postgresql", "postgres"}:
        raise ReceiverConfigError(f"expected postgresql://..., got {url!r}")
    kept, schemas = [], []
    for pair in parts.query.split("&") if parts.query else []:
        key, _, value = pair.partition("=")
        if unquote(key) == "schema":
            schemas.append(unquote(value))
        else:
            kept.append(pair)
    name = schemas[-1] if schemas else None
    if name is not None and not name.replace("_", "").isalnum():
        raise ReceiverConfigError(f"schema={name!r}: use letters, digits and '_'")
    return urlunsplit(parts._replace(query="&".join(kept))), name


def _pg(query: str) -> str:
    return query.replace("?", "%s")


class PostgresStore(sql.SqlStore):
    dialect = "postgresql"

    def __init__(self, url: str, zone: tzinfo | None = None) -> None:
        self.url = url
        self.zone = zone
        self._dsn, self.schema = split_url(url)
        super().__init__()
        self._writer: psycopg.Connection[Any] | None = None

    def _connect(self, autocommit: bool) -> psycopg.Connection[Any]:
        try:
            conn = psycopg.connect(self._dsn, autocommit=autocommit, connect_timeout=5)
            if self.schema:
                conn.execute(
                    pg_sql.SQL("SET search_path TO {}").format(pg_sql.Identifier(self.schema))
                )
                if not autocommit:
                    conn.commit()
        except psycopg.Error as exc:
            raise StoreUnavailable(f"cannot connect to PostgreSQL: {_one_line(exc)}") from None
        return conn

    def connect(self, autocommit: bool = True) -> psycopg.Connection[Any]:
        """A new connection of the caller's own, on this store's schema; raises
        StoreUnavailable. (Forwarding holds its leases and writes its positions on one.)"""
        return self._connect(autocommit)

    def _writer_conn(self) -> psycopg.Connection[Any]:
        if self._writer is None or self._writer.closed:
            self._writer = self._connect(autocommit=False)
        return self._writer

    def _drop_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    _close_writer = _drop_writer

    def _sql(self, query: str) -> str:
        return _pg(query)

    def _connect_reader(self) -> psycopg.Connection[Any]:
        return self._connect(autocommit=True)

    def _usable(self, conn: psycopg.Connection[Any]) -> bool:
        return not conn.closed

    def _reading(self, conn: psycopg.Connection[Any]) -> contextlib.AbstractContextManager[None]:
        return guarded(conn)

    def _atomic(
        self, work: Callable[[psycopg.Connection[Any]], sql.T], kind: sql.WriteKind = "write"
    ) -> sql.T:
        what = "PostgreSQL migration" if kind == "migration" else "PostgreSQL"
        with self._lock:
            for attempt in range(_RETRIES):
                conn = self._writer_conn()
                try:
                    with _pipelined(conn, kind), conn.transaction():
                        return work(conn)
                except (pg_errors.DeadlockDetected, pg_errors.SerializationFailure):
                    if attempt == _RETRIES - 1:
                        raise StoreUnavailable(f"{what}: write conflicts persist") from None
                except psycopg.Error as exc:
                    refused = (psycopg.DataError, psycopg.IntegrityError, psycopg.ProgrammingError)
                    if kind == "ingest" and isinstance(exc, refused):
                        raise RecordRejected(
                            f"PostgreSQL refused the record: {_one_line(exc)}"
                        ) from None
                    self._drop_writer()
                    raise StoreUnavailable(f"{what}: {_one_line(exc)}") from None
        raise StoreUnavailable(f"{what}: write conflicts persist")  # pragma: no cover

    def _begin_migration(self, conn: psycopg.Connection[Any]) -> None:
        # Several receivers may start at once: one migrates, the others wait.
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [_MIGRATION_LOCK])
        if self.schema:
            conn.execute(
                pg_sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(pg_sql.Identifier(self.schema))
            )

    def _run_many(
        self, conn: psycopg.Connection[Any], query: str, rows: Sequence[Sequence[Any]]
    ) -> None:
        with conn.cursor() as cur:
            cur.executemany(_pg(query), rows)

    def _insert_events(self, conn: psycopg.Connection[Any], events: Sequence[Incoming]) -> set[str]:
        # Sorted by key: concurrent writers lock the same keys in the same order.
        rows = [writes.event_values(item) for item in sorted(events, key=_key)]
        columns = [list(c) for c in zip(*rows, strict=True)]
        return {row[0] for row in conn.execute(_EVENT_INSERT, columns).fetchall()}

    def _upsert_images(
        self, conn: psycopg.Connection[Any], rows: Sequence[tuple[Any, ...]]
    ) -> None:
        conn.execute(_IMAGE_UPSERT, [list(c) for c in zip(*rows, strict=True)])


def _pipelined(
    conn: psycopg.Connection[Any], kind: sql.WriteKind
) -> contextlib.AbstractContextManager[Any]:
    """An ingest in pipeline mode: BEGIN goes with the insert of the events (whose keys
    are read back), and the upserts of images, terminals, days and counters go with the
    COMMIT: two round trips a batch instead of seven, each of which held the batch's
    waiters (and the writer) for a wake-up of this thread."""
    return conn.pipeline() if kind == "ingest" else contextlib.nullcontext()


def _key(item: Incoming) -> str:
    return item.key


@contextlib.contextmanager
def guarded(conn: psycopg.Connection[Any], what: str = "PostgreSQL") -> Iterator[None]:
    """psycopg's errors on `conn` (not the writer's) raised as StoreUnavailable; a
    connection that broke is closed, to be opened again by its user."""
    try:
        yield
    except psycopg.Error as exc:
        if isinstance(exc, psycopg.OperationalError) or conn.broken:
            conn.close()
        raise StoreUnavailable(f"{what}: {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
