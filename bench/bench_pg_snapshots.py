"""What storing snapshots costs PostgreSQL, and what compressing them cost: the receiver's
own `PostgresStore.ingest` of batches of 31 recognitions with a 30 KB JPEG each, on the
schema as migrated (snapshots stored uncompressed, schema v7) and with the column put back
to PostgreSQL's default (compressed where it can be). Method: docs/benchmarks.md.
"""

from __future__ import annotations

import base64
import time
import uuid
from pathlib import Path
from typing import Any, TypedDict

from bench.harness import Row, benchmark
from bench.processes import cpu_seconds
from bench.records import record
from bench.servers import PG_DSN, drop_schema
from bench.wrk import snapshot_jpeg

METHOD = """
What a batch with snapshots costs PostgreSQL, without HTTP: the receiver's own
`PostgresStore.ingest` (facepush/receiver/pg_store.py) of 150 batches of 31 recognitions,
each with a distinct 30 KB JPEG (receiver-ingest's snapshot; 31 is that bench's mean batch
at 64 connections), one after another on one connection, in a fresh scratch schema made by
the receiver's migration (dropped afterwards), after a CHECKPOINT. **uncompressed** is the
schema as migrated (v7: `images.bytes` has `STORAGE EXTERNAL`); **compressed (before v7)**
puts the column back to PostgreSQL's default (`EXTENDED`: pglz tries every TOASTed value),
as every database had it before. Best of 2 interleaved rounds. **server CPU** is the CPU
time of every `postgres` process of the machine over the run (`/proc/PID/stat`), per
batch (so a busy moment of another client of the same server shows here too);
**client CPU** is this process's; **compression** is the server's
`default_toast_compression` (what "compressed" tried); **WAL** is `pg_wal_lsn_diff` per
batch. The JPEGs do not compress (they are compressed already): pglz spent its CPU to
keep them as they were. PostgreSQL shares this machine's 2 cores with the client.
"""

BATCH = 31
BATCHES = 150
ROUNDS = 2
SNAPSHOT = 30_000


def _batches() -> list[list[Any]]:
    from facepush.protocol import decode_push
    from facepush.receiver.records import incoming

    picture = base64.b64encode(snapshot_jpeg(SNAPSHOT)).decode()
    out = []
    for _ in range(BATCHES):
        batch = []
        for _ in range(BATCH):
            image = picture[:-32] + uuid.uuid4().hex  # distinct, as bench/push.lua makes them
            push = decode_push(record(str(uuid.uuid4()), image))
            at = push.occurred_at or 0
            batch.append(incoming(push, source="127.0.0.1", received_at=at, late_after_ms=300_000))
        out.append(batch)
    return out


def _server_cpu() -> float:
    """CPU seconds of every postgres process on this machine."""
    total = 0.0
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().startswith("postgres"):
                total += cpu_seconds(int(comm.parent.name))
        except OSError:  # the process ended meanwhile
            continue
    return total


class Result(TypedDict):
    rate: float
    wall_ms: float
    client_ms: float
    server_ms: float
    wal_mb: float
    stored_ok: bool
    compression: str


def _run(compressed: bool, batches: list[list[Any]]) -> Result:
    import psycopg

    from facepush.receiver.pg_store import PostgresStore

    schema = f"bench_snap_{uuid.uuid4().hex[:10]}"
    store = PostgresStore(f"{PG_DSN}?schema={schema}")
    try:
        store.migrate()
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            if compressed:
                conn.execute(f"ALTER TABLE {schema}.images ALTER COLUMN bytes SET STORAGE EXTENDED")
            conn.execute("CHECKPOINT")
            lsn = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
            wall, client, server = time.perf_counter(), time.process_time(), _server_cpu()
            for batch in batches:
                store.ingest(batch)
            wall, client = time.perf_counter() - wall, time.process_time() - client
            server = _server_cpu() - server
            wal = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", [lsn])
            wal_bytes = float(wal.fetchone()[0])
            method = str(conn.execute("SHOW default_toast_compression").fetchone()[0])
            stored = conn.execute(f"SELECT COUNT(*) FROM {schema}.images").fetchone()[0]
    finally:
        store.close()
        drop_schema(schema)
    n = len(batches)
    return {
        "rate": n * BATCH / wall,
        "wall_ms": wall / n * 1e3,
        "client_ms": client / n * 1e3,
        "server_ms": server / n * 1e3,
        "wal_mb": wal_bytes / n / 1e6,
        "stored_ok": stored == n * BATCH,
        "compression": method,
    }


@benchmark("pg-snapshots", METHOD)
def pg_snapshots() -> list[Row]:
    """Rows/s of the receiver's ingest with 30 KB snapshots, uncompressed and compressed."""
    batches = _batches()
    best: dict[bool, Result] = {}
    for _ in range(ROUNDS):
        for compressed in (False, True):
            result = _run(compressed, batches)
            if compressed not in best or result["rate"] > best[compressed]["rate"]:
                best[compressed] = result
    baseline = best[True]["rate"]
    return [
        {
            "snapshots": "compressed (before v7)" if compressed else "uncompressed (v7)",
            "records/s (this machine)": f"{r['rate']:,.0f}",
            "ratio to compressed": f"{r['rate'] / baseline:.2f}",
            "wall ms/batch": f"{r['wall_ms']:.1f}",
            "server CPU ms/batch": f"{r['server_ms']:.1f}",
            "client CPU ms/batch": f"{r['client_ms']:.1f}",
            "WAL MB/batch": f"{r['wal_mb']:.2f}",
            "compression": "none" if not compressed else r["compression"],
            "images check": "ok" if r["stored_ok"] else "FAILED",
        }
        for compressed, r in ((False, best[False]), (True, best[True]))
    ]
