"""The push protocol in one place: wire models, code tables and rules.

The device, the receiver and the tools import these; none of them re-states a rule.
"Ruling N" in this package (and elsewhere) is a ruling of docs/protocol-rulings.md.
"""

from facepush.protocol.ack import (
    DeliveryOutcome,
    Verdict,
    classify_reply,
    failure_reply,
    success_reply,
)
from facepush.protocol.codes import (
    AbnormalType,
    AlarmCode,
    AlarmStatus,
    CodeTable,
    EntryMode,
    EventType,
    Mask,
    Mode,
    RecognitionType,
    UserType,
)
from facepush.protocol.decode import decode_object, decode_push, decode_pushes
from facepush.protocol.encode import push_to_plain, to_plain
from facepush.protocol.identity import (
    MAX_IDENTITY_BYTES,
    alarm_key,
    check_sendable,
    header_problem,
    recognition_key,
)
from facepush.protocol.images import decode_image, encode_image, is_blank
from facepush.protocol.jsontext import dump_json, parse_json
from facepush.protocol.limits import CACHE_LIMIT
from facepush.protocol.models import (
    Alarm,
    Event,
    Group,
    Push,
    Recognition,
    Reply,
    Subscription,
    User,
)
from facepush.protocol.subscription import MAX_DEST_LENGTH, apply_update, validate_dest
from facepush.protocol.times import now_ms, to_ms

__all__ = [
    "CACHE_LIMIT",
    "MAX_DEST_LENGTH",
    "MAX_IDENTITY_BYTES",
    "AbnormalType",
    "Alarm",
    "AlarmCode",
    "AlarmStatus",
    "CodeTable",
    "DeliveryOutcome",
    "EntryMode",
    "Event",
    "EventType",
    "Group",
    "Mask",
    "Mode",
    "Push",
    "Recognition",
    "RecognitionType",
    "Reply",
    "Subscription",
    "User",
    "UserType",
    "Verdict",
    "alarm_key",
    "apply_update",
    "check_sendable",
    "classify_reply",
    "decode_image",
    "decode_object",
    "decode_push",
    "decode_pushes",
    "dump_json",
    "encode_image",
    "failure_reply",
    "header_problem",
    "is_blank",
    "now_ms",
    "parse_json",
    "push_to_plain",
    "recognition_key",
    "success_reply",
    "to_ms",
    "to_plain",
    "validate_dest",
]
