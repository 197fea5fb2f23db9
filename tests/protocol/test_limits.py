"""The protocol's bounds (facepush/protocol/limits.py): each refusal names the field, and
records within them (the vendor's examples, real-device quirks) pass."""

from __future__ import annotations

import json
from typing import Any

import pytest

from facepush.device.intake import prepare
from facepush.errors import DecodeError, ImageError
from facepush.protocol import decode_image, decode_push
from facepush.protocol.jsontext import MAX_REPAIR_BYTES, MAX_REPAIRS, parse_json
from facepush.protocol.limits import MAX_MS, MAX_RECORD_BYTES
from tests.support.records import alarm, recognition

REFUSED = [
    # times, after the seconds→ms rule (the overflow of issue 10 item 1)
    (recognition(timestamp=-9_300_000_000_000_000), "data.timestamp", "between 1970 and 9999"),
    (recognition(timestamp=-1), "data.timestamp", "= -1000 ms after the seconds→ms rule"),
    (recognition(timestamp=999_999_999_999), "data.timestamp", "between 1970 and 9999"),
    (recognition(timestamp=MAX_MS + 1), "data.timestamp", "between 1970 and 9999"),
    (alarm(event_time=-5), "data.event_time", "between 1970 and 9999"),
    (recognition(user={"guest_time_end": -1}), "data.user.guest_time_end", ">= 0"),
    (recognition(user={"guest_time_start": MAX_MS + 1}), "data.user.guest_time_start", "<="),
    # the vendor's `int` is 32 bits (PostgreSQL INTEGER columns)
    (alarm(status=2**31), "data.status", "<= 2147483647"),
    (alarm(code=-(2**31) - 1), "data.code", ">= -2147483648"),
    (recognition(recognitionType=2**31), "data.recognitionType", "<= 2147483647"),
    (recognition(user={"type": 2**40}), "data.user.type", "<= 2147483647"),
    # identities and indexed text
    (recognition(uuid="a\0"), "data.uuid", "NUL"),
    (recognition(deviceSN="SN\0"), "data.deviceSN", "NUL"),
    (recognition(user={"user_id": "5\0"}), "data.user.user_id", "NUL"),
    (alarm(trace_id="T\0"), "data.trace_id", "NUL"),
    (alarm(deviceSN="SN\0"), "data.deviceSN", "NUL"),
    (recognition(uuid="u" * 1025), "data.uuid", "longer than 1024 bytes (1025 characters)"),
    (recognition(uuid="测" * 342), "data.uuid", "longer than 1024 bytes of UTF-8 (1026)"),
    (alarm(deviceSN="S" * 1025), "data.deviceSN", "longer than 1024 bytes"),
    (recognition(user={"user_id": "é" * 513}), "data.user.user_id", "1024 bytes of UTF-8"),
    # text, arrays, nesting, size
    (recognition(user={"remark": "r" * 4097}), "data.user.remark", "length <= 4096"),
    (alarm(description="d" * 4097), "data.description", "length <= 4096"),
    (recognition(note="n" * 4097), "data.note", "4097 characters long; at most 4096"),
    (recognition(**{"k" * 4097: 1}), "data", "a key of 4097 characters"),
    (recognition(user={"groups": [{"id": "1"}] * 1025}), "data.user.groups", "<= 1024"),
    (recognition(door=[0] * 1025), "data.door", "1025 entries; at most 1024"),
    (recognition(deep=json.loads("[" * 40 + "]" * 40)), "data.deep" + "[0]" * 31, "deeper than 32"),
    (recognition(bulk=["x" * 4000] * 17), "body", f"at most {MAX_RECORD_BYTES}"),
    ({"type": 0, "data": {"uuid": "u"}, "junk": ["x" * 4000] * 17}, "body", "at most 65536"),
]


@pytest.mark.parametrize(("record", "path", "problem"), REFUSED)
def test_out_of_bounds_is_refused_naming_the_field(
    record: dict[str, Any], path: str, problem: str
) -> None:
    raw = json.dumps(record).encode()
    with pytest.raises(DecodeError) as err:
        decode_push(raw)
    assert err.value.path == path and problem in err.value.problem, str(err.value)
    with pytest.raises(DecodeError):  # strict may name another rule of the vendor's first
        decode_push(raw, strict=True)


@pytest.mark.parametrize(("record", "path", "problem"), REFUSED)
def test_the_terminal_refuses_at_intake_what_the_receiver_would(
    record: dict[str, Any], path: str, problem: str
) -> None:
    with pytest.raises(DecodeError) as err:
        prepare(json.dumps(record).encode())
    assert err.value.path == path and problem in err.value.problem


ACCEPTED = [
    recognition(timestamp=0),  # the vendor's "no time" (1970)
    recognition(timestamp=MAX_MS // 1000),  # seconds, up to 9999
    recognition(timestamp=10**12),  # ms from here (ruling 5)
    recognition(timestamp=MAX_MS),
    recognition(user={"guest_time_start": 0, "guest_time_end": 0}),  # the vendor's example
    alarm(status=2**31 - 1, code=-(2**31)),
    recognition(uuid="u" * 1024, deviceSN="测" * 341, user={"remark": "测" * 4096}),
    recognition(user={"groups": [{"id": str(i), "name": "g"} for i in range(1024)]}),
    recognition(door=json.loads("[" * 31 + "]" * 31)),
    recognition(uuid="a\\u0000"),  # a literal backslash-u: an ordinary character string
]


@pytest.mark.parametrize("record", ACCEPTED)
def test_records_within_the_bounds_pass(record: dict[str, Any]) -> None:
    push = decode_push(json.dumps(record).encode())
    assert push.key.startswith(("r:", "a:"))
    prepare(json.dumps(record).encode())


def test_nul_and_a_literal_backslash_u0000_do_not_share_a_key() -> None:
    literal = decode_push(json.dumps(recognition(uuid="a\\u0000")).encode())
    assert literal.key == "r:a\\u0000"
    with pytest.raises(DecodeError, match="NUL"):
        decode_push(json.dumps(recognition(uuid="a\0")).encode())


def test_an_image_above_4_mib_is_an_image_error_not_a_refusal() -> None:
    """Ruling 7: the record is kept, its image flagged (the receiver's test shows it)."""
    big = "/9j/" + "A" * (4 * 1024 * 1024 * 4 // 3 + 8)
    push = decode_push(json.dumps(recognition(rgb_image=big)).encode())
    assert push.data.image == big
    with pytest.raises(ImageError, match="too large"):
        decode_image(big)


def test_a_body_with_more_commas_than_a_record_can_hold_is_refused_unparsed() -> None:
    body = b'{"type": 0, "data": {"uuid": "u", "x": [' + b"{}," * 70_000 + b"1]}}"
    with pytest.raises(DecodeError) as err:
        decode_push(body)
    assert err.value.path == "body" and "commas" in err.value.problem


def test_trailing_commas_are_repaired_only_for_that_error_and_boundedly() -> None:
    assert parse_json(b'{"a": [1, 2,], "b": {"c": 1,},}') == {"a": [1, 2], "b": {"c": 1}}
    assert parse_json(b'{"a": "x,}",}') == {"a": "x,}"}  # a comma inside a string stays
    too_many = b"[" * (MAX_REPAIRS + 1) + b"1" + b",]" * (MAX_REPAIRS + 1)
    with pytest.raises(DecodeError, match="trailing comma"):
        parse_json(too_many)
    big = b'{"a": "' + b"x" * MAX_REPAIR_BYTES + b'",}'
    with pytest.raises(DecodeError, match="trailing comma"):
        parse_json(big)  # above the size the repair is attempted for
    with pytest.raises(DecodeError, match="expected ':'"):
        parse_json(b'{"a" 1,}')  # another error: no repair attempted


@pytest.mark.parametrize(
    "text", [b"[1e15]", b"[1e9,1e15,-1e15]", b'["\\u2028"]', b"[1.0e15]", b'{"a":1e15}']
)
def test_re_encoded_json_grows_at_most_4_5_times(text: bytes) -> None:
    """The bound that lets the decoder skip re-encoding records parsed from small text."""
    from facepush.protocol.jsontext import dump_json
    from facepush.protocol.limits import SURELY_SMALL_TEXT

    assert len(dump_json(parse_json(text))) <= 4.5 * len(text)
    assert SURELY_SMALL_TEXT * 4.5 <= MAX_RECORD_BYTES
