"""One push never fails another (issue 10, items 1-3): the attacks that broke the receiver,
through real sockets against a real receiver, on both backends where storage is involved.

- bad times and out-of-range integers are a named 400, quarantined, while the honest pushes
  mixed in with them are stored;
- a record the store cannot take is found by bisection and refused alone;
- 15 MiB invalid bodies do not stall the event loop;
- 48 parallel 15 MiB pushes stay within a byte budget (RSS of a real process);
- per-field limits are named 400s; an image above 4 MiB is flagged, the record kept.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from facepush.receiver import Store, open_store
from facepush.receiver.errors import RecordRejected, StoreUnavailable
from facepush.receiver.ingest import Writer
from facepush.receiver.metrics import ReceiverMetrics
from facepush.receiver.store import Item, StoreOutcome
from tests.receiver.processes import start_receiver
from tests.support.receiver import Serve, configured, metric_value, running
from tests.support.records import body, jpeg, recognition

MIB = 1024 * 1024


def overflowing() -> dict[str, Any]:
    # After the seconds→ms rule -9.3e18: outside int64; SQLite raised OverflowError.
    return recognition(timestamp=-9_300_000_000_000_000)


def status_above_int32() -> dict[str, Any]:
    data = {"trace_id": f"T-{uuid.uuid4()}", "status": 2**31, "event_time": 1_700_000_000_000}
    return {"type": 1, "data": data}


async def test_bad_times_and_integers_never_fail_honest_pushes(serve: Serve, store: Store) -> None:
    """300 honest pushes at once with 60 overflowing timestamps and 20 alarm statuses above
    2^31 (PostgreSQL's INTEGER) mixed in: before, 299 honest pushes got 503 on SQLite."""
    rx = await serve()
    pushes = [(True, recognition()) for _ in range(300)]
    pushes += [(False, overflowing()) for _ in range(60)]
    pushes += [(False, status_above_int32()) for _ in range(20)]
    pushes = [pushes[(i * 7) % len(pushes)] for i in range(len(pushes))]  # interleaved
    replies = await asyncio.gather(*(rx.push(record) for _, record in pushes))
    honest = Counter(status for (ok, _), (status, _) in zip(pushes, replies, strict=True) if ok)
    assert honest == {200: 300}
    bad = [reply for (ok, _), (_, reply) in zip(pushes, replies, strict=True) if not ok]
    assert sorted({r["code"] for r in bad}) == [400]
    assert sum(r["msg"].startswith("data.timestamp: -9300000000000000 ") for r in bad) == 60
    assert sum(r["msg"] == "data.status: expected int <= 2147483647" for r in bad) == 20
    stats = store.stats()
    assert (stats["recognitions"], stats["alarms"], stats["quarantined"]) == (300, 0, 80)
    assert {row.reason for row in store.quarantine(None, 100)} == {"bad_request"}


def poisoned(store: Store, monkeypatch: pytest.MonkeyPatch, calls: list[int]) -> None:
    """The store fails every transaction holding a key with "poison" in it, as a record
    that passes the protocol's checks and still fails in the database would."""
    ingest = store.ingest

    def failing(batch: Sequence[Item]) -> list[StoreOutcome]:
        calls.append(len(batch))
        keys = [getattr(item, "key", "") for item in batch]
        if any("poison-rejected" in k for k in keys):
            raise RecordRejected("the database refused it")
        if any("poison" in k for k in keys):
            raise RuntimeError("a bug in the driver")
        return ingest(batch)

    monkeypatch.setattr(store, "ingest", failing)


async def test_a_record_the_store_cannot_take_is_refused_alone(
    serve: Serve, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    rx = await serve()
    poisoned(store, monkeypatch, [])
    pushes = [(True, recognition()) for _ in range(200)]
    pushes += [(False, recognition(f"poison-{i}")) for i in range(3)]
    pushes += [(False, recognition(f"poison-rejected-{i}")) for i in range(2)]
    pushes = [pushes[(i * 11) % len(pushes)] for i in range(len(pushes))]
    replies = await asyncio.gather(*(rx.push(record) for _, record in pushes))
    for (ok, record), (status, reply) in zip(pushes, replies, strict=True):
        if ok:
            assert status == 200, reply
        else:
            assert status == 400, reply
            uid = record["data"]["uuid"]
            expected = "the database refused it" if "rejected" in uid else "RuntimeError"
            assert expected in reply["msg"]
    assert store.stats()["recognitions"] == 200
    kept = store.quarantine(None, 10)
    assert len(kept) == 5 and {row.reason for row in kept} == {"rejected"}


async def test_the_writer_bisects_a_failing_batch(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """64 items in one batch with one culprit: 13 transactions (1 + 2 per halving) find it,
    not 64 (one by one); an outage (StoreUnavailable) fails the batch in one."""
    from tests.support.receiver import make

    calls: list[int] = []
    poisoned(store, monkeypatch, calls)
    writer = Writer(store, ReceiverMetrics())
    writer.start()
    try:
        items = [make(recognition(f"ok-{i}")) for i in range(63)]
        items.insert(40, make(recognition("poison-1")))
        # All submitted before the writer task runs: they form one batch.
        tasks = [asyncio.create_task(writer.submit(item)) for item in items]
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert calls[0] == 64 and len(calls) == 13, calls
        assert [i for i, r in enumerate(results) if isinstance(r, RecordRejected)] == [40]
        assert Counter(r for r in results if isinstance(r, StoreOutcome)) == {
            StoreOutcome.STORED: 63
        }

        def down(batch: Sequence[Item]) -> list[StoreOutcome]:
            calls.append(len(batch))
            raise StoreUnavailable("disk full")

        monkeypatch.setattr(store, "ingest", down)
        calls.clear()
        tasks = [asyncio.create_task(writer.submit(make(recognition()))) for _ in range(8)]
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert calls == [8] and all(isinstance(r, StoreUnavailable) for r in results)
    finally:
        await writer.stop()


def unterminated(size: int) -> bytes:
    # Valid JSON up to its last byte: the decoder (and the old repair's regex) read it all.
    return b'{"type": 0, "data": {"uuid": "x", "remark": "' + b"a" * size


async def test_large_invalid_bodies_do_not_stall_the_event_loop(tmp_path: Path) -> None:
    """Before: the trailing-comma repair ran a regex over the body on the loop, 4.5 s for
    one 15 MiB body, and honest pushes stopped. Now the loop's longest pause while two
    clients push such bodies stays far below that, and an honest pusher keeps going."""
    url = f"sqlite:///{tmp_path / 'rx.sqlite3'}"
    store = open_store(url)
    hostile = [unterminated(15 * MIB), b'{"type": 0, "data": {"note": "' + b"a," * (7 * MIB)]
    try:
        async with running(configured(url), store) as rx:
            lags: list[float] = []
            done = asyncio.Event()

            async def ticker() -> None:
                while not done.is_set():
                    started = time.perf_counter()
                    await asyncio.sleep(0.001)
                    lags.append(time.perf_counter() - started)

            async def attacker(client: aiohttp.ClientSession) -> list[int]:
                statuses = []
                for junk in hostile * 2:
                    async with client.post(rx.url + "/Record", data=junk) as resp:
                        statuses.append(resp.status)
                return statuses

            async def honest() -> int:
                count = 0
                while not done.is_set():
                    status, _ = await rx.push(recognition())
                    assert status == 200
                    count += 1
                return count

            tick = asyncio.create_task(ticker())
            pusher = asyncio.create_task(honest())
            async with aiohttp.ClientSession() as a, aiohttp.ClientSession() as b:
                statuses = await asyncio.gather(attacker(a), attacker(b))
            done.set()
            honest_count = await pusher
            await tick
        print(f"longest loop pause {max(lags) * 1000:.0f} ms, honest pushes {honest_count}")
        assert statuses == [[400] * 4, [400] * 4]
        assert max(lags) < 1.0  # a safety bound: before, 4.5 s per body
        assert honest_count > 0
        reasons = {row.error.split(":")[0] for row in store.quarantine(None, 10)}
        assert reasons == {"body"}
    finally:
        store.close()


async def test_the_body_budget_makes_a_large_push_wait_then_503(serve: Serve) -> None:
    """A large body that cannot get budget waits (bounded), then gets 503 so that the
    terminal retries; small pushes are not held up meanwhile."""
    rx = await serve(max_body=MIB, body_budget=MIB, budget_wait_s=0.3)
    host, port = rx.url.removeprefix("http://").split(":")
    _, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(
            b"POST /Record HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {MIB}\r\n\r\n".encode()
            + b" " * (300 * 1024)
        )
        await writer.drain()
        for _ in range(500):  # by progress: until the slow body holds the whole budget
            text = await (await rx.session.get(rx.url + "/metrics")).text()
            if metric_value(text, "facepush_receiver_body_bytes") >= MIB:
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the slow body never took its budget")
        large = body(recognition(image=jpeg(1, 256, noise=True), padding="p" * 600_000))
        status, reply = await rx.push(large)
        assert status == 503 and "busy" in reply["msg"], reply
        assert (await rx.push(recognition()))[0] == 200  # a small push goes through
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    for _ in range(500):
        text = await (await rx.session.get(rx.url + "/metrics")).text()
        if metric_value(text, "facepush_receiver_body_bytes") == 0:
            break
        await asyncio.sleep(0.01)
    status, reply = await rx.push(large)
    assert status == 400 and "data.padding" in reply["msg"]  # now it had budget
    assert metric_value(text, "facepush_receiver_busy_total") == 1


async def test_48_parallel_15_mib_pushes_stay_in_bounded_memory(tmp_path: Path) -> None:
    """Before: the receiver held every body at once, 1.6 GB. Now a byte budget (64 MiB) and
    a pace (32 MiB/s) bound them: each push is answered, stored (its oversized image
    flagged) or told to push again later (503: the terminal keeps it and retries)."""
    db = f"sqlite:///{tmp_path / 'rx.sqlite3'}"
    proc, url = start_receiver(tmp_path / "rx.log", "--db", db)
    try:
        image = "/9j/" + "A" * (15 * MIB)
        payloads = [body(recognition(f"big-{i}", image=image)) for i in range(48)]
        timeout = aiohttp.ClientTimeout(total=300)
        connector = aiohttp.TCPConnector(limit=48)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:

            async def push(data: bytes) -> tuple[int, str]:
                async with session.post(url + "/Record", data=data) as resp:
                    return resp.status, (await resp.json())["msg"]

            replies = await asyncio.gather(*(push(p) for p in payloads))
            del payloads
            stored = [i for i, (status, _) in enumerate(replies) if status == 200]
            async with session.get(url + f"/api/events/r:big-{stored[0]}") as resp:
                item = (await resp.json())["data"]
            async with session.get(url + "/api/stats") as resp:
                stats = (await resp.json())["data"]
        peak = _peak_rss(proc.proc.pid)
        print(f"48 x 15 MiB at once: {len(stored)} stored, peak RSS {peak / MIB:.0f} MiB")
        assert len(stored) >= 4 and stats["recognitions"] == len(stored)
        assert all(
            status == 503 and "push again later" in msg for status, msg in replies if status != 200
        )
        assert item["image_url"] is None and item["image_flag"].startswith("broken: too large")
        assert peak < 300 * MIB
    finally:
        assert proc.stop() == 0


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


async def test_field_limits_are_named_and_an_oversized_image_is_flagged(
    serve: Serve, store: Store
) -> None:
    rx = await serve()
    status, reply = await rx.push(recognition(user={"user_id": "5", "remark": "r" * 5000}))
    assert (status, reply["msg"]) == (400, "data.user.remark: expected str of length <= 4096")
    status, reply = await rx.push(recognition(door={"log": ["x" * 4000] * 20}))
    assert status == 400 and reply["msg"].startswith("body: the record without its image is")
    big = base64.b64encode(b"\xff\xd8\xff" + bytes(5 * MIB)).decode()
    status, _ = await rx.push(recognition("big-image", image=big))
    assert status == 200
    item = (await rx.get("/api/events/r:big-image"))["data"]
    assert item["image_url"] is None and "too large" in item["image_flag"]
    assert len(json.dumps(item)) < 4096


async def test_large_bodies_are_paced() -> None:
    """Bursts up to the budget pass at once; past it, a push that would wait longer than
    the bound for its turn is told to push again later, without waiting."""
    from facepush.receiver.budget import Busy, ByteBudget

    budget = ByteBudget(10 * MIB, wait_s=0.5, rate=10 * MIB)
    assert await budget.acquire(10 * MIB) == 10 * MIB  # the burst
    budget.release(10 * MIB)
    started = time.monotonic()
    with pytest.raises(Busy, match="10 MiB/s; push again later"):
        await budget.acquire(10 * MIB)  # its turn would come in about 1 s
    assert time.monotonic() - started < 0.5
    assert budget.free == 10 * MIB
    assert await budget.acquire(MIB) == MIB  # a small one fits the pace after a 0.1 s wait
