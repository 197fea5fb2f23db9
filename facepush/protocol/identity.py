"""The identity rule of each event kind (ruling 6): the key used for de-duplication.
Rulings: docs/protocol-rulings.md.

A recognition is identified by its `uuid`; an alarm report by (`trace_id`, `status`,
`event_time`), since one alarm has several reports over its life. The key is also the
`webhook-id` of a signed push, so it must be stable across retries.
"""

from __future__ import annotations

from typing import Any


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
