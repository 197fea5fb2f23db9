"""Real terminal output that deviates from the document is accepted (ruling 7), and strict
mode names each deviation."""

from __future__ import annotations

from pathlib import Path

import pytest

from facepush.errors import DecodeError
from facepush.protocol import Recognition, decode_push, push_to_plain
from facepush.protocol.models import Alarm

PUSH = Path(__file__).parent.parent / "vectors" / "push"


def _recognition(name: str, strict: bool = False) -> Recognition:
    rec = decode_push((PUSH / name).read_bytes(), strict=strict).data
    assert isinstance(rec, Recognition)
    return rec


def test_nulls_inside_user_and_unknown_face() -> None:
    rec = _recognition("device-nulls-unknown-face.json")
    assert rec.recognitionType == 0
    assert rec.rgb_image is None  # "" is no image
    assert rec.passed is False
    assert rec.bodyTemperature == 36.4
    assert rec.user is not None
    assert rec.user.name is None and rec.user.type is None and rec.user.user_id is None
    assert rec.user.groups == []


def test_numeric_user_id_groups_beside_user_and_unknown_fields_are_kept() -> None:
    rec = _recognition("old-firmware-numeric-user-id.json")
    assert rec.user is not None
    assert rec.user.user_id == "1042"
    assert [(g.id, g.name) for g in rec.user.groups] == [("7", "Visitors")]
    assert rec.extra == {"firmware": "v1.1.9"}
    assert rec.timestamp == 1685343900123
    assert rec.occurred_at == 1685343900123  # already milliseconds
    assert rec.user.guest_time_end == 1685340000000


def test_unknown_fields_survive_a_round_trip() -> None:
    body = (
        b'{"type": 0, "channel": "A", "data": {"uuid": "u1", "door": 2, "user": '
        b'{"name": "A", "badge": {"x": 1}, "groups": [{"id": "1", "name": "g", "color": "red"}]}}}'
    )
    push = decode_push(body)
    assert push.extra == {"channel": "A"}
    plain = push_to_plain(push)
    assert plain == {
        "type": 0,
        "channel": "A",
        "data": {
            "uuid": "u1",
            "door": 2,
            "user": {
                "name": "A",
                "badge": {"x": 1},
                "groups": [{"id": "1", "name": "g", "color": "red"}],
            },
        },
    }


def test_alarm_numeric_user_id_is_text_and_photo_is_kept() -> None:
    alarm = decode_push((PUSH / "alarm-cleared-numeric-user.json").read_bytes()).data
    assert isinstance(alarm, Alarm)
    assert alarm.user_id == "5"
    assert alarm.status == 3
    assert alarm.code is None
    assert alarm.alarm_photo is not None and alarm.alarm_photo.startswith("/9j/")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("device-nulls-unknown-face.json", "data.user.name: null is not allowed (strict mode)"),
        ("old-firmware-numeric-user-id.json", "data.groups: belongs inside user (strict mode)"),
        ("alarm-cleared-numeric-user.json", None),
    ],
)
def test_strict_mode_names_each_deviation(name: str, message: str | None) -> None:
    body = (PUSH / name).read_bytes()
    if message is None:
        decode_push(body, strict=True)  # the alarm follows the document: long user_id
        return
    with pytest.raises(DecodeError) as err:
        decode_push(body, strict=True)
    assert str(err.value) == message


def test_strict_mode_refuses_unknown_codes_that_lenient_keeps() -> None:
    body = b'{"type": 0, "data": {"uuid": "u", "abnormal_type": 99999}}'
    assert decode_push(body).data.abnormal_type == 99999  # type: ignore[union-attr]
    with pytest.raises(DecodeError, match=r"data.abnormal_type: 99999 is not a known AbnormalType"):
        decode_push(body, strict=True)


def test_strict_alarm_raised_needs_a_code() -> None:
    body = b'{"type": 1, "data": {"trace_id": "t", "status": 1, "event_time": 1684381433398}}'
    assert decode_push(body).data.code is None  # type: ignore[union-attr]
    with pytest.raises(DecodeError, match=r"^data.code: required when status is 1"):
        decode_push(body, strict=True)


def test_trailing_commas_inside_strings_are_left_alone() -> None:
    body = b'{"type": 0, "data": {"uuid": "a,}", "user": {"remark": ",]", "groups": [],},},}'
    rec = decode_push(body).data
    assert isinstance(rec, Recognition)
    assert rec.uuid == "a,}"
    assert rec.user is not None and rec.user.remark == ",]"
