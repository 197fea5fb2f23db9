"""Home Assistant MQTT discovery (`homeassistant = true` on an MQTT sink).

Per terminal (`{device}`), as Home Assistant's MQTT discovery documents it (discovery
topic `<prefix>/<component>/<object_id>/config`, a JSON config with the component's
required keys, `unique_id`, a `device` block with `identifiers`, `availability`):

- `event` "Access" (recognitions): event types granted, denied, stranger, spoof,
  blacklist; attributes name, user_id, score (and key, occurred_at).
- `event` "Alarm" (alarm reports): tamper, forced_door, door_timeout, password_attack,
  fire, other (a code not in the vendor's table), clear_failed, cleared.
- `image` "Snapshot": the latest live snapshot, its JPEG bytes on `image_topic`
  (retained; Home Assistant need not reach the receiver's API, nor hold its token).

An entity's state topic is its own (`{topic}/{device}/ha/...`), apart from the record
topics: a record marked late (a replayed backlog) is still forwarded on the record topic
but never fires an event entity, nor replaces the latest snapshot. Each entity is
available while both `{topic}/availability` (this receiver's connection; its last will
says `offline`) and `{topic}/{device}/availability` say `online`. Discovery is retained,
and published again when Home Assistant announces itself (`<prefix>/status` = `online`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from facepush import __version__
from facepush.protocol.jsontext import dump_json
from facepush.receiver.forward.record import Record
from facepush.receiver.forward.settings import ForwardSettings

ACCESS_TYPES = ("granted", "denied", "stranger", "spoof", "blacklist")
ALARM_TYPES = (
    "tamper",
    "forced_door",
    "door_timeout",
    "password_attack",
    "fire",
    "other",
    "clear_failed",
    "cleared",
)
_ALARM_CODES = {
    10001: "tamper",
    10002: "forced_door",
    10003: "door_timeout",
    10004: "password_attack",
    20003: "fire",
}
_OBJECT_ID = re.compile(r"[^a-zA-Z0-9_-]")


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    retain: bool = False


def bridge_topic(settings: ForwardSettings) -> str:
    """This receiver's own availability (its MQTT last will says `offline`)."""
    return f"{settings.topic}/availability"


def availability_topic(settings: ForwardSettings, device: str) -> str:
    return f"{settings.topic}/{device}/availability"


def state_topic(settings: ForwardSettings, device: str, entity: str) -> str:
    return f"{settings.topic}/{device}/ha/{entity}"


def access_event_type(item: dict[str, Any]) -> str:
    """The Access event type of a recognition record."""
    kind = item.get("recognitionType")
    user = item.get("user") if isinstance(item.get("user"), dict) else {}
    if kind == 4:
        return "spoof"
    if kind == 5 or (user or {}).get("type") == 5:
        return "blacklist"
    if kind in (0, 3):
        return "stranger"
    return "granted" if item.get("pass") is True else "denied"


def alarm_event_type(item: dict[str, Any]) -> str:
    status = item.get("status")
    if status == 3:
        return "cleared"
    if status == 2:
        return "clear_failed"
    return _ALARM_CODES.get(item.get("code"), "other")  # type: ignore[arg-type]


def event_payload(record: Record) -> dict[str, Any]:
    """The JSON an event entity receives: `event_type` and the attributes."""
    item = record.item  # decoded once here
    if record.kind == "alarm":
        return {
            "event_type": alarm_event_type(item),
            "trace_id": item.get("trace_id"),
            "status": item.get("status"),
            "code": item.get("code"),
            "description": item.get("description"),
            "user_id": item.get("user_id"),
            "key": record.key,
            "occurred_at": item.get("occurred_at"),
        }
    user = item.get("user") if isinstance(item.get("user"), dict) else {}
    return {
        "event_type": access_event_type(item),
        "name": (user or {}).get("name"),
        "user_id": (user or {}).get("user_id"),
        "score": item.get("recognizeScore"),
        "pass": item.get("pass"),
        "key": record.key,
        "occurred_at": item.get("occurred_at"),
    }


def live_messages(settings: ForwardSettings, record: Record) -> list[Message]:
    """What a record fires in Home Assistant: nothing for a late record."""
    if record.late:
        return []
    entity = "alarm" if record.kind == "alarm" else "access"
    out = [Message(state_topic(settings, record.device, entity), dump_json(event_payload(record)))]
    if record.image is not None and record.kind == "recognition":
        out.append(Message(state_topic(settings, record.device, "snapshot"), record.image, True))
    return out


def discovery(settings: ForwardSettings, device: str, kind: str) -> list[Message]:
    """The retained discovery configs of a terminal's entities for records of `kind`."""
    if kind == "alarm":
        configs = [("event", "alarm", _event_config(settings, device, "alarm"))]
    else:
        configs = [
            ("event", "access", _event_config(settings, device, "access")),
            ("image", "snapshot", _image_config(settings, device)),
        ]
    return [
        Message(
            f"{settings.discovery_prefix}/{component}/{config['unique_id']}/config",
            dump_json(config),
            retain=True,
        )
        for component, _, config in configs
    ]


def unique_id(settings: ForwardSettings, device: str, entity: str) -> str:
    return _OBJECT_ID.sub("_", f"facepush_{settings.name}_{device}_{entity}")


def _common(settings: ForwardSettings, device: str, entity: str, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "unique_id": unique_id(settings, device, entity),
        "availability": [
            {"topic": bridge_topic(settings)},
            {"topic": availability_topic(settings, device)},
        ],
        "availability_mode": "all",
        "device": {
            "identifiers": [_OBJECT_ID.sub("_", f"facepush_{device}")],
            "name": f"Terminal {device}",
            "manufacturer": "SenseTime",
            "model": "SenseNebula Pass (via facepush)",
        },
        "origin": {"name": "facepush", "sw_version": __version__},
        "qos": 1,
    }


def _event_config(settings: ForwardSettings, device: str, entity: str) -> dict[str, Any]:
    name, types, icon = (
        ("Alarm", ALARM_TYPES, "mdi:alarm-light")
        if entity == "alarm"
        else ("Access", ACCESS_TYPES, "mdi:face-recognition")
    )
    return {
        **_common(settings, device, entity, name),
        "state_topic": state_topic(settings, device, entity),
        "event_types": list(types),
        "icon": icon,
    }


def _image_config(settings: ForwardSettings, device: str) -> dict[str, Any]:
    config = _common(settings, device, "snapshot", "Snapshot")
    config.pop("qos")  # not an image option
    return {
        **config,
        "image_topic": state_topic(settings, device, "snapshot"),
        "content_type": "image/jpeg",
    }
