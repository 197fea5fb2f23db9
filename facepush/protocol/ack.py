"""What counts as delivered (ruling 2), what the receiver answers, and what is a refusal.
Rulings: docs/protocol-rulings.md.

A push is delivered only when the reply is HTTP 2xx and its JSON body has `code == 200`.
Everything else keeps the record cached. A *specific* refusal (HTTP 4xx other than 408/429,
or a JSON code 400-499) may mean this one record is unacceptable; the device decides from
that, together with whether other records get through, whether to set it aside (Part 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

import msgspec

from facepush.protocol.jsontext import dump_json
from facepush.protocol.models import Reply

SUCCESS = 200
_RETRYABLE_4XX = {408, 429}
_reply_decoder = msgspec.json.Decoder(Reply)


class DeliveryOutcome(Enum):
    """How one delivery attempt of a push ended, judged from the receiver's reply."""

    DELIVERED = "delivered"  # acknowledged: the record may be removed from the cache
    RETRY = "retry"  # the receiver is down, failing or slow: keep and retry
    REFUSED = "refused"  # the receiver refused this record specifically


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: DeliveryOutcome
    reason: str  # why, in words, for status pages and logs ("" when delivered)

    @property
    def delivered(self) -> bool:
        return self.outcome is DeliveryOutcome.DELIVERED


def classify_reply(status: int, body: bytes) -> Verdict:
    """Judge a receiver's HTTP reply to one push."""
    if 400 <= status < 500 and status not in _RETRYABLE_4XX:
        return Verdict(DeliveryOutcome.REFUSED, f"HTTP {status}{_detail(body)}")
    if not 200 <= status < 300:
        return Verdict(DeliveryOutcome.RETRY, f"HTTP {status}{_detail(body)}")
    try:
        reply = _reply_decoder.decode(body)
    except msgspec.DecodeError:
        return Verdict(DeliveryOutcome.RETRY, f"HTTP {status} with a body that is not a JSON reply")
    if reply.code == SUCCESS:
        return Verdict(DeliveryOutcome.DELIVERED, "")
    reason = f"reply code {reply.code}" + (f": {reply.text}" if reply.text else "")
    if 400 <= reply.code < 500:
        return Verdict(DeliveryOutcome.REFUSED, reason)
    return Verdict(DeliveryOutcome.RETRY, reason)


def _detail(body: bytes) -> str:
    try:
        reply = _reply_decoder.decode(body)
    except msgspec.DecodeError:
        return ""
    return f" (code {reply.code}: {reply.text})" if reply.text else f" (code {reply.code})"


def success_reply() -> bytes:
    """The receiver's acknowledgement; both `msg` and `message` (ruling 1)."""
    return _SUCCESS_BODY


def failure_reply(code: int, text: str, data: Any = None) -> bytes:
    """A receiver's refusal: a non-200 code and a message naming the problem."""
    return dump_json({"code": code, "msg": text, "message": text, "data": data or {}})


_SUCCESS_BODY = dump_json({"code": SUCCESS, "msg": "success", "message": "success", "data": {}})
