"""The query API on both backends: filters, cursor paging under concurrent inserts, stats,
devices, alarms, images, the CSV export, the event stream, metrics and health."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time

from facepush.protocol import decode_push
from facepush.receiver.records import incoming
from tests.support.receiver import Serve, metric_value
from tests.support.records import alarm, body, jpeg, recognition


async def test_filters(serve: Serve) -> None:
    rx = await serve()
    base = 1_700_000_000
    for i in range(12):
        record = recognition(
            f"u-{i}", device=f"D{i % 3}", user_id=str(i % 2), passed=i < 6, timestamp=base + i
        )
        assert (await rx.push(record))[0] == 200
    await rx.push(alarm("T-1", 1, (base + 100) * 1000))

    async def keys(**params: object) -> set[str]:
        items = (await rx.get("/api/events", **params))["data"]["items"]
        return {i["key"] for i in items}

    assert len(await keys()) == 13
    assert await keys(type="alarm") == {f"a:T-1:1:{(base + 100) * 1000}"}
    assert len(await keys(type="0")) == 12
    assert await keys(device="D0") == {"r:u-0", "r:u-3", "r:u-6", "r:u-9"}
    assert await keys(user_id="1", device="D1") == {"r:u-1", "r:u-7"}
    assert await keys(**{"pass": "false", "device": "D2"}) == {"r:u-8", "r:u-11"}
    assert await keys(since=(base + 10) * 1000) == {
        "r:u-10",
        "r:u-11",
        f"a:T-1:1:{(base + 100) * 1000}",
    }
    assert await keys(until=(base + 1) * 1000) == {"r:u-0", "r:u-1"}
    items = (await rx.get("/api/events"))["data"]["items"]
    assert items[0]["type"] == 1 and items[1]["uuid"] == "u-11"  # newest received first
    flat = items[1]
    assert flat["deviceSN"] == "D2" and flat["user"]["user_id"] == "1"
    assert {"received_at", "occurred_at", "late", "image_url"} <= set(flat)


async def test_bad_parameters_name_the_parameter(serve: Serve) -> None:
    rx = await serve()
    cases = {
        "type": {"type": "photo"},
        "pass": {"pass": "maybe"},
        "since": {"since": "yesterday"},
        "limit": {"limit": "0"},
        "cursor": {"cursor": "garbage!"},
    }
    for name, params in cases.items():
        status, reply = await rx.status_of("/api/events", params=params)
        assert status == 400 and reply["code"] == 400, name
        assert reply["msg"].startswith(f"{name}:"), reply
    status, reply = await rx.status_of("/api/events/r:none")
    assert status == 404 and reply["code"] == 404
    status, reply = await rx.status_of("/api/images/abc")
    assert status == 400 and reply["msg"].startswith("id:")
    status, reply = await rx.status_of("/api/images/" + "0" * 64)
    assert status == 404


async def test_cursor_paging_is_stable_under_concurrent_inserts(serve: Serve) -> None:
    rx = await serve()
    before = [f"old-{i}" for i in range(300)]
    for i in range(0, 300, 50):
        await asyncio.gather(*(rx.push(recognition(u)) for u in before[i : i + 50]))
    stop = asyncio.Event()

    async def writer() -> int:
        n = 0
        while not stop.is_set():
            await asyncio.gather(*(rx.push(recognition(f"new-{n}-{k}")) for k in range(5)))
            n += 1
        return n

    task = asyncio.create_task(writer())
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": "40", **({"cursor": cursor} if cursor else {})}
        data = (await rx.get("/api/events", **params))["data"]
        seen += [i["uuid"] for i in data["items"]]
        pages += 1
        await asyncio.sleep(0.01)  # let inserts land between pages
        cursor = data["next"]
        if cursor is None:
            break
    stop.set()
    rounds = await task
    assert rounds > 0 and pages >= 8
    assert len(seen) == len(set(seen))  # nothing twice
    assert set(before) <= set(seen)  # nothing that existed is skipped
    assert all(u.startswith(("old-", "new-")) for u in seen)


async def test_limit_up_to_500_is_honoured(serve: Serve) -> None:
    rx = await serve()
    for _i in range(0, 520, 65):
        await asyncio.gather(*(rx.push(recognition()) for _ in range(65)))
    data = (await rx.get("/api/events", limit=500))["data"]
    assert len(data["items"]) == 500 and data["next"]
    rest = (await rx.get("/api/events", limit=500, cursor=data["next"]))["data"]
    assert len(rest["items"]) == 20 and rest["next"] is None
    assert len((await rx.get("/api/events"))["data"]["items"]) == 100


async def test_stats_devices_and_alarms(serve: Serve) -> None:
    rx = await serve()
    await rx.push(recognition("a", device="D1"))
    await rx.push(recognition("a", device="D1"))
    await rx.push(recognition("b", device="D2", image=jpeg(1)))
    t = int(time.time() * 1000)
    for record in (
        alarm("X", 1, t),
        alarm("X", 2, t + 1),
        alarm("Y", 1, t - 5),
        alarm("Y", 3, t + 2),
    ):
        await rx.push(record)
    stats = (await rx.get("/api/stats"))["data"]
    assert stats == {
        "recognitions": 2,
        "alarms": 4,
        "duplicates": 1,
        "conflicts": 0,
        "devices": 2,
        "images": 1,
        "quarantined": 0,
        "quarantine_dropped": 0,
    }
    devices = {d["serial"]: d for d in (await rx.get("/api/devices"))["data"]["items"]}
    assert set(devices) == {"D1", "D2"}
    assert devices["D1"]["recognitions"] == 1 and devices["D1"]["replaying"] is False
    assert devices["D1"]["first_seen"] <= devices["D1"]["last_seen"]
    assert devices["D1"]["last_source"] == "127.0.0.1"
    alarms = (await rx.get("/api/alarms"))["data"]["items"]
    assert [(a["trace_id"], a["state"]) for a in alarms] == [
        ("X", "clear_failed"),
        ("Y", "cleared"),
    ]
    assert alarms[0]["raised_at"] == t and alarms[0]["clear_failed_at"] == t + 1
    assert alarms[1]["cleared_at"] == t + 2 and alarms[1]["reports"] == 2


async def test_csv_export_matches_the_events(serve: Serve) -> None:
    rx = await serve()
    await rx.push(recognition("c-1", device="D1", extra_field='kept, with "quotes"'))
    await rx.push(recognition("c-2", device="D2", image=jpeg(2)))
    await rx.push(alarm("T", 1, 1_700_000_000_000))
    async with rx.session.get(rx.url + "/api/export.csv") as resp:
        assert resp.status == 200 and resp.content_type == "text/csv"
        rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert [r["key"] for r in rows] == ["a:T:1:1700000000000", "r:c-2", "r:c-1"]
    assert (
        rows[2]["device"] == "D1" and rows[2]["user_name"] == "王五" and rows[2]["pass"] == "true"
    )
    assert json.loads(rows[2]["fields"])["extra_field"] == 'kept, with "quotes"'
    assert rows[1]["image_url"].startswith("/api/images/")
    assert rows[0]["trace_id"] == "T" and rows[0]["status"] == "1"
    async with rx.session.get(rx.url + "/api/export.csv", params={"device": "D2"}) as resp:
        assert [r["key"] for r in csv.DictReader(io.StringIO(await resp.text()))] == ["r:c-2"]


async def test_stream_sends_each_stored_record(serve: Serve) -> None:
    rx = await serve(keepalive_s=0.2)
    async with rx.session.get(rx.url + "/api/stream") as resp:
        assert resp.status == 200 and resp.content_type == "text/event-stream"
        await asyncio.wait_for(resp.content.readuntil(b"\n\n"), 5)  # connected
        await rx.push(recognition("s-1"))
        await rx.push(recognition("s-1"))  # a duplicate is not a new record
        await rx.push(alarm("S", 1, 1_700_000_000_000))
        events: list[dict[str, object]] = []
        comments = 0
        while len(events) < 2 or comments < 1:
            chunk = (await asyncio.wait_for(resp.content.readuntil(b"\n\n"), 5)).decode()
            if chunk.startswith(":"):
                comments += 1
                continue
            name, data = chunk.strip().split("\n")
            assert name == "event: record"
            events.append(json.loads(data.removeprefix("data: ")))
    assert [e["key"] for e in events] == ["r:s-1", "a:S:1:1700000000000"]
    stored = (await rx.get("/api/events/r:s-1"))["data"]
    assert events[0] == stored


async def test_metrics_and_health(serve: Serve) -> None:
    rx = await serve()
    await rx.push(recognition("m"))
    await rx.push(recognition("m"))
    await rx.push(b"nope")
    async with rx.session.get(rx.url + "/metrics") as resp:
        text = await resp.text()
        assert resp.content_type == "text/plain"
    assert metric_value(text, "facepush_receiver_received_total") == 3
    assert metric_value(text, "facepush_receiver_stored_total") == 1
    assert metric_value(text, "facepush_receiver_duplicates_total") == 1
    assert metric_value(text, "facepush_receiver_quarantined_total") == 1
    assert 'facepush_receiver_refused_total{reason="bad_request"} 1' in text
    assert metric_value(text, "facepush_receiver_commit_seconds_count") >= 1
    assert (await rx.get("/healthz"))["data"] == {"store": "ok"}


async def test_retention_purges_old_snapshots_and_keeps_records(serve: Serve) -> None:
    rx = await serve(keep_images=1, purge_interval_s=0.05)
    old_ms = int(time.time() * 1000) - 3 * 86_400_000
    old = incoming(
        decode_push(body(recognition("old", image=jpeg(1)))),
        source="127.0.0.1",
        received_at=old_ms,
        late_after_ms=300_000,
    )
    rx.store.ingest([old])
    await rx.push(recognition("new", image=jpeg(2)))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        item = (await rx.get("/api/events/r:old"))["data"]
        if item["image_url"] is None:
            break
        await asyncio.sleep(0.05)
    assert item["image_url"] is None and item["image_flag"].startswith("purged: older than 1 days")
    status, _ = await rx.status_of(f"/api/images/{old.image_id}")
    assert status == 404
    fresh = (await rx.get("/api/events/r:new"))["data"]
    async with rx.session.get(rx.url + fresh["image_url"]) as resp:
        assert resp.status == 200 and await resp.read() == jpeg(2)
    assert (await rx.get("/api/stats"))["data"]["recognitions"] == 2
