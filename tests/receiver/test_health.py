"""/healthz answers at once however busy the query API is, and 503 when the store cannot
be used: recent writes failing, or the database not answering (both backends)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from facepush.receiver import Store, open_store
from facepush.receiver.errors import StoreUnavailable
from facepush.receiver.health import Health
from facepush.receiver.ingest import Writer
from facepush.receiver.metrics import ReceiverMetrics
from facepush.receiver.query import READERS
from tests.support.receiver import Serve, make
from tests.support.records import recognition


async def health_of(rx: Any) -> tuple[int, dict[str, Any], float]:
    started = time.monotonic()
    status, reply = await rx.status_of("/healthz")
    return status, reply, time.monotonic() - started


async def test_health_does_not_queue_behind_queries(
    serve: Serve, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    rx = await serve()
    release = threading.Event()
    slow_events = store.event_page
    entered: list[int] = []

    def stuck(*args: Any) -> Any:
        entered.append(1)
        release.wait(20)
        return slow_events(*args)

    monkeypatch.setattr(store, "event_page", stuck)
    queries = [asyncio.create_task(rx.status_of("/api/events")) for _ in range(3 * READERS)]
    try:
        async with asyncio.timeout(10):  # every reader thread is taken, the rest are queued
            while len(entered) < READERS:
                await asyncio.sleep(0.01)
        # Idle writer: the store is asked, on the health check's own thread and connection.
        status, reply, took = await health_of(rx)
        assert (status, reply["data"]) == (200, {"store": "ok"}) and took < 1.0
        # A commit a moment ago answers for the store without asking it.
        assert (await rx.push(recognition("h-1")))[0] == 200
        status, reply, took = await health_of(rx)
        assert (status, reply["data"]) == (200, {"store": "ok"}) and took < 1.0
        assert not any(task.done() for task in queries)  # the queries really were stuck
    finally:
        release.set()
    assert all(status == 200 for status, _ in await asyncio.gather(*queries))


async def test_failing_writes_make_health_503(
    serve: Serve, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    rx = await serve()

    def full(batch: Any) -> Any:
        raise StoreUnavailable("database or disk is full")

    monkeypatch.setattr(store, "ingest", full)
    status, reply = await rx.push(recognition("f-1"))
    assert status == 503
    status, reply, _ = await health_of(rx)
    assert status == 503 and reply["code"] == 503 and reply["data"] == {"store": "failing"}
    assert "disk is full" in reply["msg"]
    monkeypatch.undo()  # the disk has room again: the next commit makes it healthy
    assert (await rx.push(recognition("f-1")))[0] == 200
    status, reply, _ = await health_of(rx)
    assert (status, reply["data"]) == (200, {"store": "ok"})


async def test_an_idle_store_is_pinged(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = Writer(store, ReceiverMetrics())
    health = Health(store, writer, fresh_s=0.2, timeout_s=0.5)
    try:
        assert await health.check() == ("ok", None) and health.pings == 1
        writer.start()
        await writer.submit(make(recognition("idle-1")))
        assert await health.check() == ("ok", None) and health.pings == 1  # the commit says
        await asyncio.sleep(0.3)
        assert await health.check() == ("ok", None) and health.pings == 2  # idle: asked
        await asyncio.sleep(0.3)

        def down() -> None:
            raise StoreUnavailable("PostgreSQL: server closed the connection")

        monkeypatch.setattr(store, "ping", down)
        state, why = await health.check()
        assert state == "unreachable" and why is not None and "server closed" in why

        def hangs() -> None:
            time.sleep(1.5)

        monkeypatch.setattr(store, "ping", hangs)
        # Concurrent checks share the one ping in flight, and give up after the timeout.
        started = time.monotonic()
        results = await asyncio.gather(*(health.check() for _ in range(5)))
        assert time.monotonic() - started < 1.2
        assert all(r == ("unreachable", "no answer within 0.5 s") for r in results)
        assert health.pings == 4
    finally:
        await writer.stop()
        health.close()


async def test_unreachable_postgresql_is_503(pg_dsn: str) -> None:
    """No server where the URL points: the ping fails, and says so."""
    store = open_store(pg_dsn.rsplit("@", 1)[0] + "@127.0.0.1:1/test", migrate=False)
    health = Health(store, Writer(store, ReceiverMetrics()))
    try:
        state, why = await health.check()
        assert state == "unreachable" and why is not None and "PostgreSQL" in why
    finally:
        health.close()
        store.close()
