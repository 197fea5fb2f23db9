"""Databases as an older receiver left them (schema version 1 or 2), on either backend, for
the tests of the upgrades."""

from __future__ import annotations

import sqlite3
from typing import cast

import psycopg

from facepush.receiver import schema, writes
from facepush.receiver.store import Incoming

Rows = list[tuple[str, list[object]]]


def v1_database(db_url: str, backend: str, pg_dsn: str, items: list[Incoming]) -> None:
    """Schema version 1, holding `items`."""
    dialect = cast(schema.Dialect, backend)
    statements = [schema.migrations_table(dialect), *schema.statements(1, dialect)]
    # Version 1's columns: the first 16 of today's.
    columns = writes.EVENT_INSERT_COLUMNS.split(", ")[:16]
    marks = ", ".join(["?"] * len(columns))
    rows: Rows = [("INSERT INTO schema_migrations VALUES (1, 0)", [])]
    insert = f"INSERT INTO events ({', '.join(columns)}) VALUES ({marks})"
    rows += [(insert, list(writes.event_values(item))[: len(columns)]) for item in items]
    rows += [(writes.DEVICE_UPSERT, list(row)) for row in writes.device_rows(items)]
    write(db_url, backend, pg_dsn, statements, rows)


def v2_database(db_url: str, backend: str, pg_dsn: str, bodies: list[bytes]) -> None:
    """Schema version 2, with `bodies` quarantined whole (as before the bounded quarantine)."""
    dialect: schema.Dialect = "sqlite" if backend == "sqlite" else "postgresql"
    statements = [schema.migrations_table(dialect)]
    statements += schema.statements(1, dialect) + schema.statements(2, dialect)
    rows: Rows = [("INSERT INTO schema_migrations VALUES (1, 0), (2, 0)", [])]
    insert = "INSERT INTO quarantine (received_at, source, error, body, truncated) "
    insert += "VALUES (?, ?, ?, ?, ?)"
    rows += [
        (insert, [i, "10.0.0.1", "body: not valid JSON", raw, False])
        for i, raw in enumerate(bodies)
    ]
    write(db_url, backend, pg_dsn, statements, rows)


def write(db_url: str, backend: str, pg_dsn: str, statements: list[str], rows: Rows) -> None:
    """Run the DDL `statements`, then the `?`-placeholder `rows`, in the database of
    `db_url` (a PostgreSQL URL's schema is created)."""
    if backend == "sqlite":
        with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
            for statement in statements:
                conn.execute(statement)
            for statement, params in rows:
                conn.execute(statement, params)
        return
    name = db_url.rsplit("schema=", 1)[1]
    with psycopg.connect(pg_dsn, autocommit=True) as pg:
        pg.execute(f'CREATE SCHEMA "{name}"')
        pg.execute(f'SET search_path TO "{name}"')
        for statement in statements:
            pg.execute(statement.encode())
        for statement, params in rows:
            pg.execute(statement.replace("?", "%s"), params)
