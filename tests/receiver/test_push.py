"""The push endpoint over a real socket, on both backends: acceptance, refusals with named
errors and quarantine, size limit, duplicates under concurrency, images, lateness, outages."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from hashlib import sha256
from pathlib import Path
from typing import Any

import psycopg

from facepush.protocol import decode_push
from facepush.receiver import Store
from tests.support.receiver import Serve, metric_value
from tests.support.records import body, jpeg, recognition

SUCCESS = {"code": 200, "msg": "success", "message": "success", "data": {}}


async def test_vendor_examples_are_accepted_as_printed(serve: Serve, vectors: Path) -> None:
    rx = await serve()
    files = sorted((vectors / "push").glob("*.json"))
    assert files
    for path in files:
        status, reply = await rx.push(path.read_bytes())
        assert (status, reply) == (200, SUCCESS), path.name
        key = decode_push(path.read_bytes()).key
        item = (await rx.get(f"/api/events/{key}"))["data"]
        raw = json.loads(path.read_text().replace(",\n}", "\n}"))
        assert item["type"] == raw["type"]
        assert item["key"] == key
        for field in ("uuid", "deviceSN", "trace_id", "status", "event_time", "firmware"):
            if field in raw["data"]:
                assert item[field] == raw["data"][field], (path.name, field)
        assert "rgb_image" not in item and "alarm_photo" not in item
    stats = (await rx.get("/api/stats"))["data"]
    assert stats["recognitions"] + stats["alarms"] == len(files)


async def test_alarm_photo_is_stored_and_served(serve: Serve, vectors: Path) -> None:
    rx = await serve()
    path = vectors / "push" / "alarm-cleared-numeric-user.json"
    assert (await rx.push(path.read_bytes()))[0] == 200
    item = (await rx.get("/api/events", type="alarm"))["data"]["items"][0]
    assert item["user_id"] == "5"  # ruling 6: stored as text
    async with rx.session.get(rx.url + item["image_url"]) as resp:
        assert resp.status == 200 and resp.content_type == "image/jpeg"
        photo = json.loads(path.read_text())["data"]["alarm_photo"]
        assert await resp.read() == base64.b64decode(photo)


async def test_every_bad_input_class_is_named_and_quarantined(
    serve: Serve, vectors: Path, store: Store
) -> None:
    rx = await serve()
    expected: dict[str, str] = json.loads((vectors / "invalid" / "expected.json").read_text())
    cases = {name: (vectors / "invalid" / name).read_bytes() for name in expected}
    extra = {
        "not-utf8": (b'{"type": 0, "data": {"uuid": "\xff"}}', "body: not valid UTF-8"),
        "empty": (b"", "body: not valid JSON"),
        "data-not-object": (b'{"type": 0, "data": 5}', "data: expected an object"),
    }
    for name, raw in cases.items():
        status, reply = await rx.push(raw)
        assert status == 400 and reply["code"] == 400, name
        assert reply["msg"] == expected[name] == reply["message"], name
    for name, (raw, text) in extra.items():
        status, reply = await rx.push(raw)
        assert status == 400 and reply["msg"].startswith(text), (name, reply)
    kept = store.quarantine(None, 100)
    assert len(kept) == len(cases) + len(extra)
    # Each body is below the 4 KiB prefix: kept whole, with its size and sha256.
    assert sorted(r.prefix for r in kept) == sorted(
        [*cases.values(), *(r for r, _ in extra.values())]
    )
    assert all(r.size == len(r.prefix) and r.sha256 == sha256(r.prefix).hexdigest() for r in kept)
    assert {r.reason for r in kept} == {"bad_request"}
    assert {r.error for r in kept} >= set(expected.values())
    stats = (await rx.get("/api/stats"))["data"]
    assert stats["quarantined"] == len(kept) and stats["recognitions"] == 0
    listed = (await rx.get("/api/quarantine", limit=3))["data"]
    assert len(listed["items"]) == 3 and listed["next"]
    first = listed["items"][0]
    assert base64.b64decode(first["prefix_base64"]) == kept[0].prefix
    assert (first["size"], first["sha256"], first["reason"]) == (
        kept[0].size,
        kept[0].sha256,
        "bad_request",
    )


async def test_oversize_body_is_refused_413_and_kept_truncated(serve: Serve, store: Store) -> None:
    rx = await serve(max_body=4096)
    big = body(recognition(image=jpeg(3, 64, noise=True)))
    assert len(big) > 4096
    status, reply = await rx.push(big)
    assert status == 413 and reply["code"] == 413
    assert "larger than the limit of 4096 bytes" in reply["msg"]

    async def chunks() -> Any:  # no Content-Length: the limit holds for chunked bodies too
        for i in range(0, len(big), 1000):
            yield big[i : i + 1000]

    async with rx.session.post(rx.url + "/Record", data=chunks()) as resp:
        assert resp.status == 413
    chunked, declared = store.quarantine(None, 10)  # newest first
    for row in (chunked, declared):
        assert row.truncated and row.prefix == big[:4096] and row.sha256 is None
    assert declared.size == len(big)  # its Content-Length: the rest was never read
    assert 4096 < chunked.size <= len(big)  # read until it was past the limit
    status, reply = await rx.push(recognition())  # a normal push still works
    assert status == 200


async def test_same_record_at_once_is_stored_once(serve: Serve) -> None:
    rx = await serve()
    record = recognition("same-uuid")
    replies = await asyncio.gather(*(rx.push(record) for _ in range(40)))
    assert all(r == (200, SUCCESS) for r in replies)
    stats = (await rx.get("/api/stats"))["data"]
    assert (stats["recognitions"], stats["duplicates"]) == (1, 39)
    assert len((await rx.get("/api/events"))["data"]["items"]) == 1


async def test_concurrent_pushes_share_commits(serve: Serve) -> None:
    rx = await serve()
    replies = await asyncio.gather(*(rx.push(recognition()) for _ in range(200)))
    assert all(status == 200 for status, _ in replies)
    text = await (await rx.session.get(rx.url + "/metrics")).text()
    commits = metric_value(text, "facepush_receiver_commits_total")
    assert (await rx.get("/api/stats"))["data"]["recognitions"] == 200
    assert commits < 200  # group commit: fewer transactions than records


async def test_broken_image_keeps_the_record_and_flags_it(serve: Serve) -> None:
    rx = await serve()
    not_b64 = recognition("bad-b64", image="***not base64***")
    not_jpeg = recognition("not-jpeg", image=base64.b64encode(b"GIF89a....").decode())
    for record in (not_b64, not_jpeg):
        assert (await rx.push(record))[0] == 200
    one = (await rx.get("/api/events/r:bad-b64"))["data"]
    two = (await rx.get("/api/events/r:not-jpeg"))["data"]
    assert one["image_url"] is None and one["image_flag"].startswith("broken: not valid base64")
    assert two["image_url"] is None and two["image_flag"].startswith("broken: not a JPEG")


async def test_snapshots_are_deduplicated(serve: Serve) -> None:
    rx = await serve()
    photo = jpeg(5)
    for _ in range(3):
        assert (await rx.push(recognition(image=photo)))[0] == 200
    items = (await rx.get("/api/events"))["data"]["items"]
    assert len({i["image_url"] for i in items}) == 1
    assert (await rx.get("/api/stats"))["data"]["images"] == 1


async def test_late_records_are_marked(serve: Serve) -> None:
    rx = await serve(late_after=60)
    now = int(time.time())
    await rx.push(recognition("fresh", timestamp=now))
    await rx.push(recognition("stale", timestamp=now - 120))
    await rx.push(recognition("stale-ms", timestamp=(now - 120) * 1000))  # ms, normalised
    fresh = (await rx.get("/api/events/r:fresh"))["data"]
    stale = (await rx.get("/api/events/r:stale"))["data"]
    stale_ms = (await rx.get("/api/events/r:stale-ms"))["data"]
    assert fresh["late"] is False and stale["late"] is True and stale_ms["late"] is True
    assert stale["occurred_at"] == stale_ms["occurred_at"] == (now - 120) * 1000
    assert abs(fresh["received_at"] - now * 1000) < 5_000
    devices = (await rx.get("/api/devices"))["data"]["items"]
    assert devices[0]["late"] == 2 and devices[0]["replaying"] is True


async def test_storage_outage_answers_503_then_recovers(
    serve: Serve, store: Store, backend: str, pg_dsn: str
) -> None:
    rx = await serve()
    assert (await rx.push(recognition()))[0] == 200
    if backend == "sqlite":
        writer: Any = store._writer  # type: ignore[attr-defined]
        pages = writer.execute("PRAGMA page_count").fetchone()[0]
        writer.execute(f"PRAGMA max_page_count = {pages}")  # the disk is now "full"
        status, reply = await rx.push(recognition("lost-1", image=jpeg(9, 64, noise=True)))
        writer.execute("PRAGMA max_page_count = 1073741823")
        assert "full" in reply["msg"]
    else:
        pid = store._writer.info.backend_pid  # type: ignore[attr-defined]
        with psycopg.connect(pg_dsn, autocommit=True) as conn:  # the server drops us
            conn.execute("SELECT pg_terminate_backend(%s)", [pid])
        status, reply = await rx.push(recognition("lost-1"))
    assert status == 503 and reply["code"] == 503 and "storage unavailable" in reply["msg"]
    status, _ = await rx.push(recognition("lost-1"))  # the terminal retries: now stored
    assert status == 200
    assert (await rx.get("/api/events/r:lost-1"))["data"]["uuid"] == "lost-1"
    text = await (await rx.session.get(rx.url + "/metrics")).text()
    assert "facepush_receiver_unavailable_total 1" in text


async def test_wrong_method_and_unknown_path_answer_in_the_envelope(serve: Serve) -> None:
    rx = await serve()
    status, reply = await rx.status_of("/Record")
    assert status == 405 and reply == {"code": 405, "msg": "Method Not Allowed", "data": None}
    status, reply = await rx.status_of("/api/nothing")
    assert status == 404 and reply["code"] == 404
