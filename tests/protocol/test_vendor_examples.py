"""The vendor's own examples decode exactly as printed, field by field."""

from __future__ import annotations

from pathlib import Path

import pytest

from facepush.errors import DecodeError
from facepush.protocol import (
    AlarmCode,
    AlarmStatus,
    EventType,
    Recognition,
    RecognitionType,
    decode_push,
    parse_json,
)
from facepush.protocol.models import Alarm

VECTORS = Path(__file__).parent.parent / "vectors"


def test_vendor_recognition_example_decodes_field_by_field() -> None:
    push = decode_push((VECTORS / "push/vendor-recognition.json").read_bytes(), strict=True)
    assert push.type is EventType.RECOGNITION
    rec = push.data
    assert isinstance(rec, Recognition)
    assert rec.deviceSN == "PSC700C0MC22F02542"
    assert rec.recognitionType == RecognitionType.EMPLOYEE
    assert rec.entry_mode == 1
    assert rec.abnormal_type == 0
    assert rec.uuid == "4d3987c1-a3b3-470b-9fb7-e114772c069c"
    assert rec.recognizeScore == 0.9302213788032532
    assert rec.mask == 0
    assert rec.mode == 3
    assert rec.rgb_image is None  # " " means no image
    assert rec.bodyTemperature == 0.0
    assert rec.passed is True
    assert rec.timestamp == 1685343715
    assert rec.occurred_at == 1685343715000
    assert rec.user is not None
    user = rec.user
    assert user.name == "王五"
    assert user.ic_number == "12345"
    assert user.id_number == ""
    assert user.job_number == "23385"
    assert user.pin == ""
    assert user.user_id == "5"
    assert user.remark == ""
    assert user.guest_time_start == 0
    assert user.guest_time_end == 0
    assert user.type == 1
    assert [(g.id, g.name) for g in user.groups] == [("3", "测试3"), ("4", "测试4")]
    assert rec.extra == {} and user.extra == {}
    assert push.key == "r:4d3987c1-a3b3-470b-9fb7-e114772c069c"


def test_vendor_alarm_example_with_trailing_comma_decodes() -> None:
    push = decode_push((VECTORS / "push/vendor-alarm.json").read_bytes())
    assert push.type is EventType.ALARM
    alarm = push.data
    assert isinstance(alarm, Alarm)
    assert alarm.trace_id == "SPX-1684381418208-004-3Adb4v"
    assert alarm.description == " "
    assert alarm.code == AlarmCode.TAMPER
    assert alarm.event_time == 1684381433398
    assert alarm.status == AlarmStatus.RAISED
    assert alarm.alarm_photo is None
    assert alarm.user_id is None
    assert push.occurred_at == 1684381433398
    assert push.key == "a:SPX-1684381418208-004-3Adb4v:1:1684381433398"


def test_strict_mode_refuses_the_trailing_comma() -> None:
    with pytest.raises(DecodeError) as err:
        decode_push((VECTORS / "push/vendor-alarm.json").read_bytes(), strict=True)
    assert err.value.path == "body"
    assert "not valid JSON" in err.value.problem


def test_vendor_receiver_reply_and_subscribe_examples_parse() -> None:
    reply = parse_json((VECTORS / "api/vendor-receiver-reply.json").read_bytes())
    assert reply == {"code": 200, "msg": "success", "data": {}}
    request = parse_json((VECTORS / "api/vendor-subscribe-request.json").read_bytes())
    assert request == {"event_dest": "http://ip:port/Record", "enabled": True}
    get_reply = parse_json((VECTORS / "api/vendor-subscribe-get-reply.json").read_bytes())
    assert get_reply == {"code": 200, "msg": "OK", "data": None}
