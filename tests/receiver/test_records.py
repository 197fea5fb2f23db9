"""The stored form of a record equals the protocol's own plain form (to_plain)."""

from __future__ import annotations

from pathlib import Path

from facepush.protocol import decode_push, to_plain
from facepush.receiver.records import IMAGE_FIELDS, plain_fields
from tests.receiver.helpers import body, recognition


def test_plain_fields_equal_to_plain(vectors: Path) -> None:
    raws = [p.read_bytes() for p in sorted((vectors / "push").glob("*.json"))]
    raws.append(body(recognition(extra_dict={"a": None, "b": [1, {"c": None}]}, other=None)))
    for raw in raws:
        event = decode_push(raw).data
        expected = to_plain(event)
        got = plain_fields(event)
        assert got == expected and list(got) == list(expected)
    assert IMAGE_FIELDS == ("rgb_image", "alarm_photo")
