"""The quarantine is bounded (issue 10, item 4): a prefix, the size and sha256 of each
refused body; at most so many rows and bytes, the oldest dropped and counted; the upgrade
to schema 5 shrinks what an older receiver kept. On both backends."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import cast

from facepush.receiver import Store, open_store, quarantine, schema
from facepush.receiver.store import QuarantineLimits, StoreOutcome
from tests.support.old_schema import v2_database
from tests.support.receiver import Serve, metric_value

MIB = 1024 * 1024


def junk(size: int) -> bytes:
    return os.urandom(16) + b"\0" * (size - 16)


async def test_a_refused_body_is_kept_as_a_prefix_with_its_size_and_sha256(
    serve: Serve, store: Store, backend: str, db_url: str
) -> None:
    """Before: 20 pushes of 16 MiB junk grew the database by 580 MB in 4 s."""
    rx = await serve()
    before = _sqlite_bytes(db_url) if backend == "sqlite" else 0
    bodies = [junk(2 * MIB) for _ in range(20)]
    for raw in bodies:
        status, reply = await rx.push(raw)
        assert status == 400 and reply["msg"].startswith("body: not valid")
    rows = store.quarantine(None, 100)
    assert len(rows) == 20
    by_hash = {hashlib.sha256(raw).hexdigest(): raw for raw in bodies}
    for row in rows:
        raw = by_hash[cast(str, row.sha256)]
        assert (row.prefix, row.size, row.truncated) == (raw[:4096], len(raw), False)
    if backend == "sqlite":
        assert _sqlite_bytes(db_url) - before < 2 * MIB  # 40 MiB of junk arrived
    item = (await rx.get("/api/quarantine", limit=1))["data"]["items"][0]
    assert base64.b64decode(item["prefix_base64"]) == rows[0].prefix
    assert (item["size"], item["sha256"], item["reason"]) == (
        2 * MIB,
        rows[0].sha256,
        "bad_request",
    )


def _sqlite_bytes(db_url: str) -> int:
    path = Path(db_url.removeprefix("sqlite:///"))
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


async def test_the_quarantine_keeps_the_newest_rows_and_counts_the_dropped(
    serve: Serve, store: Store
) -> None:
    rx = await serve(quarantine_rows=5)
    bodies = [f"junk {i}".encode() for i in range(12)]
    for raw in bodies:
        assert (await rx.push(raw))[0] == 400
    rows = store.quarantine(None, 100)
    assert [row.prefix for row in rows] == bodies[:-6:-1]  # the newest five, newest first
    stats = (await rx.get("/api/stats"))["data"]
    assert (stats["quarantined"], stats["quarantine_dropped"]) == (5, 7)
    text = await (await rx.session.get(rx.url + "/metrics")).text()
    assert metric_value(text, "facepush_receiver_quarantine_dropped_total") == 7


def test_the_quarantine_is_capped_in_bytes(store: Store) -> None:
    store.quarantine_limits = QuarantineLimits(max_rows=100, max_bytes=10_000)
    rows = [
        quarantine.refused(
            junk(6000), reason="bad_request", error="e", received_at=i, source=None, prefix=4096
        )
        for i in range(5)
    ]
    assert all(row.kept == 4097 for row in rows)
    assert store.ingest(rows) == [StoreOutcome.QUARANTINED] * 5
    kept = store.quarantine(None, 100)
    assert [row.received_at for row in kept] == [4, 3]  # 2 x 4097 bytes fit in 10,000
    assert store.stats()["quarantine_dropped"] == 3


def test_the_upgrade_to_schema_5_keeps_a_prefix_of_what_was_quarantined(
    db_url: str, backend: str, pg_dsn: str
) -> None:
    big = junk(100_000)
    v2_database(db_url, backend, pg_dsn, [big, b"small"])
    store = open_store(db_url)
    try:
        assert store.schema_version() == schema.LATEST == 7
        small, large = store.quarantine(None, 10)
        assert (large.prefix, large.size, large.sha256) == (
            big[:4096],
            len(big),
            hashlib.sha256(big).hexdigest(),
        )
        assert (small.prefix, small.size) == (b"small", 5) and small.reason is None
        stats = store.stats()
        assert (stats["quarantined"], stats["conflicts"], stats["quarantine_dropped"]) == (2, 0, 0)
    finally:
        store.close()
