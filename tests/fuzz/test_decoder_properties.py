"""Property-based tests of the one decoder: whatever the bytes, it answers with a record or
its own DecodeError (never another exception), and decoded records round-trip."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from facepush.errors import DecodeError
from facepush.protocol import decode_push, decode_pushes, dump_json, push_to_plain
from facepush.protocol.limits import MAX_MS

CASES = 400  # per property; the count is reported in docs/reliability.md
FUZZ = settings(max_examples=CASES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
texts = st.text(max_size=12)
# Valid pushes keep within the protocol's bounds (facepush/protocol/limits.py): identities
# without NUL, the vendor's `int` in 32 bits, times from 1970 to 9999.
idents = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\0"), max_size=12)
ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)
int32s = st.integers(min_value=-(2**31), max_value=2**31 - 1)
times_ms = st.integers(min_value=0, max_value=MAX_MS)
# `timestamp` in seconds below 10**12, in ms above it (ruling 5).
timestamps = st.integers(min_value=0, max_value=MAX_MS // 1000) | st.integers(10**12, MAX_MS)
optional = lambda s: st.none() | s  # noqa: E731

groups = st.lists(st.fixed_dictionaries({"id": texts, "name": texts}), max_size=3)
users = st.fixed_dictionaries(
    {},
    optional={
        "name": optional(texts),
        "user_id": optional(idents | ints),
        "type": optional(int32s),
        "ic_number": optional(texts),
        "job_number": optional(texts),
        "id_number": optional(texts),
        "guest_time_start": optional(times_ms),
        "guest_time_end": optional(times_ms),
        "remark": optional(texts),
        "pin": optional(texts),
        "groups": groups,
        "custom": json_values,
    },
)
recognitions = st.fixed_dictionaries(
    {"uuid": idents.filter(lambda s: s.strip() != "")},
    optional={
        "deviceSN": idents,
        "recognitionType": int32s,
        "recognizeScore": st.floats(allow_nan=False),
        "mask": int32s,
        "mode": int32s,
        "rgb_image": texts,
        "pass": st.booleans(),
        "timestamp": timestamps,
        "bodyTemperature": st.floats(allow_nan=False, allow_infinity=False),
        "entry_mode": int32s,
        "abnormal_type": int32s,
        "user": users,
        "door": json_values,
    },
)
alarms = st.fixed_dictionaries(
    {
        "trace_id": idents.filter(lambda s: s.strip() != ""),
        "event_time": timestamps,
        "status": int32s,
    },
    optional={"code": int32s, "description": texts, "user_id": ints, "alarm_photo": texts},
)
pushes = st.one_of(
    st.fixed_dictionaries({"type": st.just(0), "data": recognitions}),
    st.fixed_dictionaries({"type": st.just(1), "data": alarms}),
)


@FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_bytes_give_a_push_or_a_decode_error(body: bytes) -> None:
    try:
        decode_pushes(body)
    except DecodeError as exc:
        assert exc.path and exc.problem


@FUZZ
@given(json_values)
def test_arbitrary_json_gives_a_push_or_a_decode_error(value: Any) -> None:
    for strict in (False, True):
        try:
            decode_push(dump_json(value), strict=strict)
        except DecodeError as exc:
            assert str(exc).startswith(exc.path)


@FUZZ
@given(pushes, st.data())
def test_mutated_pushes_never_raise_anything_else(
    push: dict[str, Any], data: st.DataObject
) -> None:
    body = dict(push["data"])
    if body:
        key = data.draw(st.sampled_from(sorted(body)))
        body[key] = data.draw(json_values)
    with contextlib.suppress(DecodeError):
        decode_push(dump_json({"type": push["type"], "data": body}))


@FUZZ
@given(pushes)
def test_valid_pushes_round_trip(push: dict[str, Any]) -> None:
    first = decode_push(dump_json(push))
    again = decode_push(dump_json(push_to_plain(first)))
    assert again == first
    assert again.key == first.key


@FUZZ
@given(pushes)
def test_trailing_commas_are_repaired(push: dict[str, Any]) -> None:
    text = dump_json(push).decode()
    with_commas = text[:-2] + ",}," + "}" if text.endswith("}}") else text
    assert decode_push(with_commas.encode()) == decode_push(text.encode())
