"""The brokers stopped while terminals keep pushing: ingest goes on unhindered (every push
acknowledged, none answered 503), the sinks say why in last_error, and once the brokers
are back every record arrives, in order per terminal, JetStream holding each once.

Private brokers of this test's own (a Mosquitto that persists sessions, a nats-server
whose JetStream store survives its restart), never the machine's shared ones. The
outage lasts until 1,000 pushes were acknowledged meanwhile (progress, not a clock)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.faults.forwarding import check_order, interleaved, push_all, wait_until, write_config
from tests.forward.brokers import PrivateBroker
from tests.forward.consumers import NatsConsumer, PersistentMqttConsumer
from tests.support.servers import http_json, key_of, report, start_receiver

RECORDS = 3000
DURING = 1000  # pushes acknowledged while the brokers are down
DEVICES = 20


async def test_brokers_down_while_pushes_continue(tmp_path: Path) -> None:
    mqtt_broker = PrivateBroker("mqtt", tmp_path / "mqtt", unbounded_queues=True)
    nats_broker = PrivateBroker("nats", tmp_path / "nats")
    mqtt_broker.start()
    nats_broker.start()
    mqtt, nats = PersistentMqttConsumer(mqtt_broker.url), NatsConsumer(nats_broker.url)
    await mqtt.start()
    config = write_config(
        tmp_path / "receiver.toml", [mqtt.settings("mqtt"), nats.settings("nats")]
    )
    receiver, url = start_receiver(tmp_path, "--config", str(config))
    records = interleaved(RECORDS, DEVICES, seed=31)
    keys = [key_of(r) for r in records]
    pushed: dict[str, int] = {}
    started = time.monotonic()
    pushing = asyncio.create_task(push_all([url], records, pushers=DEVICES, counts=pushed))
    try:

        async def forwarding() -> bool:
            await nats.refresh()
            return len(mqtt.keys()) >= 300 and len(nats.keys()) >= 300

        await wait_until(forwarding, 60, "300 forwarded to each sink")
        await asyncio.to_thread(mqtt_broker.stop)
        await asyncio.to_thread(nats_broker.stop)
        down_at, acked_at_stop = time.monotonic(), pushed["acked"]

        async def pushed_meanwhile() -> bool:
            return pushed["acked"] >= acked_at_stop + DURING

        await wait_until(pushed_meanwhile, 120, f"{DURING} pushes acknowledged meanwhile")
        outage_s = time.monotonic() - down_at
        sinks = {s["name"]: s for s in http_json(url + "/api/forward")["data"]["items"]}
        await asyncio.to_thread(mqtt_broker.start)
        await asyncio.to_thread(nats_broker.start)
        await asyncio.wait_for(pushing, 120)
        await mqtt.wait_keys(set(keys), timeout=120)
        await nats.wait_keys(set(keys), timeout=120)
        await nats.refresh()
    finally:
        pushing.cancel()
        receiver.stop()
        await mqtt.stop()
        await nats.stop()
        mqtt_broker.stop()
        nats_broker.stop()
    before_rate = acked_at_stop / (down_at - started)
    report(
        "brokers down while pushing",
        records=RECORDS,
        outage_s=round(outage_s, 2),
        pushes_acked_during_outage=DURING,
        push_rate_during_outage=round(DURING / outage_s),
        push_rate_before=round(before_rate),
        answered_503=pushed["unavailable"],
        last_error_mqtt=sinks["mqtt"]["last_error"],
        last_error_nats=sinks["nats"]["last_error"],
        jetstream_holds=nats.held,
        mqtt_arrivals=len(mqtt.arrivals),
    )
    assert pushed["unavailable"] == 0  # ingest never refused for the brokers' sake
    assert pushed["acked"] == RECORDS
    for name in ("mqtt", "nats"):
        assert sinks[name]["last_error"], name  # said why, in words
        assert sinks[name]["pending"] > 0
    for consumer in (mqtt, nats):
        arrived = [a.key for a in consumer.arrivals]
        assert set(arrived) == set(keys), consumer.kind
        check_order(arrived, records, consumer.kind)
    assert nats.held == RECORDS
