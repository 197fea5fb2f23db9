"""Turning decoded records back into plain JSON values, with unknown fields restored.

msgspec's C encoder does the walk over the structs (`to_builtins`: wire names, enums as
their values); what is left here is the protocol's rule for the result: a field that was
absent (None) stays absent, and the unknown fields (`extra`) are merged back where they
were. This runs for every push the receiver stores, so it is kept that cheap.
"""

from __future__ import annotations

from typing import Any, cast

import msgspec

from facepush.protocol.models import _EXTRA, Push


def to_plain(value: msgspec.Struct) -> dict[str, Any]:
    """The record as the terminal sent it: wire names, `extra` merged back, absent stays
    absent (every optional field of the models defaults to None)."""
    return cast(dict[str, Any], _plain(msgspec.to_builtins(value)))


def push_to_plain(push: Push) -> dict[str, Any]:
    """The whole envelope: `{"type": ..., "data": {...}}` and its unknown fields."""
    return to_plain(push)


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
