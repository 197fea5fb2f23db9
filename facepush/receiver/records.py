"""Turning a decoded push into the row the store keeps, and a stored row into the flat item
of the query API (`/api/events`, `/api/stream`, the CSV export)."""

from __future__ import annotations

import hashlib
from typing import Any, cast

import msgspec

from facepush.errors import ImageError
from facepush.protocol import Alarm, Event, Push, Recognition, decode_image
from facepush.protocol.jsontext import dump_json
from facepush.receiver.attendance.rules import person_kind
from facepush.receiver.store import EventRow, Incoming

IMAGE_FIELDS = ("rgb_image", "alarm_photo")
_decoder = msgspec.json.Decoder(dict[str, Any])
_canonical = msgspec.json.Encoder(order="sorted")
# The name under which the models serialise `extra` (the unknown fields).
_EXTRA = next(f.encode_name for f in msgspec.structs.fields(Recognition) if f.name == "extra")


def _text(value: str | None) -> str | None:
    # PostgreSQL text cannot hold NUL. Identities never carry one (the protocol refuses it);
    # a display name may, and is kept escaped in its column (the JSON fields hold it exact).
    return value.replace("\x00", "\\u0000") if value is not None and "\x00" in value else value


# The receiver's own names in a flat item. A pushed field of the same name never overrides
# one (a recognition pushing `"type": 1` stays a recognition): it is moved, with its value,
# into `pushed_extra`.
RECEIVER_FIELDS = frozenset(
    {
        "type",
        "key",
        "received_at",
        "occurred_at",
        "late",
        "image_url",
        "image_flag",
        "source",
        "origin",
        "envelope_extra",
        "pushed_extra",
    }
)


def plain_fields(event: Event) -> dict[str, Any]:
    """What `facepush.protocol.to_plain` returns (wire names, absent stays absent, unknown
    fields merged back), at half its cost: msgspec's C encoder does the struct walk, which
    matters on the push path. A test checks both agree."""
    return cast(dict[str, Any], _plain(msgspec.to_builtins(event)))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        extra = None
        for key, item in value.items():
            if key == _EXTRA:
                extra = item
            elif item is not None:
                out[key] = _plain(item) if isinstance(item, dict | list) else item
        if extra:
            out.update(extra)
        return out
    return [_plain(item) if isinstance(item, dict | list) else item for item in value]


def incoming(
    push: Push,
    *,
    source: str | None,
    received_at: int,
    late_after_ms: int,
    origin: str = "push",
) -> Incoming:
    """The row for a decoded push (or a history item read as one, `origin` "history"):
    identity, times, indexed fields, the image decoded. `late` is the same rule for both:
    arrived more than `late_after_ms` after it happened."""
    data = push.data
    fields = plain_fields(data)
    for name in IMAGE_FIELDS:
        fields.pop(name, None)
    occurred_at = push.occurred_at
    late = occurred_at is not None and received_at - occurred_at > late_after_ms
    item = Incoming(
        key=push.key,
        type=int(push.type),
        device=None,
        source=source,
        occurred_at=occurred_at,
        received_at=received_at,
        late=late,
        user_id=None,
        passed=None,
        trace_id=None,
        status=None,
        code=None,
        fields=dump_json(fields),
        envelope_extra=dump_json(push.extra) if push.extra else None,
        origin=origin,
    )
    if isinstance(data, Alarm):
        # Alarms carry no deviceSN in the protocol; a firmware that adds one is honoured.
        serial = data.extra.get("deviceSN")
        item.device = serial if isinstance(serial, str) and serial.strip() else None
        item.user_id, item.trace_id = data.user_id, data.trace_id
        item.status, item.code = data.status, data.code
    else:
        item.device = data.deviceSN if data.deviceSN and data.deviceSN.strip() else None
        user = data.user
        item.user_id = user.user_id if user is not None else None
        item.passed = data.passed
        item.user_kind = person_kind(data.recognitionType, user.type if user else None)
        item.user_name = _text(user.name) if user is not None else None
    if data.image is not None:
        try:
            raw = decode_image(data.image)
        except ImageError as exc:
            # Ruling 7 (docs/protocol-rulings.md): never refuse a record over its image;
            # keep it and say what was wrong.
            item.image_flag = f"broken: {exc}"
        else:
            item.image = raw
            item.image_id = hashlib.sha256(raw).hexdigest()
    # A conflict is a push repeating a pushed key with other content. A terminal's history
    # item is another rendering of the pushed record (fewer fields, no image), so a record
    # read from history has no digest and is never compared.
    if origin == "push":
        item.digest = content_digest(fields, push.extra, item.image_id or item.image_flag)
    return item


def content_digest(fields: dict[str, Any], extra: dict[str, Any], image: str | None) -> str:
    """What makes two pushes of one key the same record: the pushed fields and the
    envelope's extra fields (whatever their order) and the image (its sha256, or what was
    wrong with it)."""
    h = hashlib.blake2b(_canonical.encode(fields), digest_size=16)
    h.update(b"\0" + (_canonical.encode(extra) if extra else b""))
    h.update(b"\0" + (image or "").encode())
    return h.hexdigest()


def image_url(image_id: str | None) -> str | None:
    return f"/api/images/{image_id}" if image_id else None


def flat_item(
    *,
    key: str,
    type_: int,
    fields: bytes,
    envelope_extra: bytes | None,
    received_at: int,
    occurred_at: int | None,
    late: bool,
    image_id: str | None,
    image_flag: str | None,
    source: str | None,
    origin: str,
) -> dict[str, Any]:
    """`type`, the pushed fields at the top level, then what the receiver adds; a pushed
    field named like one of the receiver's is under `pushed_extra` instead."""
    item: dict[str, Any] = {"type": type_}
    pushed = _decoder.decode(fields)
    clash = RECEIVER_FIELDS.intersection(pushed)
    moved = {name: pushed.pop(name) for name in sorted(clash)}
    item.update(pushed)
    if envelope_extra:
        item["envelope_extra"] = _decoder.decode(envelope_extra)
    if moved:
        item["pushed_extra"] = moved
    item["key"] = key
    item["received_at"] = received_at
    item["occurred_at"] = occurred_at
    item["late"] = late
    item["image_url"] = image_url(image_id)
    item["image_flag"] = image_flag
    item["source"] = source
    item["origin"] = origin
    return item


_raw_fields = msgspec.json.Decoder(dict[str, msgspec.Raw])
_encoder = msgspec.json.Encoder()


def row_body(row: EventRow) -> bytes:
    """`row_item(row)` as JSON, made without decoding the pushed fields below their top
    level (their values are copied as they are): what forwarding sends for every record,
    at a fraction of the cost. A test checks both agree."""
    item: dict[str, Any] = {"type": row.type}
    pushed = _raw_fields.decode(row.fields)
    clash = RECEIVER_FIELDS.intersection(pushed)
    moved = {name: pushed.pop(name) for name in sorted(clash)}
    item.update(pushed)
    if row.envelope_extra:
        item["envelope_extra"] = msgspec.Raw(row.envelope_extra)
    if moved:
        item["pushed_extra"] = moved
    item["key"] = row.key
    item["received_at"] = row.received_at
    item["occurred_at"] = row.occurred_at
    item["late"] = row.late
    item["image_url"] = image_url(row.image_id)
    item["image_flag"] = row.image_flag
    item["source"] = row.source
    item["origin"] = row.origin
    return _encoder.encode(item)


def row_item(row: EventRow) -> dict[str, Any]:
    return flat_item(
        key=row.key,
        type_=row.type,
        fields=row.fields,
        envelope_extra=row.envelope_extra,
        received_at=row.received_at,
        occurred_at=row.occurred_at,
        late=row.late,
        image_id=row.image_id,
        image_flag=row.image_flag,
        source=row.source,
        origin=row.origin,
    )


def incoming_item(item: Incoming) -> dict[str, Any]:
    return flat_item(
        key=item.key,
        type_=item.type,
        fields=item.fields,
        envelope_extra=item.envelope_extra,
        received_at=item.received_at,
        occurred_at=item.occurred_at,
        late=item.late,
        image_id=item.image_id,
        image_flag=item.image_flag,
        source=item.source,
        origin=item.origin,
    )
