"""Turning decoded records back into plain JSON values, with unknown fields restored."""

from __future__ import annotations

import functools
from typing import Any

import msgspec

from facepush.protocol.models import Push


def to_plain(value: msgspec.Struct) -> dict[str, Any]:
    """The record as the terminal sent it: wire names, `extra` merged back, absent stays absent."""
    out: dict[str, Any] = {}
    for field in _fields(type(value)):
        item = getattr(value, field.name)
        if field.name == "extra":
            continue
        if isinstance(item, msgspec.Struct):
            item = to_plain(item)
        elif isinstance(item, list):
            item = [to_plain(i) if isinstance(i, msgspec.Struct) else i for i in item]
        if item is None and field.default is None:
            continue
        out[field.encode_name] = item
    out.update(getattr(value, "extra", {}))
    return out


@functools.cache
def _fields(model: type[msgspec.Struct]) -> tuple[msgspec.structs.FieldInfo, ...]:
    return msgspec.structs.fields(model)  # slow (evaluates annotations): once per model


def push_to_plain(push: Push) -> dict[str, Any]:
    return {"type": int(push.type), "data": to_plain(push.data), **push.extra}
