"""The identity rule of each event kind (ruling 6): the key used for de-duplication.
Rulings: docs/protocol-rulings.md.

A recognition is identified by its `uuid`; an alarm report by (`trace_id`, `status`,
`event_time`), since one alarm has several reports over its life. The key is also the
`webhook-id` of a signed push, so it must be stable across retries, and a terminal must
be able to send it as an HTTP header value (`header_problem`, `check_sendable`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from facepush.errors import DecodeError
from facepush.protocol.codes import EventType

if TYPE_CHECKING:
    from facepush.protocol.models import Push

# Control characters cannot be sent in a header at all (CR/LF would split it; HTTP
# clients refuse NUL, other C0 controls and DEL); a space at either end is stripped by
# the receiving parser, which would change the signed id. Servers commonly refuse header
# lines over 8 KiB: an identity is kept far below that.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_IDENTITY_BYTES = 1024


def recognition_key(uuid: str) -> str:
    return f"r:{uuid}"


def alarm_key(trace_id: str, status: int, event_time: int) -> str:
    # status and event_time are integers at the end, so a ':' inside trace_id stays unambiguous.
    return f"a:{trace_id}:{status}:{event_time}"


def envelope_key(envelope: dict[str, Any]) -> str:
    """The key of a well-formed envelope dict, without decoding it (for record producers
    that built it themselves; anything else goes through the decoder)."""
    data = envelope["data"]
    if envelope["type"] == 0:
        return recognition_key(data["uuid"])
    return alarm_key(data["trace_id"], data["status"], data["event_time"])


def header_problem(value: str) -> str | None:
    """Why `value` cannot travel as an HTTP header value unchanged, or None if it can."""
    bad = _CONTROL.search(value)
    if bad is not None:
        char = bad.group()
        name = _CONTROL_NAMES.get(char, "")
        return (
            f"holds the control character U+{ord(char):04X}{f' ({name})' if name else ''}"
            f" at offset {bad.start()}"
        )
    if value != value.strip(" "):
        return "begins or ends with a space (a header parser strips it)"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode text (it holds a lone surrogate)"
    return None


def check_sendable(push: Push, path: str = "") -> None:
    """Refuse a record whose identity a terminal could not send as the `webhook-id` header
    of a signed push: raises DecodeError naming the field (`data.uuid`, `[2].data.trace_id`).

    The terminal applies this at intake, signing on or off (signing can be switched on
    while records are cached). A receiver does not: other firmware, which does not sign,
    may send such identities, and refusing them would only make that terminal retry them.
    """
    field = "trace_id" if push.type is EventType.ALARM else "uuid"
    value: str = getattr(push.data, field)
    problem = header_problem(value)
    size = len(value.encode("utf-8")) if problem is None else 0
    if size > MAX_IDENTITY_BYTES:
        problem = f"is longer than {MAX_IDENTITY_BYTES} bytes ({size})"
    if problem is not None:
        where = f"{path}.data.{field}" if path else f"data.{field}"
        raise DecodeError(
            where,
            f"{problem}: a record's identity must be sendable as an HTTP header "
            "(the webhook-id of a signed push); control characters, spaces at "
            f"either end and more than {MAX_IDENTITY_BYTES} bytes are refused",
        )


_CONTROL_NAMES = {"\x00": "NUL", "\t": "tab", "\n": "LF", "\r": "CR", "\x7f": "DEL"}
