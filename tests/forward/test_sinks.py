"""The forwarding guarantee, one suite run against every kind of sink (MQTT, NATS
JetStream, webhook) with a real consumer counting by key."""

from __future__ import annotations

from pathlib import Path

from facepush.receiver import Store
from facepush.receiver.records import row_item
from tests.forward.brokers import PrivateBroker
from tests.forward.consumers import Consumer, consumer
from tests.support.forward import alarms, eventually, forwarding, records
from tests.support.receiver import make
from tests.support.records import alarm, recognition


def _order_by_device(store: Store, keys: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key in keys:
        row = store.event(key)
        assert row is not None
        out.setdefault(row.device or row.source or "", []).append(key)
    return out


def _first_seen(arrivals: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for key in arrivals:
        seen.setdefault(key, None)
    return list(seen)


async def test_a_backlog_arrives_whole_in_order_and_once_per_key(
    kind: str, sink_consumer: Consumer, store: Store
) -> None:
    stored = records(300, devices=3) + alarms(20)
    store.ingest(stored)
    keys = [r.key for r in stored]
    async with forwarding(store, sink_consumer.settings("s1")) as fwd:
        await sink_consumer.wait_keys(set(keys))
        status = await eventually(lambda: (s := fwd.sink_status("s1"))["forwarded"] == 320 and s)
    arrived = [a.key for a in sink_consumer.arrivals]
    assert set(arrived) == set(keys)
    # In order of receipt per terminal (repeats aside: none expected here).
    assert _order_by_device(store, _first_seen(arrived)) == _order_by_device(store, keys)
    assert len(arrived) == len(keys)
    last = store.event(keys[-1])
    assert last is not None
    assert (status["position"], status["pending"], status["last_error"]) == (last.id, 0, None)
    # The message body is exactly the record as one item of /api/events.
    sample = next(a for a in sink_consumer.arrivals if a.key == keys[7])
    row = store.event(keys[7])
    assert row is not None and sample.item == row_item(row)
    assert sample.device == "DEV1" and sample.kind == "recognition"
    print(f"{kind}: {len(arrived)} arrivals of {len(keys)} records, position {status['position']}")


async def test_records_stored_while_running_follow_in_order(
    kind: str, sink_consumer: Consumer, store: Store
) -> None:
    async with forwarding(store, sink_consumer.settings("live")) as fwd:
        batches = [records(40, devices=2, start=n * 40) for n in range(3)]
        for batch in batches:
            store.ingest(batch)
            fwd.wake()  # what the writer's hook does
        keys = [r.key for batch in batches for r in batch]
        await sink_consumer.wait_keys(set(keys))
    arrived = _first_seen([a.key for a in sink_consumer.arrivals])
    assert _order_by_device(store, arrived) == _order_by_device(store, keys)


async def test_filters_types_and_late_skip(
    kind: str, sink_consumer: Consumer, store: Store
) -> None:
    on_time = alarms(5)
    late = [
        make(alarm(f"late-{n}", 1, event_time=1_700_000_000_000), received_at=1_700_003_600_000)
        for n in range(4)
    ]
    assert all(r.late for r in late)
    store.ingest(records(10) + on_time + late + records(3, start=100))
    settings = sink_consumer.settings("alarms", types=("alarm",), late="skip")
    async with forwarding(store, settings) as fwd:
        await sink_consumer.wait_keys({r.key for r in on_time})
        status = await eventually(lambda: (s := fwd.sink_status("alarms"))["pending"] == 0 and s)
        await eventually(lambda: fwd.sink_status("alarms")["skipped"] == 4, what="skipped == 4")
    assert sink_consumer.keys() == {r.key for r in on_time}
    assert status["position"] == store.event(records(1, start=102)[0].key).id  # type: ignore[union-attr]


async def test_a_sink_down_at_first_is_caught_up_with(
    kind: str, store: Store, tmp_path: Path
) -> None:
    broker = PrivateBroker(kind, tmp_path / "broker") if kind != "webhook" else None
    later = consumer(kind, broker.url if broker else None)
    store.ingest(records(50))
    try:
        async with forwarding(store, later.settings("late-sink")) as fwd:
            down = await eventually(lambda: (s := fwd.sink_status("late-sink"))["last_error"] and s)
            assert down["state"] in {"connecting", "retrying"}
            assert down["pending"] == 50 and down["forwarded"] == 0
            if broker is not None:
                broker.start()
            await later.start()
            await later.wait_keys({r.key for r in records(50)})
            await eventually(lambda: fwd.sink_status("late-sink")["last_error"] is None)
        print(f"{kind} down at first: {down['last_error']!r}; then all 50 arrived")
        assert "127.0.0.1" in down["last_error"]
    finally:
        await later.stop()
        if broker is not None:
            broker.stop()


async def test_a_record_sent_twice_is_counted_once_by_key(
    kind: str, sink_consumer: Consumer, store: Store
) -> None:
    """After a crash the records past the saved position go again: same key each time."""
    store.ingest([make(recognition("twice"))])
    async with forwarding(store, sink_consumer.settings("again")):
        await sink_consumer.wait_keys({"r:twice"})
    with store.write_transaction() as conn:  # type: ignore[attr-defined]
        conn.execute("UPDATE forward_positions SET id = 0")  # as if the save was lost
    async with forwarding(store, sink_consumer.settings("again")) as fwd:
        await eventually(lambda: fwd.sink_status("again")["pending"] == 0)
    await sink_consumer.refresh()
    keys = [a.key for a in sink_consumer.arrivals]
    assert set(keys) == {"r:twice"}
    expected = 1 if kind == "nats" else 2  # JetStream drops the repeat (Nats-Msg-Id)
    assert len(keys) == expected
