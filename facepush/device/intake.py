"""Turning what a producer hands over into records for the outbox.

Each envelope is checked with the protocol's one decoder (so a record without a usable
identity is refused with the field named) and kept as bytes: the body as handed over when
it is a single well-formed envelope, otherwise each envelope re-serialised on its own,
every field kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from facepush.device.outbox import NewRecord
from facepush.errors import DecodeError
from facepush.protocol.decode import decode_object
from facepush.protocol.images import is_blank
from facepush.protocol.jsontext import dump_json, parse_json

_strict_json = msgspec.json.Decoder()

Handed = bytes | str | Mapping[str, Any] | Sequence[Mapping[str, Any]]


def prepare(handed: Handed, sn: str | None = None) -> list[NewRecord]:
    """Records from one envelope or a list of them; raises DecodeError naming the field.

    With `sn`, a recognition record without `deviceSN` gets the terminal's serial number.
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
        return [_record(item, f"[{i}]", None, sn) for i, item in enumerate(value)]
    return [_record(value, "", raw, sn)]


def _record(item: Any, path: str, raw: bytes | None, sn: str | None) -> NewRecord:
    push = decode_object(item, path=path)
    if sn and push.type == 0 and _lacks_sn(item):
        item = {**item, "data": {**item["data"], "deviceSN": sn}}
        raw = None
    return NewRecord(kind=int(push.type), key=push.key, body=raw or dump_json(item))


def _lacks_sn(item: Any) -> bool:
    return is_blank(item["data"].get("deviceSN"))
