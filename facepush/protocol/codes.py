"""The code tables of the protocol, each value with its English and vendor Chinese label.

Decoded records keep codes as plain integers, because a newer firmware may send a value that
is not in these tables; `describe()` turns any value into display text without failing.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Literal

Lang = Literal["en", "zh"]


class CodeTable(IntEnum):
    """An integer code table whose members carry `en` and `zh` labels."""

    en: str
    zh: str

    def __new__(cls, value: int, en: str = "", zh: str = "") -> CodeTable:
        member = int.__new__(cls, value)
        member._value_ = value
        member.en = en
        member.zh = zh
        return member

    def label(self, lang: Lang = "en") -> str:
        return self.zh if lang == "zh" else self.en

    @classmethod
    def known(cls, value: object) -> bool:
        return isinstance(value, int) and value in cls._value2member_map_

    @classmethod
    def describe(cls, value: int | None, lang: Lang = "en") -> str:
        """Display text for `value`, also for values missing from the table."""
        if value is None:
            return "—"
        member = cls._value2member_map_.get(value)
        if isinstance(member, CodeTable):
            return member.label(lang)
        return f"未知 ({value})" if lang == "zh" else f"unknown ({value})"


class EventType(CodeTable):
    RECOGNITION = 0, "recognition", "识别通行事件"
    ALARM = 1, "device alarm", "设备告警事件"


class RecognitionType(CodeTable):
    # 0 is not in the vendor table; real terminals send it for an unknown face (ruling 7,
    # docs/protocol-rulings.md).
    UNKNOWN = 0, "unknown face", "未知"
    EMPLOYEE = 1, "employee", "员工"
    VISITOR = 2, "visitor", "访客"
    STRANGER = 3, "stranger", "陌生人"
    NOT_LIVE = 4, "not a live face", "非活体"
    BLACKLIST = 5, "blacklist", "黑名单"


class Mask(CodeTable):
    DETECTION_OFF = 0, "mask detection off", "未启用"
    NO_MASK = 1, "no mask", "未戴"
    MASK_WORN = 2, "mask worn", "佩戴"


class Mode(CodeTable):
    FACE = 0, "face", "刷脸"
    FACE_OR_CARD = 1, "face or card", "刷脸或刷卡"
    FACE_AND_CARD = 2, "face and card", "刷脸且刷卡"
    FACE_OR_CARD_OR_QR_OR_PIN = 3, "face or card or QR code or PIN", "刷脸或刷卡或刷二维码或PIN"
    ID_CARD = 4, "ID card", "刷身份证"
    FACE_OR_ID_CARD = 5, "face or ID card", "刷脸或刷身份证"
    FACE_AND_ID_CARD = 6, "face and ID card", "刷脸且刷身份证"
    FACE_AND_PIN = 7, "face and PIN", "刷脸且PIN"
    FACE_AND_CARD_AND_PIN = 8, "face and card and PIN", "刷脸且刷卡且PIN"
    CARD_AND_PIN = 9, "card and PIN", "刷卡且PIN"


class EntryMode(CodeTable):
    FACE = 1, "face", "刷脸"
    QR_CODE = 2, "QR code", "二维码"
    CARD = 3, "card", "刷卡"
    FACE_PLUS_CARD = 4, "face + card", "刷脸+刷卡"
    ID_CARD = 5, "ID card", "刷身份证"
    FACE_AND_ID_CARD = 6, "face and ID card", "刷脸且刷身份证"
    HEALTH_CODE = 7, "health code", "刷健康码"
    FACE_PLUS_PIN = 8, "face + PIN", "刷脸+PIN"
    CARD_PLUS_PIN = 9, "card + PIN", "刷卡+PIN"
    FACE_PLUS_CARD_PLUS_PIN = 10, "face + card + PIN", "刷脸+刷卡+PIN"
    EXIT_BUTTON = 11, "exit button", "开门按钮"
    JOB_NUMBER_PLUS_PIN = 12, "job number + PIN", "工号+PIN"


class AbnormalType(CodeTable):
    NONE = 0, "none", "无"
    PERSON_ID_MISMATCH = 10001, "person / ID card mismatch", "人证不匹配"
    PERSON_CARD_MISMATCH = 10002, "person / card mismatch", "人卡不匹配"
    PERSON_CODE_MISMATCH = 10003, "person / code mismatch", "人码不匹配"
    VISITOR_OUTSIDE_VALIDITY = 20001, "visitor outside validity period", "访客不在有效期内"
    OUTSIDE_PASSAGE_TIME = 20002, "outside allowed passage time", "不在通行时间内"
    INVALID_ID_CARD = 30001, "invalid ID card", "无效身份证"
    INVALID_IC_CARD = 30002, "invalid IC card", "无效IC卡"
    INVALID_QR_CODE = 30003, "invalid QR code", "无效二维码"
    ABNORMAL_TEMPERATURE = 40001, "abnormal temperature", "体温异常"
    WRONG_PIN = 70001, "wrong PIN", "PIN码错误"
    TOO_MANY_WRONG_PINS = 70002, "too many wrong PINs", "PIN码错误次数过多"


class UserType(CodeTable):
    EMPLOYEE = 1, "employee", "员工"
    VISITOR = 2, "visitor", "访客"
    BLACKLIST = 5, "blacklist", "黑名单"


class AlarmCode(CodeTable):
    TAMPER = 10001, "tamper (case opened)", "拆机告警"
    DOOR_FORCED = 10002, "door forced open", "强制开门告警"
    DOOR_SENSOR_TIMEOUT = 10003, "door-sensor timeout", "门磁超时告警"
    PASSWORD_ATTACK = 10004, "password attack", "密码攻击告警"
    FIRE = 20003, "fire alarm", "消防告警"


class AlarmStatus(CodeTable):
    RAISED = 1, "alarm raised", "发生告警"
    CLEAR_FAILED = 2, "clearing failed", "告警解除失败"
    CLEARED = 3, "cleared", "告警解除成功"


# Which table each coded field of a record uses; the strict decoder and displays read it.
RECOGNITION_CODE_FIELDS: dict[str, type[CodeTable]] = {
    "recognitionType": RecognitionType,
    "mask": Mask,
    "mode": Mode,
    "entry_mode": EntryMode,
    "abnormal_type": AbnormalType,
}
USER_CODE_FIELDS: dict[str, type[CodeTable]] = {"type": UserType}
ALARM_CODE_FIELDS: dict[str, type[CodeTable]] = {"code": AlarmCode, "status": AlarmStatus}
