"""Real receiver processes: nothing acknowledged is lost to kill -9; two processes on one
PostgreSQL database store a record once; the CSV export streams 100,000 rows in bounded
memory; `make run`'s defaults work."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from facepush.receiver import Incoming, Store, open_store
from facepush.receiver.store import StoreOutcome
from tests.receiver.processes import rss_bytes, start_receiver
from tests.support.receiver import drop_schema, fresh_pg_url, metric_value
from tests.support.records import body, recognition

TIMEOUT = aiohttp.ClientTimeout(total=20)


async def test_kill_9_right_after_replies_loses_nothing_acknowledged(
    db_url: str, tmp_path: Path
) -> None:
    proc, url = start_receiver(tmp_path / "r1.log", "--db", db_url)
    acked: list[str] = []
    queue = [f"crash-{i}" for i in range(2000)]
    killed = asyncio.Event()

    async def pusher(session: aiohttp.ClientSession) -> None:
        while queue and not killed.is_set():
            uid = queue.pop()
            try:
                async with session.post(url + "/Record", data=body(recognition(uid))) as resp:
                    reply = await resp.json()
            except (aiohttp.ClientError, TimeoutError):
                return
            if resp.status == 200 and reply["code"] == 200:
                acked.append(f"r:{uid}")
                if len(acked) >= 300 and not killed.is_set():
                    proc.kill9()  # pushes are still in flight on the other connections
                    killed.set()

    try:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            await asyncio.wait_for(asyncio.gather(*(pusher(session) for _ in range(32))), 60)
    finally:
        proc.kill9()
        proc.stop()
    assert killed.is_set() and len(acked) >= 300

    again, url = start_receiver(tmp_path / "r2.log", "--db", db_url)  # restart: recovery
    try:
        store = open_store(db_url)
        try:
            missing = [key for key in acked if store.event(key) is None]
            stored = store.stats()["recognitions"]
        finally:
            store.close()
        assert missing == []
        assert stored >= len(acked)
    finally:
        assert again.stop() == 0


async def test_two_processes_store_a_record_once(pg_dsn: str, tmp_path: Path) -> None:
    db_url, schema = fresh_pg_url(pg_dsn)
    procs = []
    try:
        for i in range(2):  # one by one: the first is stopped if the second cannot start
            procs.append(start_receiver(tmp_path / f"p{i}.log", "--db", db_url))
        urls = [u for _, u in procs]
        records = [recognition(f"both-{i}") for i in range(300)]
        todo = list(records)
        statuses: list[int] = []

        async def worker(session: aiohttp.ClientSession) -> None:
            while todo:
                raw = body(todo.pop())
                # The same record to both processes at the same moment.
                for status in await asyncio.gather(*(_post(session, u, raw) for u in urls)):
                    statuses.append(status)

        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            await asyncio.wait_for(asyncio.gather(*(worker(session) for _ in range(16))), 90)
            stats = (await (await session.get(urls[0] + "/api/stats")).json())["data"]
            texts = [await (await session.get(u + "/metrics")).text() for u in urls]
        assert statuses == [200] * 600
        assert (stats["recognitions"], stats["duplicates"]) == (300, 300)
        stored = sum(metric_value(t, "facepush_receiver_stored_total") for t in texts)
        duplicates = sum(metric_value(t, "facepush_receiver_duplicates_total") for t in texts)
        assert (stored, duplicates) == (300, 300)
    finally:
        for proc, _ in procs:
            proc.stop()
        drop_schema(pg_dsn, schema)


async def _post(session: aiohttp.ClientSession, url: str, raw: bytes) -> int:
    async with session.post(url + "/Record", data=raw) as resp:
        reply = await resp.json()
        return resp.status if reply["code"] == 200 else -reply["code"]


def _seed(store: Store, rows: int) -> None:
    """Bulk insert through the store (the push path would take minutes for 100,000)."""
    filler = "x" * 400  # ~700 B per CSV row: the whole export is far above the memory bound
    batch: list[Incoming] = []
    for i in range(rows):
        fields = f'{{"uuid":"u-{i}","deviceSN":"D{i % 50}","pass":true,"note":"{filler}"}}'
        batch.append(
            Incoming(
                key=f"r:u-{i}",
                type=0,
                device=f"D{i % 50}",
                source="127.0.0.1",
                occurred_at=1_700_000_000_000 + i,
                received_at=1_700_000_000_000 + i,
                late=False,
                user_id=str(i % 500),
                passed=True,
                trace_id=None,
                status=None,
                code=None,
                fields=fields,
            )
        )
        if len(batch) == 10_000:
            assert set(store.ingest(batch)) == {StoreOutcome.STORED}
            batch = []
    if batch:
        store.ingest(batch)


async def test_csv_export_of_100000_rows_in_bounded_memory(sqlite_url: str, tmp_path: Path) -> None:
    rows = 100_000
    store = open_store(sqlite_url)
    try:
        _seed(store, rows)
    finally:
        store.close()
    proc, url = start_receiver(tmp_path / "csv.log", "--db", sqlite_url)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
            async with session.get(url + "/api/events", params={"limit": "1000"}) as resp:
                assert resp.status == 200  # warm up the query path before the baseline
            baseline = peak = rss_bytes(proc.proc.pid)
            lines = size = 0
            tail = b""
            async with session.get(url + "/api/export.csv") as resp:
                assert resp.status == 200
                async for chunk in resp.content.iter_chunked(256 * 1024):
                    size += len(chunk)
                    lines += chunk.count(b"\n")
                    tail = (tail + chunk)[-2000:]
                    peak = max(peak, rss_bytes(proc.proc.pid))
                    await asyncio.sleep(0.001)  # a slow reader: the server must not buffer
        assert lines == rows + 1  # the header and every row
        assert tail.rstrip().endswith(b'"}"') or b"u-0" in tail
        growth = peak - baseline
        print(f"export: {size / 2**20:.1f} MiB, server RSS growth {growth / 2**20:.1f} MiB")
        bound = 24 * 1024 * 1024
        assert size > 2 * bound, size  # the export is much larger than the bound...
        assert growth < bound, f"RSS grew by {growth / 2**20:.1f} MiB"  # ...memory is not
    finally:
        assert proc.stop() == 0


def test_make_run_defaults(tmp_path: Path) -> None:
    """`facepush receiver serve` with no options but --listen: SQLite under var/receiver."""
    log = (tmp_path / "run.log").open("wb")
    child = subprocess.Popen(
        [sys.executable, "-m", "facepush", "receiver", "serve", "--listen", "127.0.0.1:0"],
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        text = ""
        while "listening on" not in text and time.monotonic() < deadline:
            time.sleep(0.05)
            text = (tmp_path / "run.log").read_text()
        assert "listening on http://127.0.0.1:" in text, text
        assert (tmp_path / "var" / "receiver" / "receiver.sqlite3").exists()
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            code = child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            code = child.wait(timeout=10)
        log.close()
    assert code == 0
