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

import threading
from collections.abc import Sequence
from datetime import tzinfo
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql as pg_sql

from facepush.errors import ReceiverConfigError, RecordRejected, StoreUnavailable
from facepush.protocol.times import now_ms
from facepush.receiver import quarantine, schema, sql, writes
from facepush.receiver.store import Incoming, Item, Refused, StoreOutcome

_RETRIES = 5
_MIGRATION_LOCK = 0x66616365  # pg_advisory_xact_lock key: "face"

_EVENT_INSERT = f"""
INSERT INTO events ({writes.EVENT_INSERT_COLUMNS})
SELECT * FROM unnest(
    %s::text[], %s::smallint[], %s::text[], %s::text[], %s::bigint[], %s::bigint[],
    %s::boolean[], %s::text[], %s::boolean[], %s::text[], %s::integer[], %s::integer[],
    %s::text[], %s::text[], %s::text[], %s::text[], %s::bigint[], %s::text[],
    %s::text[], %s::text[]
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
    """The libpq URL without our `schema` parameter, and that schema (or None)."""
    parts = urlsplit(url)
    if parts.scheme not in {"postgresql", "postgres"}:
        raise ReceiverConfigError(f"expected postgresql://..., got {url!r}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    schemas = [v for k, v in query if k == "schema"]
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    name = schemas[-1] if schemas else None
    if name is not None and not name.replace("_", "").isalnum():
        raise ReceiverConfigError(f"schema={name!r}: use letters, digits and '_'")
    return urlunsplit(parts._replace(query=rest)), name


def _pg(query: str) -> str:
    return query.replace("?", "%s")


def _event(item: Item) -> Incoming:
    assert isinstance(item, Incoming)
    return item


class PostgresStore(sql.SqlStore):
    dialect = "postgresql"

    def __init__(self, url: str, zone: tzinfo | None = None) -> None:
        self.url = url
        self.zone = zone
        self._dsn, self.schema = split_url(url)
        self._lock = threading.Lock()
        self._writer: psycopg.Connection[Any] | None = None
        self._local = threading.local()
        self._readers: list[psycopg.Connection[Any]] = []
        self._readers_lock = threading.Lock()

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

    def _fetch(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self._connect(autocommit=True)
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        try:
            return conn.execute(_pg(query), list(params)).fetchall()
        except psycopg.Error as exc:
            if isinstance(exc, psycopg.OperationalError) or conn.broken:
                conn.close()
            raise StoreUnavailable(f"PostgreSQL: {_one_line(exc)}") from None

    def migrate(self) -> int:
        with self._lock:
            conn = self._writer_conn()
            try:
                with conn.transaction():
                    # Several receivers may start at once: one migrates, the others wait.
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", [_MIGRATION_LOCK])
                    if self.schema:
                        conn.execute(
                            pg_sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                                pg_sql.Identifier(self.schema)
                            )
                        )
                    conn.execute(schema.migrations_table("postgresql"))
                    row = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
                    current = int(row[0] or 0) if row else 0
                    if current > schema.LATEST:
                        raise ReceiverConfigError(
                            f"the database has schema version {current}, newer than this "
                            f"receiver ({schema.LATEST}); upgrade facepush"
                        )
                    for version in range(current + 1, schema.LATEST + 1):
                        for statement in schema.statements(version, "postgresql"):
                            conn.execute(statement.encode())
                        for statement, params in schema.backfill(version, "postgresql", self.zone):
                            conn.execute(_pg(statement), params)
                        conn.execute(
                            "INSERT INTO schema_migrations (version, applied_at) VALUES (%s, %s)",
                            [version, now_ms()],
                        )
            except psycopg.Error as exc:
                self._drop_writer()
                raise StoreUnavailable(f"PostgreSQL migration: {_one_line(exc)}") from None
        return schema.LATEST

    def ingest(self, batch: Sequence[Item]) -> list[StoreOutcome]:
        with self._lock:
            for attempt in range(_RETRIES):
                conn = self._writer_conn()
                try:
                    with conn.transaction():
                        outcomes, dropped = self._ingest(conn, batch)
                    self.quarantine_dropped += dropped
                    return outcomes
                except (pg_errors.DeadlockDetected, pg_errors.SerializationFailure):
                    if attempt == _RETRIES - 1:
                        raise StoreUnavailable("PostgreSQL: write conflicts persist") from None
                except (psycopg.DataError, psycopg.IntegrityError, psycopg.ProgrammingError) as exc:
                    raise RecordRejected(
                        f"PostgreSQL refused the record: {_one_line(exc)}"
                    ) from None
                except psycopg.Error as exc:
                    self._drop_writer()
                    raise StoreUnavailable(f"PostgreSQL: {_one_line(exc)}") from None
        raise StoreUnavailable("PostgreSQL: write conflicts persist")  # pragma: no cover

    def _ingest(
        self, conn: psycopg.Connection[Any], batch: Sequence[Item]
    ) -> tuple[list[StoreOutcome], int]:
        """The batch's outcomes, and how many quarantined pushes were dropped for room."""
        refused = [item for item in batch if isinstance(item, Refused)]
        dropped = 0
        if refused:
            with conn.cursor() as cur:
                cur.executemany(_pg(quarantine.QUARANTINE_INSERT), quarantine.values(refused))
            dropped = quarantine.trim(
                lambda q, p: conn.execute(_pg(q), p).fetchall(),
                lambda q, p: conn.execute(_pg(q), p).rowcount,
                self.quarantine_limits,
            )
        first = writes.first_occurrences(batch)
        inserted: set[str] = set()
        if first:
            # Sorted by key: concurrent writers lock the same keys in the same order.
            rows = [writes.event_values(_event(batch[first[k]])) for k in sorted(first)]
            columns = [list(c) for c in zip(*rows, strict=True)]
            inserted = {row[0] for row in conn.execute(_EVENT_INSERT, columns).fetchall()}

        def digests(keys: list[str]) -> dict[str, str | None]:
            return dict(conn.execute(_pg(writes.digest_query(len(keys))), keys).fetchall())

        outcomes, stored = writes.batch_outcomes(batch, first, inserted, digests)
        images = writes.image_rows(stored)
        if images:
            conn.execute(_IMAGE_UPSERT, [list(c) for c in zip(*images, strict=True)])
        with conn.cursor() as cur:
            devices = writes.device_rows(stored)
            if devices:
                cur.executemany(_pg(writes.DEVICE_UPSERT), devices)
                day_rows = writes.device_day_rows(stored, self.zone)
                cur.executemany(_pg(writes.DEVICE_DAY_UPSERT), day_rows)
            counters = writes.counter_rows(stored, outcomes, batch)
            if counters:
                cur.executemany(_pg(writes.COUNTER_UPDATE), counters)
        return outcomes, dropped

    def _write(self, query: str, params: Sequence[Any]) -> None:
        self.execute([(query, params)])

    def execute(self, statements: Sequence[sql.Statement]) -> list[list[tuple[Any, ...]]]:
        with self._lock:
            conn = self._writer_conn()
            try:
                with conn.transaction():
                    out = []
                    for statement, params in statements:
                        cursor = conn.execute(_pg(statement), list(params))
                        out.append(cursor.fetchall() if cursor.description else [])
                    return out
            except psycopg.Error as exc:
                self._drop_writer()
                raise StoreUnavailable(f"PostgreSQL: {_one_line(exc)}") from None

    def purge_images(self, older_than_ms: int, flag: str) -> int:
        with self._lock:
            conn = self._writer_conn()
            try:
                with conn.transaction():
                    rows = conn.execute(
                        "DELETE FROM images WHERE last_used_at < %s RETURNING id",
                        [older_than_ms],
                    ).fetchall()
                    ids = [row[0] for row in rows]
                    if ids:
                        # Only events from before the cut-off: a record stored meanwhile that
                        # re-inserted the same image keeps its reference.
                        conn.execute(
                            "UPDATE events SET image_id = NULL, image_flag = %s "
                            "WHERE image_id = ANY(%s) AND received_at < %s",
                            [flag, ids, older_than_ms],
                        )
            except psycopg.Error as exc:
                self._drop_writer()
                raise StoreUnavailable(f"PostgreSQL: {_one_line(exc)}") from None
        return len(ids)

    def close(self) -> None:
        with self._readers_lock:
            readers, self._readers = self._readers, []
        for conn in readers:
            conn.close()
        with self._lock:
            self._drop_writer()


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
