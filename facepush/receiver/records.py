"""Turning a decoded push into the row the store keeps, and a stored row into the flat item
of the query API (`/api/events`, `/api/stream`, the CSV export)."""

from __future__ import annotations

import hashlib
from typing import Any, Protocol

import msgspec

from facepush.errors import ImageError
from facepush.protocol import Alarm, Event, Push, decode_image, to_plain
from facepush.protocol.jsontext import dump_json
from facepush.receiver.attendance.rules import person_kind
from facepush.receiver.store import Incoming

IMAGE_FIELDS = ("rgb_image", "alarm_photo")
_decoder = msgspec.json.Decoder(dict[str, Any])
_canonical = msgspec.json.Encoder(order="sorted")


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


def incoming(
    push: Push,
    *,
    source: str | None,
    received_at: int,
    late_after_ms: int,
    origin: str = "push",
    serial: str | None = None,
) -> Incoming:
    """The row for a decoded push (or a history item read as one, `origin` "history"):
    identity, times, indexed fields, the image decoded. `late` is the same rule for both:
    arrived more than `late_after_ms` after it happened. `serial`: the terminal's, for a
    record that names none (history read from a managed terminal)."""
    data = push.data
    fields = to_plain(data)
    for name in IMAGE_FIELDS:
        fields.pop(name, None)
    occurred_at = push.occurred_at
    device, user_id, passed, trace_id, status, code, user_kind, user_name = _indexed(data)
    image, image_id, image_flag = _image(data.image)
    # A conflict is a push repeating a pushed key with other content. A terminal's history
    # item is another rendering of the pushed record (fewer fields, no image), so a record
    # read from history has no digest and is never compared.
    digest = None
    if origin == "push":
        digest = content_digest(fields, push.extra, image_id or image_flag)
    return Incoming(
        key=push.key,
        type=int(push.type),
        device=device or serial,
        source=source,
        occurred_at=occurred_at,
        received_at=received_at,
        late=occurred_at is not None and received_at - occurred_at > late_after_ms,
        user_id=user_id,
        passed=passed,
        trace_id=trace_id,
        status=status,
        code=code,
        fields=dump_json(fields).decode(),
        envelope_extra=dump_json(push.extra).decode() if push.extra else None,
        image_id=image_id,
        image=image,
        image_flag=image_flag,
        user_kind=user_kind,
        user_name=user_name,
        digest=digest,
        origin=origin,
    )


def _indexed(data: Event) -> tuple[Any, ...]:
    """(device, user_id, passed, trace_id, status, code, user_kind, user_name): the
    columns the store indexes or counts by."""
    if isinstance(data, Alarm):
        # Alarms carry no deviceSN in the protocol; a firmware that adds one is honoured.
        serial = data.extra.get("deviceSN")
        device = serial if isinstance(serial, str) and serial.strip() else None
        return device, data.user_id, None, data.trace_id, data.status, data.code, None, None
    device = data.deviceSN if data.deviceSN and data.deviceSN.strip() else None
    user = data.user
    if user is None:
        kind = person_kind(data.recognitionType, None)
        return device, None, data.passed, None, None, None, kind, None
    kind = person_kind(data.recognitionType, user.type)
    return device, user.user_id, data.passed, None, None, None, kind, _text(user.name)


def _image(pushed: str | None) -> tuple[bytes | None, str | None, str | None]:
    """(bytes, image_id, image_flag) of a pushed base64 image."""
    if pushed is None:
        return None, None, None
    try:
        raw = decode_image(pushed)
    except ImageError as exc:
        # Ruling 7 (docs/protocol-rulings.md): never refuse a record over its image; keep
        # it and say what was wrong.
        return None, None, f"broken: {exc}"
    return raw, hashlib.sha256(raw).hexdigest(), None


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


class StoredView(Protocol):
    """What an item is made of: a stored row (EventRow) and a record about to be stored
    (Incoming) both have it."""

    @property
    def key(self) -> str: ...
    @property
    def type(self) -> int: ...
    @property
    def fields(self) -> str: ...
    @property
    def envelope_extra(self) -> str | None: ...
    @property
    def received_at(self) -> int: ...
    @property
    def occurred_at(self) -> int | None: ...
    @property
    def late(self) -> bool: ...
    @property
    def image_id(self) -> str | None: ...
    @property
    def image_flag(self) -> str | None: ...
    @property
    def source(self) -> str | None: ...
    @property
    def origin(self) -> str: ...


def _shape(record: StoredView, pushed: dict[str, Any], extra: Any) -> dict[str, Any]:
    """`type`, the pushed fields at the top level, then what the receiver adds; a pushed
    field named like one of the receiver's is under `pushed_extra` instead. The one shape
    of an item, whatever `pushed` and `extra` hold (decoded values or raw JSON)."""
    item: dict[str, Any] = {"type": record.type}
    clash = RECEIVER_FIELDS.intersection(pushed)
    moved = {name: pushed.pop(name) for name in sorted(clash)}
    item.update(pushed)
    if extra is not None:
        item["envelope_extra"] = extra
    if moved:
        item["pushed_extra"] = moved
    item["key"] = record.key
    item["received_at"] = record.received_at
    item["occurred_at"] = record.occurred_at
    item["late"] = record.late
    item["image_url"] = image_url(record.image_id)
    item["image_flag"] = record.image_flag
    item["source"] = record.source
    item["origin"] = record.origin
    return item


def row_item(record: StoredView) -> dict[str, Any]:
    """One item of /api/events (and of the CSV export), its values decoded."""
    extra = record.envelope_extra
    return _shape(record, _decoder.decode(record.fields), _decoder.decode(extra) if extra else None)


_raw_fields = msgspec.json.Decoder(dict[str, msgspec.Raw])
_encoder = msgspec.json.Encoder()


def row_body(record: StoredView) -> bytes:
    """`row_item(record)` as JSON, made without decoding the pushed fields below their top
    level (their values are copied as they are): what forwarding sends and /api/stream
    shows for every record, at a fraction of the cost. A test checks both agree."""
    extra = record.envelope_extra
    pushed = _raw_fields.decode(record.fields)
    return _encoder.encode(_shape(record, pushed, msgspec.Raw(extra) if extra else None))
