"""Bad input gets an error that names the field path and the problem."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from facepush.errors import DecodeError, ProtocolError
from facepush.protocol import decode_pushes

INVALID = Path(__file__).parent.parent / "vectors" / "invalid"
EXPECTED: dict[str, str] = json.loads((INVALID / "expected.json").read_text())


def test_every_invalid_vector_has_an_expected_message() -> None:
    files = {p.name for p in INVALID.glob("*.json")} - {"expected.json"}
    assert files == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_invalid_vector_error_names_the_field(name: str) -> None:
    from facepush.protocol import decode_push

    with pytest.raises(DecodeError) as err:
        decode_push((INVALID / name).read_bytes())
    assert str(err.value) == EXPECTED[name]
    assert isinstance(err.value, ProtocolError)


def test_batch_errors_name_the_index() -> None:
    body = b'[{"type": 0, "data": {"uuid": "a"}}, {"type": 0, "data": {"uuid": 5}}]'
    with pytest.raises(DecodeError) as err:
        decode_pushes(body)
    assert str(err.value) == "[1].data.uuid: expected str, got 5"


def test_batch_of_one_object_and_of_many() -> None:
    one = decode_pushes(b'{"type": 0, "data": {"uuid": "a"}}')
    many = decode_pushes(
        b'[{"type": 0, "data": {"uuid": "a"}}, {"type": 1, "data": '
        b'{"trace_id": "t", "status": 3, "event_time": 1}}]'
    )
    assert [p.key for p in one] == ["r:a"]
    assert [p.key for p in many] == ["r:a", "a:t:3:1"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "body: not valid JSON: input data was truncated"),
        (b'{"a" 1}', "body: not valid JSON: JSON is malformed: expected ':' (byte 5)"),
        (b"[" * 100_000, "body: JSON nested too deeply"),
        (
            b'{"type": 0, "data": {"uuid": "u", "timestamp": 123456789012345678901234567890}}',
            "data.timestamp: expected int <= 9223372036854775807",
        ),
        (b"\xff\xfe{}", "body: not valid UTF-8 (invalid start byte at byte 0)"),
        (b"null", "body: expected a push object, got null"),
        (
            b'{"type": true, "data": {}}',
            "type: unknown event type true (expected 0 recognition or 1 alarm)",
        ),
        (b'{"type": 0, "data": []}', "data: expected an object, got []"),
        (
            b'{"type": 1, "data": {"trace_id": "", "status": 1, "event_time": 1}}',
            "data.trace_id: must be a non-empty string (the alarm's identity)",
        ),
        (
            b'{"type": 1, "data": {"trace_id": "t", "status": 1, "event_time": 1.5}}',
            "data.event_time: expected int, got 1.5",
        ),
    ],
)
def test_edge_inputs(body: bytes, message: str) -> None:
    from facepush.protocol import decode_push

    with pytest.raises(DecodeError) as err:
        decode_push(body)
    assert str(err.value) == message
