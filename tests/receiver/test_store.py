"""The storage interface, one suite run against both backends."""

from __future__ import annotations

import hashlib
import sqlite3
from typing import Any

import msgspec
import psycopg
import pytest

from facepush.errors import RecordRejected
from facepush.receiver import (
    EventFilter,
    Refused,
    Store,
    StoreOutcome,
    open_store,
    quarantine,
    schema,
)
from facepush.receiver.errors import ReceiverConfigError
from facepush.receiver.pg_store import split_url
from tests.support.receiver import make
from tests.support.records import alarm, jpeg, recognition


def test_schema_is_versioned_and_migrating_twice_is_harmless(store: Store) -> None:
    assert store.schema_version() == schema.LATEST
    assert store.migrate() == schema.LATEST
    again = open_store(store.url)
    try:
        assert again.schema_version() == schema.LATEST
    finally:
        again.close()


def test_a_newer_schema_is_refused(store: Store, backend: str, pg_dsn: str) -> None:
    statement = "INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)"
    if backend == "sqlite":
        with sqlite3.connect(store.url.removeprefix("sqlite:///")) as conn:
            conn.execute(statement)
    else:
        schema = store.url.rsplit("schema=", 1)[1]
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{schema}"')
            conn.execute(statement)
    with pytest.raises(ReceiverConfigError, match="schema version 99"):
        open_store(store.url)


def test_ingest_stores_once_and_counts_duplicates(store: Store) -> None:
    first, second = make(recognition("u-1")), make(recognition("u-2"))
    again = make(recognition("u-1"))
    outcomes = store.ingest([first, second, again])
    assert outcomes == [StoreOutcome.STORED, StoreOutcome.STORED, StoreOutcome.DUPLICATE]
    assert store.ingest([make(recognition("u-2"))]) == [StoreOutcome.DUPLICATE]
    stats = store.stats()
    assert (stats["recognitions"], stats["alarms"], stats["duplicates"]) == (2, 0, 2)
    assert stats["devices"] == 1


def test_alarm_identity_is_trace_status_and_time(store: Store) -> None:
    reports = [alarm("T-1", 1, 1_700_000_000_000), alarm("T-1", 3, 1_700_000_060_000)]
    assert store.ingest([make(r) for r in reports]) == [StoreOutcome.STORED, StoreOutcome.STORED]
    assert store.ingest([make(reports[0])]) == [StoreOutcome.DUPLICATE]
    assert store.stats()["alarms"] == 2


def refused(raw: bytes, error: str = "type: unknown event type 7", at: int = 5) -> Refused:
    return quarantine.refused(
        raw, reason="bad_request", error=error, received_at=at, source="10.0.0.9", prefix=4096
    )


def test_refused_pushes_are_quarantined_with_the_raw_body(store: Store) -> None:
    raw = b'{"type": 7, "data": {}}\x00\xff'
    outcomes = store.ingest([refused(raw)])
    assert outcomes == [StoreOutcome.QUARANTINED]
    (row,) = store.quarantine(None, 10)
    assert (row.prefix, row.error, row.source, row.truncated, row.reason) == (
        raw,
        "type: unknown event type 7",
        "10.0.0.9",
        False,
        "bad_request",
    )
    assert (row.size, row.sha256) == (len(raw), hashlib.sha256(raw).hexdigest())
    assert store.stats()["quarantined"] == 1


def test_images_are_content_addressed_and_stored_once(store: Store) -> None:
    photo = jpeg(1)
    items = [make(recognition(image=photo)), make(recognition(image=photo))]
    items.append(make(alarm("T-9", 1, photo=photo)))
    store.ingest(items)
    assert store.stats()["images"] == 1
    assert {i.image_id for i in items} == {items[0].image_id}
    assert store.image(items[0].image_id or "") == photo


def test_purge_drops_old_images_and_keeps_the_records(store: Store) -> None:
    old, new = (
        make(recognition("old", image=jpeg(1)), 1_000),
        make(recognition("new", image=jpeg(2)), 9_000),
    )
    store.ingest([old, new])
    assert store.purge_images(5_000, "purged: test") == 1
    assert store.image(old.image_id or "") is None
    assert store.image(new.image_id or "") == jpeg(2)
    kept = store.event(old.key)
    assert kept is not None and kept.image_id is None and kept.image_flag == "purged: test"
    assert store.stats()["recognitions"] == 2


def test_filters_and_keyset_paging(store: Store) -> None:
    items = [
        make(
            recognition(
                f"u-{i}",
                device=f"D{i % 2}",
                user_id=str(i % 3),
                passed=i % 2 == 0,
                timestamp=1_700_000_000 + i,
            )
        )
        for i in range(30)
    ]
    store.ingest(items)
    rows = store.events(EventFilter(device="D1"), None, 100)
    assert len(rows) == 15 and all(r.device == "D1" for r in rows)
    assert [r.id for r in rows] == sorted((r.id for r in rows), reverse=True)
    assert len(store.events(EventFilter(user_id="0", passed=True), None, 100)) == 5
    window = EventFilter(since=1_700_000_010_000, until=1_700_000_019_000)
    assert len(store.events(window, None, 100)) == 10
    page1 = store.events(EventFilter(), None, 12)
    page2 = store.events(EventFilter(), page1[-1].id, 12)
    assert not {r.key for r in page1} & {r.key for r in page2}
    assert len(store.events(EventFilter(type=1), None, 100)) == 0


def test_alarm_lifecycle_open_first(store: Store) -> None:
    t = 1_700_000_000_000
    store.ingest(
        [
            make(r)
            for r in (
                alarm("closed", 1, t),
                alarm("closed", 3, t + 10),
                alarm("failing", 1, t + 1),
                alarm("failing", 2, t + 20),
                alarm("open", 1, t + 2),
            )
        ]
    )
    by_trace = {a["trace_id"]: a for a in store.alarms(10)}
    assert by_trace["closed"]["state"] == "cleared" and by_trace["closed"]["cleared_at"] == t + 10
    assert by_trace["failing"]["state"] == "clear_failed"
    assert by_trace["open"]["state"] == "raised" and by_trace["open"]["raised_at"] == t + 2
    assert [a["trace_id"] for a in store.alarms(10)][-1] == "closed"


def test_a_batch_postgresql_refuses_is_rolled_back_whole_and_the_next_one_is_stored(
    pg_url: str,
) -> None:
    """An ingest runs in pipeline mode on PostgreSQL, where an error surfaces only at the
    commit: the batch is still refused as a whole, nothing of it stays, and the writer
    connection takes the next batch. (SQLite stores any integer: it has no such refusal.)"""
    store = open_store(pg_url)
    try:
        good, bad = make(alarm("t-1")), make(alarm("t-2"))
        with pytest.raises(RecordRejected, match="integer out of range"):
            store.ingest([good, msgspec.structs.replace(bad, code=2**40)])
        assert store.stats()["alarms"] == 0
        assert store.ingest([good, bad]) == [StoreOutcome.STORED, StoreOutcome.STORED]
        assert store.stats()["alarms"] == 2
    finally:
        store.close()


def test_postgresql_stores_snapshots_without_compressing_them(pg_url: str, pg_dsn: str) -> None:
    """JPEGs are compressed already: PostgreSQL's attempt on each one was most of its CPU
    for a batch of snapshots (schema v7). This one would compress, and still is kept whole
    and read back the same."""
    store = open_store(pg_url)
    try:
        photo = jpeg(3, size=600)  # 6 KB of one colour: pglz would take it to a tenth
        (item,) = items = [make(recognition("big", image=photo))]
        assert store.ingest(items) == [StoreOutcome.STORED]
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{pg_url.rsplit("schema=", 1)[1]}"')
            kind, stored = conn.execute(
                "SELECT pg_column_compression(bytes), pg_column_size(bytes) FROM images"
            ).fetchone() or (None, 0)
        assert (kind, stored) == (None, len(photo))
        assert store.image(item.image_id or "") == photo
    finally:
        store.close()


def test_a_database_of_schema_6_is_upgraded_to_store_snapshots_uncompressed(
    pg_url: str, pg_dsn: str
) -> None:
    def storage(conn: psycopg.Connection[Any]) -> str:
        found = conn.execute(
            "SELECT attstorage FROM pg_attribute "
            "WHERE attrelid = 'images'::regclass AND attname = 'bytes'"
        ).fetchone()
        return str(found[0]) if found else "?"

    open_store(pg_url).close()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{pg_url.rsplit("schema=", 1)[1]}"')
        conn.execute("ALTER TABLE images ALTER COLUMN bytes SET STORAGE EXTENDED")
        conn.execute("DELETE FROM schema_migrations WHERE version = 7")  # as v6 left it
        assert storage(conn) == "x"
        store = open_store(pg_url)
        try:
            assert store.schema_version() == 7
            assert storage(conn) == "e"
        finally:
            store.close()


@pytest.mark.parametrize(
    "query",
    ["password=a+b", "password=a%2Bb", "options=-c%20x%3D1", "p=%FF", "q=%2F%26%3D", "sslmode"],
)
def test_the_schema_is_taken_out_of_a_url_and_the_rest_left_byte_for_byte(query: str) -> None:
    url, schema = split_url(f"postgresql://u@h/db?{query}&schema=site_1")
    assert (url, schema) == (f"postgresql://u@h/db?{query}", "site_1")
    assert split_url(f"postgresql://u@h/db?schema=site_1&{query}") == (url, schema)
    assert split_url(f"postgresql://u@h/db?{query}") == (url, None)


def test_libpq_parameters_of_the_url_reach_postgresql_as_written(pg_url: str) -> None:
    """Beside `schema`, the URL's parameters are libpq's: a space in `options` (escaped as
    %20) must stay a space, or PostgreSQL refuses the connection; a "+" stays a plus."""
    store = open_store(pg_url + "&application_name=facepush+test&options=-c%20work_mem%3D7MB")
    try:
        rows = store.execute(
            [("SELECT current_setting('work_mem'), current_setting('application_name')", [])]
        )
        assert rows == [[("7MB", "facepush+test")]]
    finally:
        store.close()
