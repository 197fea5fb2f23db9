"""What a sink is given: one stored record, ready to send."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from facepush.receiver.forward.positions import Cursor
from facepush.receiver.records import row_body
from facepush.receiver.store import EventRow

Kind = Literal["recognition", "alarm"]
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_item = msgspec.json.Decoder(dict[str, Any])


@dataclass(slots=True)  # not frozen: made for every record, and frozen costs in __init__
class Record:
    cursor: Cursor
    event_id: int
    key: str  # the record's identity: webhook-id, Nats-Msg-Id
    kind: Kind
    device: str  # the `{device}` of topics and subjects
    late: bool
    received_at: int
    body: bytes  # exactly one item of /api/events, as JSON: the message body
    image: bytes | None = None  # the snapshot, for sinks that want it (Home Assistant)

    @property
    def item(self) -> dict[str, Any]:
        """The body decoded (only Home Assistant's messages need its values)."""
        return _item.decode(self.body)


def device_of(row: EventRow) -> str:
    """The terminal's serial, or for a record without one the sender's address with `.`
    and `:` as `_`; any other character that a topic or subject cannot hold also becomes
    `_` (`/`, `+`, `#`, `*`, `>`, spaces)."""
    name = row.device or row.source or "unknown"
    return _UNSAFE.sub("_", name) or "unknown"


def record_of(cursor: Cursor, row: EventRow, image: bytes | None = None) -> Record:
    return Record(
        cursor,
        row.id,
        row.key,
        "alarm" if row.type == 1 else "recognition",
        device_of(row),
        row.late,
        row.received_at,
        row_body(row),
        image,
    )
