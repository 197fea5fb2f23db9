"""Forwarding's part of the store, one suite on both backends: order, positions, set-aside
and replay, leases; and on PostgreSQL the proof that a transaction committing late is not
skipped (the cursor on (xid, id) below the snapshot's xmin)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest

from facepush.receiver import Store, open_store
from facepush.receiver.forward.positions import (
    START,
    Cursor,
    Positions,
    Progress,
    SetAside,
    positions_for,
)
from facepush.receiver.store import EventRow
from tests.support.receiver import drop_schema, fresh_pg_url, make
from tests.support.records import alarm, recognition

Row = tuple[Cursor, EventRow]


@pytest.fixture
def positions(store: Store) -> Positions:
    return positions_for(store)


def read(positions: Positions, after: Cursor, limit: int, expect: int) -> list[Row]:
    """`positions.read`, waiting (boundedly) for `expect` rows: on PostgreSQL a committed
    row is read once every transaction older than it has finished, and the test server
    is shared with other work whose transactions may be in flight for a moment."""
    deadline = time.monotonic() + 15
    while True:
        rows = positions.read(after, limit)
        if len(rows) >= expect or time.monotonic() > deadline:
            return rows
        time.sleep(0.01)


def test_reads_in_order_of_receipt_after_a_cursor(store: Store, positions: Positions) -> None:
    store.ingest([make(recognition(f"u-{n}")) for n in range(5)])
    rows = read(positions, START, 3, 3)
    assert [row.key for _, row in rows] == ["r:u-0", "r:u-1", "r:u-2"]
    rest = read(positions, rows[-1][0], 10, 2)
    assert [row.key for _, row in rest] == ["r:u-3", "r:u-4"]
    assert positions.read(rest[-1][0], 10) == []
    assert rows[0][0] < rows[1][0] < rest[0][0]


def test_a_position_is_saved_only_by_the_lease_holder(store: Store, positions: Positions) -> None:
    store.ingest([make(recognition(f"u-{n}")) for n in range(3)])
    cursor = read(positions, START, 2, 2)[-1][0]
    assert positions.position("ha").cursor == START
    lease = positions.lease("ha")
    progress = Progress(cursor, forwarded=2, last_forwarded_at=123, last_error=None)
    with pytest.raises(Exception, match="lease is not held"):
        positions.save(lease, "ha", progress, holder="me")
    assert lease.try_acquire()
    positions.save(lease, "ha", progress, holder="me")
    positions.save(lease, "ha", Progress(cursor, skipped=1, last_error="slow"), holder="me")
    saved = positions.position("ha")
    assert (saved.cursor, saved.forwarded, saved.skipped) == (cursor, 2, 1)
    assert (saved.last_forwarded_at, saved.last_error, saved.holder) == (123, "slow", "me")
    assert positions.position("other").cursor == START  # kept per sink
    lease.release()


def test_pending_counts_what_the_filters_let_through(store: Store, positions: Positions) -> None:
    store.ingest(
        [
            make(recognition("u-1")),
            make(recognition("u-2", timestamp=1), received_at=10_000_000),  # late
            make(alarm("t-1", 1, event_time=999)),
        ]
    )
    assert positions.pending(START, [0, 1], skip_late=False) == 3
    assert positions.pending(START, [0], skip_late=False) == 2
    assert positions.pending(START, [0, 1], skip_late=True) == 2
    first = read(positions, START, 1, 1)[0][0]
    assert positions.pending(first, [0, 1], skip_late=False) == 2


def test_set_aside_records_are_kept_and_replayed(store: Store, positions: Positions) -> None:
    store.ingest([make(recognition(f"u-{n}")) for n in range(3)])
    rows = read(positions, START, 3, 3)
    lease = positions.lease("hook")
    assert lease.try_acquire()
    refused = rows[1][1]
    aside = SetAside(refused.id, refused.key, "HTTP 422", attempts=1, set_aside_at=0)
    positions.save(lease, "hook", Progress(rows[-1][0], forwarded=2, set_aside=[aside]), "me")
    assert positions.position("hook").set_aside == 1
    assert [(s.key, s.error, s.replay) for s in positions.set_aside("hook", 10)] == [
        ("r:u-1", "HTTP 422", False)
    ]
    assert positions.to_replay("hook", 10) == []
    assert positions.request_replay("hook", [refused.id, 10**9]) == 1
    [(again, row)] = positions.to_replay("hook", 10)
    assert (again.replay, row.key) == (True, "r:u-1")
    positions.save(lease, "hook", Progress(rows[-1][0], refused_again=[(refused.id, "422")]), "me")
    [still] = positions.set_aside("hook", 10)
    assert (still.attempts, still.error, still.replay) == (2, "422", False)
    assert positions.request_replay("hook", None) == 1
    positions.save(lease, "hook", Progress(rows[-1][0], forwarded=1, replayed=[refused.id]), "me")
    assert positions.set_aside("hook", 10) == []
    assert positions.position("hook").forwarded == 3
    lease.release()


def test_one_lease_holder_at_a_time(store: Store, positions: Positions) -> None:
    other_store = open_store(store.url)
    try:
        other = positions_for(other_store)
        mine, theirs = positions.lease("ha"), other.lease("ha")
        assert mine.try_acquire()
        assert not theirs.try_acquire()
        assert other.lease("nats").try_acquire()  # each sink its own lease
        mine.release()
        assert theirs.try_acquire()
        assert theirs.check()
        theirs.release()
    finally:
        other_store.close()


# PostgreSQL only below: its transactions commit out of id order; SQLite has one writer.


@pytest.fixture
def pg(pg_dsn: str) -> Iterator[Store]:
    url, schema = fresh_pg_url(pg_dsn)
    opened = open_store(url)
    try:
        yield opened
    finally:
        opened.close()
        drop_schema(pg_dsn, schema)


@pytest.fixture
def raw(pg: Store, pg_dsn: str) -> Iterator[psycopg.Connection]:
    schema = pg.url.rsplit("schema=", 1)[1]
    with psycopg.connect(pg_dsn, connect_timeout=5) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        conn.commit()
        yield conn


def _insert(conn: psycopg.Connection, key: str) -> int:
    row = conn.execute(
        "INSERT INTO events (key, type, received_at, late, fields) "
        "VALUES (%s, 0, 1, false, '{}') RETURNING id",
        [key],
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_transaction_that_commits_late_is_not_skipped(pg: Store, raw: psycopg.Connection) -> None:
    store, positions = pg, positions_for(pg)
    store.ingest([make(recognition("before"))])
    [(cursor, _)] = read(positions, START, 10, 1)
    # T1 inserts first (the lower id) and stays open; T2 inserts later and commits.
    t1_id = _insert(raw, "t1-slow")
    store.ingest([make(recognition("t2-fast"))])
    t2_id = int(positions.store.fetch("SELECT id FROM events WHERE key = 'r:t2-fast'")[0][0])
    assert t1_id < t2_id
    # A cursor on id alone would take T2 now, move past T1's id, and never see T1.
    naive = positions.store.fetch("SELECT id FROM events WHERE id > ? ORDER BY id", [cursor.id])
    assert [r[0] for r in naive] == [t2_id]
    # Forwarding's read holds back everything from T1's transaction on while T1 is open.
    assert positions.read(cursor, 10) == []
    raw.commit()
    got = read(positions, cursor, 10, 2)
    assert [row.key for _, row in got] == ["t1-slow", "r:t2-fast"]
    print(f"held-open transaction: id {t1_id} committed after id {t2_id}; read in order")


def test_the_lease_moves_when_its_connection_dies(pg: Store, raw: psycopg.Connection) -> None:
    store, positions = pg, positions_for(pg)
    other_store = open_store(store.url)
    try:
        mine, theirs = positions.lease("ha"), positions_for(other_store).lease("ha")
        assert mine.try_acquire()
        assert not theirs.try_acquire()
        assert isinstance(getattr(mine, "conn", None), psycopg.Connection)
        pid = mine.conn.info.backend_pid  # type: ignore[attr-defined]
        # With a timeout it returns once the backend is gone (and its locks with it), not
        # as soon as it was signalled: otherwise the next line raced the backend's exit.
        row = raw.execute("SELECT pg_terminate_backend(%s, 10000)", [pid]).fetchone()
        raw.commit()
        assert row == (True,)
        assert theirs.try_acquire()  # released by the server with the connection
        assert not mine.check()
        progress = Progress(Cursor(0, 0))
        with pytest.raises(Exception, match="lease is not held"):
            positions.save(mine, "ha", progress, "me")  # a lost lease writes nothing
        theirs.release()
    finally:
        other_store.close()
