"""What the brokers themselves decide: credentials refused (a named runtime error in the
sink's last_error, never a silent drop), and the JetStream stream created when missing
with subjects `{topic}.>`; and the bad input refused at start-up by name."""

from __future__ import annotations

from pathlib import Path

import nats
import pytest
from click.testing import CliRunner

from facepush.cli import main
from facepush.receiver import Store
from facepush.receiver.forward.service import Forwarding
from facepush.receiver.forward.settings import ForwardConfigError, ForwardSettings
from tests.forward.brokers import SHARED_NATS, PrivateBroker
from tests.forward.consumers import MqttConsumer, NatsConsumer
from tests.support.forward import eventually, forwarding, records


async def test_a_broker_refusing_the_credentials_is_named_in_last_error(
    store: Store, tmp_path: Path
) -> None:
    broker = PrivateBroker("mqtt", tmp_path / "mqtt", password=("facepush", "right-pw"))
    broker.start()
    store.ingest(records(5))
    try:
        wrong = ForwardSettings(
            name="wrong", url=f"mqtt://facepush:wrong-pw@127.0.0.1:{broker.port}"
        )
        right = ForwardSettings(
            name="right", url=f"mqtt://facepush:right-pw@127.0.0.1:{broker.port}"
        )
        async with forwarding(store, wrong, right) as fwd:
            refused = await eventually(lambda: fwd.sink_status("wrong")["last_error"])
            await eventually(lambda: fwd.sink_status("right")["forwarded"] == 5)
            status = fwd.sink_status("wrong")
    finally:
        broker.stop()
    print(f"credentials refused: {refused!r}")
    assert "the broker refused the credentials (not authorised)" in refused
    assert "wrong-pw" not in refused and "facepush:***@" in refused  # never the password
    assert (status["forwarded"], status["pending"]) == (0, 5)
    assert status["url"] == f"mqtt://facepush:***@127.0.0.1:{broker.port}"


async def test_the_stream_is_created_when_missing_with_the_topic_subjects(store: Store) -> None:
    consumer = NatsConsumer()
    store.ingest(records(3))
    try:
        async with forwarding(store, consumer.settings("bus", topic=f"{consumer.tag}.fp")):
            nc = await nats.connect(SHARED_NATS)
            try:
                js = nc.jetstream()
                info = await eventually_async(lambda: js.stream_info(consumer.stream))
                assert info.config.subjects == [f"{consumer.tag}.fp.>"]
                await eventually_count(js, consumer.stream, 3)
            finally:
                await nc.close()
    finally:
        await consumer.stop()


async def eventually_async(call: object, timeout: float = 20.0) -> object:
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            return await call()  # type: ignore[operator]
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


async def eventually_count(js: object, stream: str, count: int) -> None:
    async def counted() -> int:
        info = await js.stream_info(stream)  # type: ignore[attr-defined]
        assert info.state.messages == count
        return count

    await eventually_async(counted)


def test_bad_sinks_are_refused_at_start_by_name(store: Store) -> None:
    with pytest.raises(
        ForwardConfigError, match=r"forward\[2\]\.url: unknown scheme in 'amqp://x'"
    ):
        Forwarding(
            [ForwardSettings(name="a", url="mqtt://x"), ForwardSettings(name="b", url="amqp://x")],
            store,
        )
    with pytest.raises(ForwardConfigError, match="forward: .* both named 'a'"):
        Forwarding(
            [ForwardSettings(name="a", url="mqtt://x"), ForwardSettings(name="a", url="nats://y")],
            store,
        )
    with pytest.raises(ValueError, match="homeassistant: Home Assistant discovery needs an mqtt"):
        ForwardSettings(name="a", url="http://x", homeassistant=True)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--forward", "amqp://u:pw@x"],
            "--forward 'amqp://u:***@x': unknown scheme in 'amqp://u:***@x'",
        ),
        (
            ["--forward", "mqtt://x", "--forward", "mqtt://x"],
            "tables 1 and 2 are both named 'mqtt-x'",
        ),
        (["--forward", "http://"], "--forward 'http://': 'http://' has no host"),
    ],
)
def test_bad_forward_options_are_refused_by_name(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["receiver", "serve", *args])
    assert result.exit_code == 1
    assert message in result.stderr, result.stderr


def test_forward_urls_name_their_sinks() -> None:
    assert ForwardSettings.from_url("mqtt://u:p@127.0.0.1:1883").name == "mqtt-127.0.0.1-1883"
    assert (
        ForwardSettings.from_url("https://hr.example/hooks/in").name
        == "webhook-hr.example-hooks-in"
    )
    assert ForwardSettings.from_url("nats://127.0.0.1").kind == "nats"


async def test_mqtt_consumer_sees_the_receivers_availability(store: Store) -> None:
    consumer = MqttConsumer()
    await consumer.start()
    try:
        async with forwarding(store, consumer.settings("avail")) as fwd:
            store.ingest(records(2, devices=1))
            fwd.wake()
            await consumer.wait_keys({r.key for r in records(2, devices=1)})
            online = consumer.on(f"{consumer.tag}/DEV0/availability")
            assert [m.payload for m in online] == [b"online"]
        # A clean stop says offline itself (the last will is for a lost connection).
        await eventually(
            lambda: (
                [m.payload for m in consumer.on(f"{consumer.tag}/availability")][-1:]
                == [b"offline"]
            )
        )
        assert consumer.on(f"{consumer.tag}/DEV0/availability")[-1].payload == b"offline"
    finally:
        await consumer.stop()
