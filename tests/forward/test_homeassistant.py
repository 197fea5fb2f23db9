"""Home Assistant MQTT discovery, checked against the documented format (the MQTT
integration's discovery section, and the `event` and `image` MQTT platforms), on the
machine's Mosquitto with a real subscriber; and a replayed backlog that fires nothing."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest

from facepush.receiver import Store
from tests.forward.consumers import MqttConsumer
from tests.support.forward import eventually, forwarding
from tests.support.receiver import make
from tests.support.records import alarm, jpeg, recognition

# Every configuration key the documentation lists for each platform (discovery accepts
# unknown keys but ignores them: a misspelt key would silently do nothing).
_AVAILABILITY = {"availability", "availability_mode", "availability_template", "availability_topic"}
_COMMON = _AVAILABILITY | {
    "device",
    "enabled_by_default",
    "encoding",
    "entity_category",
    "icon",
    "json_attributes_template",
    "json_attributes_topic",
    "name",
    "object_id",
    "origin",
    "unique_id",
}
DOCUMENTED = {
    "event": _COMMON
    | {"device_class", "event_types", "payload_available", "payload_not_available", "qos"}
    | {"state_topic", "value_template"},
    "image": _COMMON
    | {"content_type", "image_encoding", "image_topic", "url_template"}
    | {"url_topic"},
}
DEVICE_KEYS = {
    "configuration_url",
    "connections",
    "hw_version",
    "identifiers",
    "manufacturer",
    "model",
    "name",
    "suggested_area",
    "sw_version",
    "via_device",
}
_ID = re.compile(r"[a-zA-Z0-9_-]+")


@pytest.fixture
async def mqtt() -> Any:
    consumer = MqttConsumer()
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()


def configs(mqtt: MqttConsumer) -> dict[str, dict[str, Any]]:
    """The latest non-empty discovery config on each config topic."""
    out: dict[str, dict[str, Any]] = {}
    for message in mqtt.messages:
        topic = str(message.topic)
        if topic.startswith(mqtt.prefix + "/") and topic.endswith("/config") and message.payload:
            out[topic] = json.loads(bytes(message.payload))  # type: ignore[arg-type]
    return out


def check_config(prefix: str, topic: str, config: dict[str, Any]) -> str:
    """One discovery message as the documentation requires it; returns its component."""
    parts = topic.split("/")
    assert len(parts) == 4 and parts[0] == prefix and parts[3] == "config", topic
    component, object_id = parts[1], parts[2]
    assert component in DOCUMENTED, component
    assert _ID.fullmatch(object_id), object_id
    assert set(config) <= DOCUMENTED[component], set(config) - DOCUMENTED[component]
    assert config["unique_id"] == object_id  # the documented best practice
    device = config["device"]
    assert set(device) <= DEVICE_KEYS and device["identifiers"] and device["name"]
    assert "availability_topic" not in config  # `availability` instead, not both
    assert config["availability_mode"] in {"all", "any", "latest"}
    assert all(set(a) == {"topic"} for a in config["availability"])
    if component == "event":
        assert isinstance(config["state_topic"], str) and config["state_topic"]
        assert config["event_types"] and all(isinstance(t, str) for t in config["event_types"])
    else:
        assert ("image_topic" in config) != ("url_topic" in config)  # exactly one
        assert config["content_type"] == "image/jpeg"
    return component


async def test_discovery_follows_the_documented_format(mqtt: MqttConsumer, store: Store) -> None:
    snapshot = jpeg(3, size=32, noise=True)
    now = int(time.time() * 1000)
    store.ingest(
        [
            make(recognition("a-1", device="GATE1", image=snapshot), received_at=now),
            make(recognition("a-2", device="GATE1", passed=False), received_at=now),
            make(alarm("tr-1", 1, event_time=now), received_at=now),
        ]
    )
    async with forwarding(store, mqtt.settings("ha", homeassistant=True)):
        await mqtt.wait_keys({"r:a-1", "r:a-2"} | {f"a:tr-1:1:{now}"})
        await eventually(lambda: len(configs(mqtt)) == 3, what="3 discovery configs")
    found = configs(mqtt)
    components = sorted(check_config(mqtt.prefix, t, c) for t, c in found.items())
    assert components == ["event", "event", "image"]
    unique = [c["unique_id"] for c in found.values()]
    assert len(set(unique)) == len(unique)
    topics = {str(m.topic) for m in mqtt.messages}
    for config in found.values():
        for key, value in config.items():
            if key.endswith("_topic"):
                assert value in topics, f"{key} {value} was never published to"
        for entry in config["availability"]:
            assert entry["topic"] in topics
    by_name = {c["name"]: c for c in found.values()}
    access = by_name["Access"]
    assert {"granted", "denied", "stranger", "spoof", "blacklist"} <= set(access["event_types"])
    alarms = by_name["Alarm"]
    expected = {"tamper", "forced_door", "door_timeout", "password_attack", "fire", "cleared"}
    assert expected <= set(alarms["event_types"])
    events = [json.loads(bytes(m.payload)) for m in mqtt.on(access["state_topic"])]  # type: ignore[arg-type]
    assert [e["event_type"] for e in events] == ["granted", "denied"]
    assert (events[0]["name"], events[0]["user_id"], events[0]["score"]) == ("王五", "5", 0.93)
    [fired] = [json.loads(bytes(m.payload)) for m in mqtt.on(alarms["state_topic"])]  # type: ignore[arg-type]
    assert fired["event_type"] == "tamper"
    image = by_name["Snapshot"]
    assert [bytes(m.payload) for m in mqtt.on(image["image_topic"])] == [snapshot]  # type: ignore[arg-type]
    print(f"discovery: {len(found)} configs checked, {len(unique)} unique ids")


async def test_discovery_is_published_again_when_home_assistant_starts(
    mqtt: MqttConsumer, store: Store
) -> None:
    store.ingest([make(recognition("b-1", device="GATE2"))])
    async with forwarding(store, mqtt.settings("ha", homeassistant=True)):
        await mqtt.wait_keys({"r:b-1"})
        await eventually(lambda: len(configs(mqtt)) == 2)

        def published() -> int:
            return sum(1 for m in mqtt.messages if str(m.topic).endswith("/config"))

        before = published()
        await mqtt.publish(f"{mqtt.prefix}/status", b"online")  # Home Assistant's birth
        await eventually(lambda: published() >= before + 2, what="discovery again")


async def test_a_replayed_backlog_fires_no_event_entity(mqtt: MqttConsumer, store: Store) -> None:
    """Records marked late are forwarded on the record topics, but no event fires."""
    hour_ago = int(time.time()) - 3600
    now = int(time.time() * 1000)
    backlog = [
        make(recognition(f"old-{n}", device="GATE3", timestamp=hour_ago), received_at=now)
        for n in range(40)
    ]
    assert all(r.late for r in backlog)
    live = [make(recognition(f"new-{n}", device="GATE3"), received_at=now) for n in range(3)]
    store.ingest(backlog + live)
    async with forwarding(store, mqtt.settings("ha", homeassistant=True)):
        await mqtt.wait_keys({r.key for r in backlog + live})
        access = f"{mqtt.tag}/GATE3/ha/access"
        await eventually(lambda: len(mqtt.on(access)) >= 3)
    fired = [json.loads(bytes(m.payload))["key"] for m in mqtt.on(access)]  # type: ignore[arg-type]
    on_record_topic = len(mqtt.on(f"{mqtt.tag}/GATE3/recognition"))
    print(f"backlog: {len(backlog)} late + {len(live)} live forwarded; events fired {len(fired)}")
    assert on_record_topic == len(backlog) + len(live)
    assert sorted(fired) == sorted(r.key for r in live)
