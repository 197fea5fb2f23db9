"""The one decoder of push bodies, used by the device, the receiver and the tools.

Lenient (the default) accepts what real terminals send (ruling 7 of docs/protocol-rulings.md):
trailing commas, blank images, nulls inside `user`, a numeric `user_id`, `groups` beside
`user`, and codes missing from the tables. Strict accepts only what the vendor's document
allows, for firmware teams checking their output. Both keep unknown fields in `extra` and
name the field of every error.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any, TypeVar

import msgspec

from facepush.errors import DecodeError
from facepush.protocol import limits
from facepush.protocol.codes import (
    ALARM_CODE_FIELDS,
    RECOGNITION_CODE_FIELDS,
    USER_CODE_FIELDS,
    AlarmStatus,
    CodeTable,
    EventType,
)
from facepush.protocol.images import is_blank
from facepush.protocol.jsontext import parse_json
from facepush.protocol.models import Alarm, Event, Group, Push, Recognition, User

S = TypeVar("S", bound=msgspec.Struct)

_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_MISSING = re.compile(r"Object missing required field `(?P<field>[^`]+)`")
_GOT = re.compile(r", got `[^`]+`$")
_TOKEN = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def decode_push(body: bytes | str, *, strict: bool = False) -> Push:
    """Decode one pushed envelope `{"type": ..., "data": {...}}`."""
    limits.check_body(body)
    value = parse_json(body, lenient=not strict)
    return _decode(value, strict, "", len(body))


def decode_pushes(body: bytes | str, *, strict: bool = False) -> list[Push]:
    """Decode one envelope or a JSON array of them; errors name the index (`[2].data.uuid`)."""
    value = parse_json(body, lenient=not strict)
    if isinstance(value, list):
        return [decode_object(item, strict=strict, path=f"[{i}]") for i, item in enumerate(value)]
    return [decode_object(value, strict=strict)]


def decode_object(value: Any, *, strict: bool = False, path: str = "") -> Push:
    """Decode an already parsed envelope; `path` prefixes field names in errors."""
    return _decode(value, strict, path, None)


def _decode(value: Any, strict: bool, path: str, text_size: int | None) -> Push:
    """`text_size`: the length of the JSON text `value` was parsed from, when known."""
    try:
        return _decode_object(value, strict, path, text_size)
    except RecursionError:
        raise DecodeError(path or "body", "JSON nested too deeply") from None


def _decode_object(value: Any, strict: bool, path: str, text_size: int | None) -> Push:
    where = path or "body"
    if not isinstance(value, dict):
        raise DecodeError(where, f"expected a push object, got {_show(value)}")
    kind = value.get("type")
    if "type" not in value:
        raise DecodeError(_join(path, "type"), "required field is missing")
    if type(kind) is not int or not EventType.known(kind):
        raise DecodeError(
            _join(path, "type"),
            f"unknown event type {_show(kind)} (expected 0 recognition or 1 alarm)",
        )
    data = value.get("data")
    data_path = _join(path, "data")
    if not isinstance(data, dict):
        problem = "required field is missing" if "data" not in value else "expected an object"
        raise DecodeError(
            data_path, f"{problem}, got {_show(data)}" if data is not None else problem
        )
    if strict:
        _check_strict(kind, data, data_path)
    event: Event
    if kind == EventType.RECOGNITION:
        event = _recognition(data, data_path)
    else:
        event = _alarm(data, data_path)
    push = Push(type=EventType(kind), data=event)
    push.extra = _unknown(value, Push)
    _check_unknown(push, path)
    if text_size is None or text_size > limits.SURELY_SMALL_TEXT:
        limits.check_size(value, data, path)
    return push


def _check_unknown(push: Push, path: str) -> None:
    """The bounds of limits.py on the fields the protocol does not name, wherever they are."""
    if push.extra:
        limits.check_unknown(push.extra, path, 0)
    data_path = _join(path, "data")
    record = push.data
    if record.extra:
        limits.check_unknown(record.extra, data_path, 1)
    user = record.user if isinstance(record, Recognition) else None
    if user is not None:
        if user.extra:
            limits.check_unknown(user.extra, f"{data_path}.user", 2)
        for i, group in enumerate(user.groups):
            if group.extra:
                limits.check_unknown(group.extra, f"{data_path}.user.groups[{i}]", 4)


def _recognition(data: dict[str, Any], path: str) -> Recognition:
    data = dict(data)
    if is_blank(data.get("rgb_image")):
        data.pop("rgb_image", None)
    user = data.get("user")
    if isinstance(user, dict):
        user = dict(user)
        if "groups" in data and "groups" not in user:
            # Some outputs put groups beside user; they belong to the user.
            user["groups"] = data.pop("groups")
        _text_id(user, "user_id")
        if isinstance(user.get("groups"), list):
            user["groups"] = [_grouped(g) for g in user["groups"]]
        if user.get("groups") is None:
            user.pop("groups", None)
        data["user"] = user
    record = _convert(data, Recognition, path)
    if not record.uuid.strip():
        raise DecodeError(f"{path}.uuid", "must be a non-empty string (the record's identity)")
    limits.check_ident(record.uuid, f"{path}.uuid")
    limits.check_ident(record.deviceSN, f"{path}.deviceSN")
    if record.user is not None:
        limits.check_ident(record.user.user_id, f"{path}.user.user_id")
    limits.check_time(record.timestamp, record.occurred_at, f"{path}.timestamp")
    record.extra = _unknown(data, Recognition)
    if record.user is not None and isinstance(user, dict):
        record.user.extra = _unknown(user, User)
        for group, raw in zip(record.user.groups, user.get("groups") or [], strict=False):
            if isinstance(raw, dict):
                group.extra = _unknown(raw, Group)
    return record


def _alarm(data: dict[str, Any], path: str) -> Alarm:
    data = dict(data)
    if is_blank(data.get("alarm_photo")):
        data.pop("alarm_photo", None)
    _text_id(data, "user_id")
    record = _convert(data, Alarm, path)
    if not record.trace_id.strip():
        raise DecodeError(f"{path}.trace_id", "must be a non-empty string (the alarm's identity)")
    limits.check_ident(record.trace_id, f"{path}.trace_id")
    limits.check_ident(record.user_id, f"{path}.user_id")
    serial = data.get("deviceSN")  # not in the protocol; some firmware add one
    if isinstance(serial, str):
        limits.check_ident(serial, f"{path}.deviceSN")
    limits.check_time(record.event_time, record.occurred_at, f"{path}.event_time")
    record.extra = _unknown(data, Alarm)
    return record


def _text_id(obj: dict[str, Any], field: str) -> None:
    # Older firmware sends ids as numbers; ruling 6 stores them as text.
    value = obj.get(field)
    if type(value) is int:
        obj[field] = str(value)


def _grouped(group: Any) -> Any:
    if isinstance(group, dict) and type(group.get("id")) is int:
        return {**group, "id": str(group["id"])}
    return group


def _convert(data: dict[str, Any], model: type[S], path: str) -> S:
    try:
        return msgspec.convert(data, model)
    except msgspec.ValidationError as exc:
        raise _named(exc, data, path) from None


def _named(exc: msgspec.ValidationError, data: dict[str, Any], path: str) -> DecodeError:
    match = _AT.match(str(exc))
    assert match is not None  # the pattern matches every string
    message, sub = match["msg"], match["path"] or ""
    missing = _MISSING.match(message)
    if missing:
        return DecodeError(path + sub + "." + missing["field"], "required field is missing")
    problem = message.replace(" | null", "").replace("`", "")
    problem = problem[:1].lower() + problem[1:]
    found, value = _lookup(data, sub)
    if found and _GOT.search(message):
        problem = _GOT.sub("", message.replace(" | null", "")).replace("`", "")
        problem = f"{problem[:1].lower()}{problem[1:]}, got {_show(value)}"
    return DecodeError(path + sub, problem)


def _lookup(data: Any, sub: str) -> tuple[bool, Any]:
    value = data
    for key, index in _TOKEN.findall(sub):
        if key and isinstance(value, dict) and key in value:
            value = value[key]
        elif index and isinstance(value, list) and int(index) < len(value):
            value = value[int(index)]
        else:
            return False, None
    return True, value


def _unknown(raw: dict[str, Any], model: type[msgspec.Struct]) -> dict[str, Any]:
    known = _wire_names(model)
    return {k: v for k, v in raw.items() if k not in known}


@functools.cache
def _wire_names(model: type[msgspec.Struct]) -> frozenset[str]:
    # msgspec.structs.fields() re-evaluates annotations on every call: far too slow per record.
    return frozenset(f.encode_name for f in msgspec.structs.fields(model))


def _check_strict(kind: int, data: dict[str, Any], path: str) -> None:
    """The vendor's document to the letter, beyond what the models check."""
    _no_nulls(data, path)
    if kind == EventType.RECOGNITION:
        _known_codes(data, RECOGNITION_CODE_FIELDS, path)
        if "groups" in data:
            raise DecodeError(f"{path}.groups", "belongs inside user (strict mode)")
        user = data.get("user")
        if isinstance(user, dict):
            _known_codes(user, USER_CODE_FIELDS, f"{path}.user")
            if "user_id" in user and not isinstance(user["user_id"], str):
                raise DecodeError(
                    f"{path}.user.user_id", f"expected str, got {_show(user['user_id'])}"
                )
        return
    _known_codes(data, ALARM_CODE_FIELDS, path)
    if data.get("status") == AlarmStatus.RAISED and "code" not in data:
        raise DecodeError(f"{path}.code", "required when status is 1 (alarm raised)")
    if "user_id" in data and type(data["user_id"]) is not int:
        raise DecodeError(f"{path}.user_id", f"expected int, got {_show(data['user_id'])}")


def _no_nulls(value: Any, path: str) -> None:
    if value is None:
        raise DecodeError(path, "null is not allowed (strict mode)")
    if isinstance(value, dict):
        for key, item in value.items():
            _no_nulls(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _no_nulls(item, f"{path}[{i}]")


def _known_codes(obj: dict[str, Any], tables: dict[str, type[CodeTable]], path: str) -> None:
    for field, table in tables.items():
        if field in obj and type(obj[field]) is int and not table.known(obj[field]):
            raise DecodeError(
                f"{path}.{field}", f"{obj[field]} is not a known {table.__name__} code"
            )


def _join(prefix: str, field: str) -> str:
    return f"{prefix}.{field}" if prefix else field


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."
