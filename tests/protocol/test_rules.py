"""Identity, time normalisation, acknowledgement, configuration and image rules."""

from __future__ import annotations

import base64

import pytest

from facepush.errors import ConfigError, ImageError
from facepush.protocol import (
    AbnormalType,
    AlarmCode,
    AlarmStatus,
    DeliveryOutcome,
    EntryMode,
    Mask,
    Mode,
    RecognitionType,
    Subscription,
    UserType,
    alarm_key,
    apply_update,
    classify_reply,
    decode_image,
    failure_reply,
    is_blank,
    parse_json,
    recognition_key,
    success_reply,
    to_ms,
    validate_dest,
)

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 16


def test_code_tables_have_english_and_chinese_labels() -> None:
    assert RecognitionType.BLACKLIST.label() == "blacklist"
    assert RecognitionType.BLACKLIST.label("zh") == "黑名单"
    assert Mask.MASK_WORN.label("zh") == "佩戴"
    assert Mode.CARD_AND_PIN.en == "card and PIN"
    assert EntryMode.EXIT_BUTTON.zh == "开门按钮"
    assert AbnormalType.TOO_MANY_WRONG_PINS.zh == "PIN码错误次数过多"
    assert UserType.VISITOR.en == "visitor"
    assert AlarmCode.FIRE.label("zh") == "消防告警"
    assert AlarmStatus.CLEAR_FAILED.en == "clearing failed"
    assert len(Mode) == 10 and len(EntryMode) == 12 and len(AbnormalType) == 12


def test_describe_tolerates_values_outside_the_table() -> None:
    assert AlarmCode.describe(10002) == "door forced open"
    assert AlarmCode.describe(99) == "unknown (99)"
    assert AlarmCode.describe(99, "zh") == "未知 (99)"
    assert AlarmCode.describe(None) == "—"


def test_identity_keys() -> None:
    assert recognition_key("u-1") == "r:u-1"
    assert alarm_key("SPX:1", 3, 1684381433398) == "a:SPX:1:3:1684381433398"
    assert alarm_key("t", 1, 5) != alarm_key("t", 3, 5)


@pytest.mark.parametrize(
    ("value", "ms"),
    [(1685343715, 1685343715000), (1685343715123, 1685343715123), (0, 0), (10**12, 10**12)],
)
def test_time_normalisation(value: int, ms: int) -> None:
    assert to_ms(value) == ms


@pytest.mark.parametrize(
    ("status", "body", "outcome", "reason"),
    [
        (200, b'{"code": 200, "msg": "success", "data": {}}', DeliveryOutcome.DELIVERED, ""),
        (201, b'{"code": 200, "message": "success"}', DeliveryOutcome.DELIVERED, ""),
        (200, b'{"code": 500, "msg": "db down"}', DeliveryOutcome.RETRY, "reply code 500: db down"),
        (
            200,
            b'{"code": 422, "message": "bad uuid"}',
            DeliveryOutcome.REFUSED,
            "reply code 422: bad uuid",
        ),
        (200, b"OK", DeliveryOutcome.RETRY, "HTTP 200 with a body that is not a JSON reply"),
        (
            200,
            b'{"code": "200"}',
            DeliveryOutcome.RETRY,
            "HTTP 200 with a body that is not a JSON reply",
        ),
        (500, b'{"code": 200}', DeliveryOutcome.RETRY, "HTTP 500 (code 200)"),
        (503, b"", DeliveryOutcome.RETRY, "HTTP 503"),
        (404, b"not found", DeliveryOutcome.REFUSED, "HTTP 404"),
        (
            400,
            b'{"code": 400, "msg": "data.uuid: missing"}',
            DeliveryOutcome.REFUSED,
            "HTTP 400 (code 400: data.uuid: missing)",
        ),
        (408, b"", DeliveryOutcome.RETRY, "HTTP 408"),
        (429, b"", DeliveryOutcome.RETRY, "HTTP 429"),
        (302, b"", DeliveryOutcome.RETRY, "HTTP 302"),
    ],
)
def test_acknowledgement_rule(
    status: int, body: bytes, outcome: DeliveryOutcome, reason: str
) -> None:
    verdict = classify_reply(status, body)
    assert verdict.outcome is outcome
    assert verdict.reason == reason
    assert verdict.delivered is (outcome is DeliveryOutcome.DELIVERED)


def test_receiver_replies_carry_msg_and_message() -> None:
    assert parse_json(success_reply()) == {
        "code": 200,
        "msg": "success",
        "message": "success",
        "data": {},
    }
    failure = parse_json(failure_reply(400, "data.uuid: required field is missing"))
    assert failure["code"] == 400
    assert failure["msg"] == failure["message"] == "data.uuid: required field is missing"
    assert classify_reply(200, success_reply()).delivered


@pytest.mark.parametrize(
    "url",
    [
        "http://192.0.2.10:8080/Record",
        "https://receiver.example/Record",
        "HTTP://h/x?y=1",
        "http://[::1]:9000/Record",
        "http://h" + "/p" * 508,
    ],
)
def test_valid_destinations(url: str) -> None:
    assert validate_dest(url) == url


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("file:///etc/passwd", "must be an http or https URL (scheme is file:)"),
        ("gopher://h/x", "must be an http or https URL (scheme is gopher:)"),
        ("javascript:alert(1)", "must be an http or https URL (scheme is javascript:)"),
        ("/Record", "must be an http or https URL (scheme is none)"),
        ("http:///Record", "must name a host, e.g. http://192.0.2.10:8080/Record"),
        ("http://ip:port/Record", "has an invalid port or host"),
        ("http://h/ x", "must be a URL without spaces or control characters"),
        ("", "must be a URL without spaces or control characters"),
        ("http://h/" + "a" * 1016, "is 1025 characters long; at most 1024"),
        (5, "must be a string URL, got int"),
    ],
)
def test_invalid_destinations_name_the_field(value: object, problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        validate_dest(value)
    assert err.value.path == "event_dest"
    assert err.value.problem.startswith(problem)


def test_apply_update_merges_and_validates() -> None:
    first = apply_update(None, {"event_dest": "http://h:1/Record", "enabled": True})
    assert first == Subscription(event_dest="http://h:1/Record", enabled=True)
    assert apply_update(first, {"enabled": False}) == Subscription(
        event_dest="http://h:1/Record", enabled=False
    )
    with pytest.raises(ConfigError, match="^enabled: must be a JSON boolean, got 'true'"):
        apply_update(first, {"enabled": "true"})
    with pytest.raises(ConfigError, match="^enabled: is required"):
        apply_update(None, {"event_dest": "http://h/"})
    with pytest.raises(ConfigError, match="^event_dest: is required"):
        apply_update(None, {"enabled": True})
    with pytest.raises(ConfigError, match="^destination: is not a push configuration field"):
        apply_update(first, {"destination": "http://h/"})
    with pytest.raises(ConfigError, match="^body: expected a JSON object"):
        apply_update(first, [1])


def test_images() -> None:
    assert is_blank(None) and is_blank("") and is_blank(" ") and not is_blank("/9j/")
    encoded = base64.b64encode(JPEG).decode()
    assert decode_image(encoded) == JPEG
    assert decode_image("data:image/jpeg;base64," + encoded) == JPEG
    with pytest.raises(ImageError, match="not valid base64"):
        decode_image("@@@")
    with pytest.raises(ImageError, match=r"not a JPEG image \(starts with 89504e47\)"):
        decode_image(base64.b64encode(b"\x89PNG\r\n").decode())


def test_envelope_key_agrees_with_the_decoder() -> None:
    from facepush.protocol import decode_push, dump_json
    from facepush.protocol.identity import envelope_key

    for envelope in (
        {"type": 0, "data": {"uuid": "u-9"}},
        {"type": 1, "data": {"trace_id": "SPX:1", "status": 2, "event_time": 1684381433398}},
    ):
        assert envelope_key(envelope) == decode_push(dump_json(envelope)).key
