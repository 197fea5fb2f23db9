"""Identity and attribution (issue 10, item 5), on both backends: pushed fields never
override the receiver's own; an alarm's lifecycle is scoped to its sender; NUL cannot
collide with a literal `\\u0000`; a repeat with other content is acknowledged, counted and
kept in the quarantine."""

from __future__ import annotations

import time
from typing import Any

import aiohttp

from facepush.protocol import decode_push
from facepush.receiver import Store
from facepush.receiver.records import incoming
from facepush.receiver.store import Incoming, StoreOutcome
from tests.support.receiver import TIMEOUT, Serve, metric_value
from tests.support.records import alarm, body, recognition


async def test_pushed_fields_never_override_the_receivers_own(serve: Serve, store: Store) -> None:
    """Before: a recognition carrying `"type": 1, "code": 20003` was listed as a fire alarm,
    also under ?type=0."""
    rx = await serve()
    forged = recognition("forged", type=1, code=20003, key="r:other", received_at=0, late=True)
    assert (await rx.push(forged))[0] == 200
    item = (await rx.get("/api/events/r:forged"))["data"]
    assert (item["type"], item["key"], item["late"]) == (0, "r:forged", False)
    assert item["received_at"] > 0 and item["code"] == 20003  # not a receiver field: kept
    assert item["pushed_extra"] == {"type": 1, "key": "r:other", "received_at": 0, "late": True}
    as_recognitions = (await rx.get("/api/events", type="0"))["data"]["items"]
    assert [i["key"] for i in as_recognitions] == ["r:forged"]
    assert (await rx.get("/api/events", type="1"))["data"]["items"] == []
    assert (await rx.get("/api/alarms"))["data"]["items"] == []
    plain = recognition("plain")
    await rx.push(plain)
    assert "pushed_extra" not in (await rx.get("/api/events/r:plain"))["data"]


async def test_a_forged_clear_from_another_sender_does_not_clear_an_alarm(serve: Serve) -> None:
    rx = await serve()
    t = int(time.time() * 1000)
    assert (await rx.push(alarm("FIRE-1", 1, t)))[0] == 200  # from 127.0.0.1
    other = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    forged = body(alarm("FIRE-1", 3, t + 1))
    async with (
        aiohttp.ClientSession(connector=other, timeout=TIMEOUT) as forger,
        forger.post(rx.url + "/Record", data=forged) as resp,
    ):
        assert resp.status == 200
    alarms = (await rx.get("/api/alarms"))["data"]["items"]
    assert [(a["trace_id"], a["source"], a["state"]) for a in alarms] == [
        ("FIRE-1", "127.0.0.1", "raised"),  # open alarms first
        ("FIRE-1", "127.0.0.2", "cleared"),
    ]
    assert alarms[0]["description"] == "tamper" and alarms[1]["description"] is None
    assert (await rx.push(alarm("FIRE-1", 3, t + 2)))[0] == 200  # the real clear
    states = {a["source"]: a["state"] for a in (await rx.get("/api/alarms"))["data"]["items"]}
    assert states == {"127.0.0.1": "cleared", "127.0.0.2": "cleared"}


async def test_nul_is_refused_and_a_literal_backslash_u0000_is_its_own_key(
    serve: Serve, store: Store
) -> None:
    rx = await serve()
    status, reply = await rx.push(recognition("a\0"))
    assert status == 400 and reply["msg"].startswith(
        "data.uuid: holds the control character U+0000 (NUL)"
    )
    assert (await rx.push(recognition("a\\u0000")))[0] == 200
    assert store.event("r:a\\u0000") is not None
    status, reply = await rx.push(recognition("b", device="SN\0"))
    assert status == 400 and reply["msg"].startswith(
        "data.deviceSN: holds the control character U+0000"
    )
    assert store.stats()["recognitions"] == 1


async def test_a_repeat_with_other_content_is_acknowledged_counted_and_kept(
    serve: Serve, store: Store
) -> None:
    rx = await serve()
    first = recognition("twice", user_id="5")
    assert (await rx.push(first))[0] == 200
    assert (await rx.push(first))[0] == 200  # a plain re-send: a duplicate, no conflict
    other: dict[str, Any] = recognition("twice", user_id="6")
    status, reply = await rx.push(other)
    assert (status, reply["code"]) == (200, 200)  # the terminal must not retry forever
    stored = (await rx.get("/api/events/r:twice"))["data"]
    assert stored["user"]["user_id"] == "5"  # the first stays
    stats = (await rx.get("/api/stats"))["data"]
    assert (stats["duplicates"], stats["conflicts"]) == (2, 1)
    (kept,) = store.quarantine(None, 10)
    assert kept.reason == "conflict" and kept.error.startswith("r:twice: already stored")
    assert kept.prefix == body(other)
    text = await (await rx.session.get(rx.url + "/metrics")).text()
    assert metric_value(text, "facepush_receiver_conflicts_total") == 1


def test_a_conflict_within_one_batch(store: Store) -> None:
    from tests.support.receiver import make

    a, b = make(recognition("same", user_id="1")), make(recognition("same", user_id="2"))
    again = make(recognition("same", user_id="1"))
    assert store.ingest([a, b, again]) == [
        StoreOutcome.STORED,
        StoreOutcome.CONFLICT,
        StoreOutcome.DUPLICATE,
    ]


def test_the_same_record_with_its_fields_in_another_order_is_no_conflict(store: Store) -> None:
    from tests.support.receiver import make

    first = recognition("ordered")
    data = first["data"]
    reordered = {"type": 0, "data": dict(reversed(list(data.items())))}
    assert list(reordered["data"]) != list(data)
    assert store.ingest([make(first), make(reordered)]) == [
        StoreOutcome.STORED,
        StoreOutcome.DUPLICATE,
    ]


def test_a_record_from_history_and_its_push_are_duplicates_never_conflicts(store: Store) -> None:
    """History renders a pushed record with other fields (no image, fewer keys): whichever
    came first, the other is a plain duplicate."""
    from tests.support.receiver import make

    def history(record: dict[str, Any]) -> Incoming:
        push = decode_push(body(record))
        return incoming(
            push, source="10.0.0.7", received_at=1_000, late_after_ms=1, origin="history"
        )

    pushed, read = recognition("p", user_id="1"), recognition("h", user_id="1")
    assert store.ingest([make(pushed), history(read)]) == [StoreOutcome.STORED, StoreOutcome.STORED]
    later_read = history(recognition("p", user_id="1", mask=1))
    later_push = make(recognition("h", user_id="1", mask=1))
    assert store.ingest([later_read, later_push]) == [
        StoreOutcome.DUPLICATE,
        StoreOutcome.DUPLICATE,
    ]
    assert store.stats()["conflicts"] == 0
