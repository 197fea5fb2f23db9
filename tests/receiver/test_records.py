"""The stored form of a record equals the protocol's own plain form (to_plain), and the
forwarded body is the API's item."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from facepush.protocol import decode_push, dump_json, to_plain
from facepush.receiver.records import IMAGE_FIELDS, incoming, row_body, row_item
from facepush.receiver.store import EventRow
from tests.support.records import body, recognition


def walk(value: msgspec.Struct) -> dict[str, Any]:
    """The plain form by the definition, field by field (what to_plain was before msgspec's
    encoder did the walk): wire names, `extra` merged back, absent stays absent."""
    out: dict[str, Any] = {}
    for field in msgspec.structs.fields(type(value)):
        item = getattr(value, field.name)
        if field.name == "extra":
            continue
        if isinstance(item, msgspec.Struct):
            item = walk(item)
        elif isinstance(item, list):
            item = [walk(i) if isinstance(i, msgspec.Struct) else i for i in item]
        if item is None and field.default is None:
            continue
        out[field.encode_name] = item
    out.update(getattr(value, "extra", {}))
    return out


def test_to_plain_is_the_field_by_field_walk(vectors: Path) -> None:
    raws = [p.read_bytes() for p in sorted((vectors / "push").glob("*.json"))]
    raws.append(body(recognition(extra_dict={"a": None, "b": [1, {"c": None}]}, other=None)))
    for raw in raws:
        event = decode_push(raw).data
        expected = walk(event)
        got = to_plain(event)
        assert got == expected and list(got) == list(expected)
    assert IMAGE_FIELDS == ("rgb_image", "alarm_photo")


def test_the_forwarded_body_is_the_api_item(vectors: Path) -> None:
    """row_body (what forwarding sends, made without decoding nested values) is the JSON
    of row_item (what /api/events shows), key order and all; also for unknown fields,
    envelope extras, a pushed field named like one of the receiver's own (under
    pushed_extra) and a record read from history."""
    raws = [p.read_bytes() for p in sorted((vectors / "push").glob("*.json"))]
    raws.append(body(recognition(extra_dict={"a": None, "b": [1, {"c": "é"}]}, late="no")))
    raws.append(body({**recognition("x"), "extra_top": [1, {"k": None}]}))
    for n, raw in enumerate(raws):
        item = incoming(decode_push(raw), source="10.0.0.9", received_at=5, late_after_ms=1)
        row = EventRow(
            n,
            item.key,
            item.type,
            item.device,
            item.source,
            item.occurred_at,
            item.received_at,
            item.late,
            item.fields,
            item.envelope_extra,
            "ab" * 32 if n % 2 else None,
            None,
            origin="history" if n % 3 == 0 else "push",
        )
        assert row_body(row) == dump_json(row_item(row)), raw[:80]
