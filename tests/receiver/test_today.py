"""`today` on /api/devices: records received per terminal since local midnight, from a
per-day counter the writer keeps (both backends), fast however many records are stored."""

from __future__ import annotations

import json
import statistics
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from facepush.protocol.times import now_ms
from facepush.receiver import ReceiverSettings, Store, create_app, open_store, schema
from facepush.receiver.days import bounds, day_of, today
from facepush.receiver.errors import ReceiverConfigError
from facepush.receiver.store import EventFilter, Incoming
from tests.receiver.processes import start_receiver
from tests.support.old_schema import v1_database
from tests.support.receiver import Serve, make
from tests.support.records import alarm, recognition

DAY = "2024-03-10"


@pytest.fixture
def india() -> Iterator[None]:
    """The process's local time zone is UTC+05:30 (midnight is not a UTC hour boundary)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "IST-5:30")
        time.tzset()
        yield
    time.tzset()


def lean(device: str, received_at: int) -> Incoming:
    """A small recognition row, for filling a store quickly."""
    return Incoming(
        key=f"r:{uuid.uuid4()}",
        type=0,
        device=device,
        source="127.0.0.1",
        occurred_at=received_at,
        received_at=received_at,
        late=False,
        user_id="5",
        passed=True,
        trace_id=None,
        status=None,
        code=None,
        fields='{"uuid": "x"}',
    )


def todays(store: Store, day: str | None = None) -> dict[str, int]:
    return {d["serial"]: d["today"] for d in store.devices(day)}


def test_local_day_bounds(india: None) -> None:
    start, end = bounds(DAY)
    assert start == 1_710_009_000_000  # 2024-03-09 18:30 UTC is midnight at UTC+05:30
    assert end - start == 86_400_000
    assert (
        day_of(start - 1) == "2024-03-09" and day_of(start) == DAY and day_of(end) == "2024-03-11"
    )


def test_today_counts_records_received_since_local_midnight(store: Store, india: None) -> None:
    start, end = bounds(DAY)
    items = [
        make(recognition("before", device="A"), start - 1),
        make(recognition("first", device="A"), start),
        make(recognition("last", device="A"), end - 1),
        make(recognition("after", device="A"), end),
        make(recognition("b-1", device="B"), start + 5),
        make(recognition("b-2", device="B"), start + 6),
    ]
    with_serial = alarm("T-1", 1, start + 7)
    with_serial["data"]["deviceSN"] = "B"  # a firmware that names the terminal in alarms
    items.append(make(with_serial, start + 7))
    items.append(make(alarm("T-2", 1, start + 8), start + 8))  # no serial: no terminal
    store.ingest(items)  # one batch across two midnights
    store.ingest([make(recognition("first", device="A"), start + 9)])  # a duplicate
    assert todays(store, DAY) == {"A": 2, "B": 3}
    assert todays(store, "2024-03-09") == {"A": 1, "B": 0}
    assert todays(store, "2024-03-11") == {"A": 1, "B": 0}
    assert todays(store) == {"A": 0, "B": 0}  # the real today: nothing received
    store.ingest([make(recognition("later", device="B"), start + 3_600_000)])
    assert todays(store, DAY) == {"A": 2, "B": 4}


async def test_devices_api_has_today(serve: Serve) -> None:
    rx = await serve()
    for uid in ("t-1", "t-2", "t-3"):
        await rx.push(recognition(uid, device="D1"))
    # Received today, though it happened two days ago (a backlog): counted, and late.
    await rx.push(recognition("t-old", device="D2", timestamp=int(time.time()) - 2 * 86_400))
    await rx.push(recognition("t-1", device="D1"))  # a duplicate is not a record
    rx.store.ingest([lean("D2", bounds(today())[0] - 1)])  # received before local midnight
    devices = {d["serial"]: d for d in (await rx.get("/api/devices"))["data"]["items"]}
    assert devices["D1"]["today"] == 3 and devices["D1"]["recognitions"] == 3
    assert devices["D2"]["today"] == 1 and devices["D2"]["recognitions"] == 2
    assert devices["D2"]["late"] == 1


def test_upgrade_counts_what_was_received_today(db_url: str, backend: str, pg_dsn: str) -> None:
    midnight = bounds(today())[0]
    stored = [lean("OLD1", midnight - 1), lean("OLD1", midnight), lean("OLD1", now_ms())]
    stored += [lean("OLD2", midnight - 10_000)]
    v1_database(db_url, backend, pg_dsn, stored)
    store = open_store(db_url)
    try:
        assert store.schema_version() == schema.LATEST
        assert todays(store) == {"OLD1": 2, "OLD2": 0}
        # Every record stored before version 4 came by push.
        assert {row.origin for row in store.events(EventFilter(), None, 10)} == {"push"}
        store.ingest([lean("OLD2", now_ms())])
        assert todays(store) == {"OLD1": 2, "OLD2": 1}
    finally:
        store.close()


def other_zone() -> ZoneInfo:
    """A zone whose date now is not the machine's: a count by that date can only come from
    the zone. (UTC+14 and UTC-11 are 25 hours apart: one of them differs from any zone.)"""
    for name in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):
        zone = ZoneInfo(name)
        if today(zone) != today():
            return zone
    raise AssertionError("UTC+14 and UTC-11 share the machine's date")


# Midnight starting DAY, in UTC+14 (2024-03-09 10:00 UTC) and UTC-11 (2024-03-10 11:00 UTC).
MIDNIGHTS = {"Pacific/Kiritimati": 1_709_978_400_000, "Pacific/Pago_Pago": 1_710_068_400_000}


def test_today_in_a_zone_that_is_not_the_machines(db_url: str) -> None:
    zone = other_zone()
    start, end = bounds(DAY, zone)
    assert start == MIDNIGHTS[str(zone)] and end - start == 86_400_000
    store = open_store(db_url, zone=zone)
    try:
        store.ingest([lean("K", start - 1), lean("K", start), lean("K", end - 1), lean("K", end)])
        assert todays(store, DAY) == {"K": 2}  # counted by the zone's days, not the machine's
        assert todays(store, "2024-03-09") == {"K": 1}
        # Around the zone's midnight today, and now: by the machine's date (another) at most
        # one of these three would be today's.
        midnight = bounds(today(zone), zone)[0]
        store.ingest([lean("N", midnight - 1), lean("N", midnight), lean("N", now_ms())])
        assert todays(store) == {"K": 0, "N": 2}
    finally:
        store.close()


def test_an_app_refuses_a_store_of_another_zone(store: Store) -> None:
    with pytest.raises(ReceiverConfigError, match="the store counts days in"):
        create_app(ReceiverSettings(db=store.url, timezone="Pacific/Kiritimati"), store)


async def test_receiver_serve_timezone_decides_today(sqlite_url: str, tmp_path: Path) -> None:
    zone = other_zone()
    seeded = open_store(sqlite_url, zone=zone)
    try:
        seeded.ingest([lean("TZ1", now_ms()), lean("TZ1", now_ms())])  # today in `zone`
    finally:
        seeded.close()
    proc, url = start_receiver(
        tmp_path / "receiver.log", "--db", sqlite_url, "--timezone", str(zone)
    )
    try:
        async with aiohttp.ClientSession() as session, session.get(url + "/api/devices") as resp:
            [device] = json.loads(await resp.read())["data"]["items"]
        assert device["serial"] == "TZ1" and device["today"] == 2
    finally:
        proc.stop()


def test_devices_stays_fast_with_100000_records(store: Store) -> None:
    """`today` is read from one counter row per terminal, not counted from the events: with
    100,000 records received today (and more from earlier days) /api/devices' query costs
    what it costs with ten."""
    midnight = bounds(today())[0]
    now = now_ms()
    step = max(1, (now - midnight) // 100_000)
    items = [
        lean(f"FAST{i % 40:03d}", midnight + (i * step) % (now - midnight + 1))
        for i in range(100_000)
    ]
    items += [lean(f"FAST{i % 40:03d}", midnight - 1 - i) for i in range(10_000)]
    for begin in range(0, len(items), 512):
        store.ingest(items[begin : begin + 512])
    counts = todays(store)
    assert len(counts) == 40 and sum(counts.values()) == 100_000
    timings = []
    for _ in range(20):
        started = time.perf_counter()
        store.devices()
        timings.append(time.perf_counter() - started)
    median_ms = statistics.median(timings) * 1000
    print(f"devices() with 110,000 records: median {median_ms:.2f} ms")
    assert median_ms < 25, f"devices() took {median_ms:.1f} ms"
