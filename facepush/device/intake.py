"""Turning what a producer hands over into records for the outbox.

Each envelope is checked with the protocol's one decoder (so a record without a usable
identity is refused with the field named), and its identity must be sendable as a header
(`check_sendable`: it is the `webhook-id` of a signed push). It is kept as bytes: the body
as handed over when it is a single well-formed envelope, otherwise each envelope
re-serialised on its own, every field kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from facepush.device.outbox import NewRecord
from facepush.errors import DecodeError
from facepush.protocol.decode import decode_object
from facepush.protocol.identity import check_sendable
from facepush.protocol.images import is_blank
from facepush.protocol.jsontext import dump_json, parse_json

_strict_json = msgspec.json.Decoder()

Handed = bytes | str | Mapping[str, Any] | Sequence[Mapping[str, Any]]


def prepare(handed: Handed, sn: str | None = None, now_ms: int | None = None) -> list[NewRecord]:
    """Records from one envelope or a list of them; raises DecodeError naming the field.

    With `sn`, a recognition record without `deviceSN` gets the terminal's serial number;
    with `now_ms` (the terminal's clock), a record without its time (`timestamp` in
    seconds, `event_time` in ms) gets that one, as a terminal stamps what it records.
    """
    raw: bytes | None = None
    if isinstance(handed, bytes | str):
        try:
            value = _strict_json.decode(handed)
            raw = handed.encode() if isinstance(handed, str) else handed
        except (msgspec.DecodeError, RecursionError):
            # Lenient: trailing commas (ruling 7 of docs/protocol-rulings.md); otherwise it
            # names what is wrong.
            value = parse_json(handed)
    else:
        value = handed
    if isinstance(value, list | tuple):
        if not value:
            raise DecodeError("body", "an empty array holds no record to push")
        return [_record(item, f"[{i}]", None, sn, now_ms) for i, item in enumerate(value)]
    return [_record(value, "", raw, sn, now_ms)]


def _record(
    item: Any, path: str, raw: bytes | None, sn: str | None, now_ms: int | None
) -> NewRecord:
    stamped = item if now_ms is None else _stamp(item, now_ms)
    if stamped is not item:
        item, raw = stamped, None
    push = decode_object(item, path=path)
    check_sendable(push, path)
    if sn and push.type == 0 and _lacks_sn(item):
        item = {**item, "data": {**item["data"], "deviceSN": sn}}
        raw = None
    return NewRecord(kind=int(push.type), key=push.key, body=raw or dump_json(item))


def _lacks_sn(item: Any) -> bool:
    return is_blank(item["data"].get("deviceSN"))


def _stamp(item: Any, now_ms: int) -> Any:
    """`item` with its missing time filled in from the terminal's clock (or `item` itself)."""
    data = item.get("data") if isinstance(item, dict) else None
    kind = item.get("type") if isinstance(item, dict) else None
    if not isinstance(data, dict) or type(kind) is not int or kind not in (0, 1):
        return item  # the decoder names what is wrong
    name, value = ("timestamp", now_ms // 1000) if kind == 0 else ("event_time", now_ms)
    if data.get(name) is not None:
        return item
    return {**item, "data": {**data, name: value}}
