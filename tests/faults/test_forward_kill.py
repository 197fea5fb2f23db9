"""`kill -9` of the receiver 5 times while it forwards 5,000 records to an MQTT broker,
NATS JetStream and a webhook at once: every record arrives at every sink (counted by key),
in order of receipt per terminal, and JetStream holds each exactly once.

Terminals push all the while (re-sending until acknowledged, through the restarts), and
the kills are driven by progress: the k-th once the fastest sink got k/7 of the records,
then a restart on the same port, data and config."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.faults.forwarding import check_order, interleaved, push_all, wait_until, write_config
from tests.forward.brokers import PrivateBroker
from tests.forward.consumers import MqttConsumer, NatsConsumer, WebhookConsumer
from tests.support.processes import free_port
from tests.support.servers import key_of, report, start_receiver

KILLS = 5
DEVICES = 20
RECORDS = 5000


async def test_kill_minus_nine_while_forwarding_to_three_sinks(tmp_path: Path) -> None:
    # A private Mosquitto that never drops messages for its subscriber: the consumer shares
    # this test's event loop with the pushers and may fall behind (the shared broker's
    # default drops QoS 1 messages beyond 1000 queued for one subscriber).
    broker = PrivateBroker("mqtt", tmp_path / "mqtt", unbounded_queues=True)
    broker.start()
    sinks = [MqttConsumer(broker.url), NatsConsumer(), WebhookConsumer()]
    for sink in sinks:
        await sink.start()
    config = write_config(
        tmp_path / "receiver.toml",
        [sinks[0].settings("mqtt"), sinks[1].settings("nats"), sinks[2].settings("hook")],
    )
    port = free_port()
    receiver, url = start_receiver(tmp_path, "--config", str(config), port=port)
    records = interleaved(RECORDS, DEVICES, seed=12)
    keys = [key_of(r) for r in records]
    at_kill: list[tuple[int, ...]] = []  # (acknowledged pushes, then distinct per sink)
    pushed: dict[str, int] = {}
    pushing = asyncio.create_task(push_all([url], records, pushers=DEVICES, counts=pushed))
    try:
        for kill in range(KILLS):
            threshold = (kill + 1) * len(records) // (KILLS + 2)

            async def progressed(threshold: int = threshold) -> bool:
                for sink in sinks:
                    await sink.refresh()
                return max(len(s.keys()) for s in sinks) >= threshold

            await wait_until(progressed, 60, f"{threshold} forwarded to one sink")
            receiver.kill9()
            at_kill.append((pushed["acked"], *(len(s.keys()) for s in sinks)))
            receiver, url = await asyncio.to_thread(
                start_receiver, tmp_path, "--config", str(config), port=port
            )
        await asyncio.wait_for(pushing, 120)
        for sink in sinks:
            await sink.wait_keys(set(keys), timeout=120)
        receiver.stop()
        arrivals = {s.kind: [a.key for a in s.arrivals] for s in sinks}
        nats = sinks[1]
        assert isinstance(nats, NatsConsumer)
        await nats.refresh()
        held = nats.held
    finally:
        pushing.cancel()
        receiver.stop()
        for sink in sinks:
            await sink.stop()
        broker.stop()
    report(
        "kill -9 while forwarding",
        kills=KILLS,
        records=len(keys),
        acked_and_distinct_mqtt_nats_webhook_at_each_kill=at_kill,
        pushes=pushed["attempts"],
        arrivals_mqtt=len(arrivals["mqtt"]),
        arrivals_webhook=len(arrivals["webhook"]),
        repeats_mqtt=len(arrivals["mqtt"]) - len(set(arrivals["mqtt"])),
        repeats_webhook=len(arrivals["webhook"]) - len(set(arrivals["webhook"])),
        jetstream_holds=held,
    )
    assert all(counts[0] < len(keys) for counts in at_kill)  # killed mid-way, each time
    for kind, arrived in arrivals.items():
        assert set(arrived) == set(keys), kind
        check_order(arrived, records, kind)
    assert held == len(keys)  # exactly once: the stream dropped every repeat
    assert sorted(arrivals["nats"]) == sorted(keys)
