"""What a sink is given: one stored record, ready to send."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from facepush.protocol.jsontext import dump_json
from facepush.receiver.forward.positions import Cursor
from facepush.receiver.records import row_item
from facepush.receiver.store import EventRow

Kind = Literal["recognition", "alarm"]
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True, slots=True)
class Record:
    cursor: Cursor
    event_id: int
    key: str  # the record's identity: webhook-id, Nats-Msg-Id
    kind: Kind
    device: str  # the `{device}` of topics and subjects
    late: bool
    received_at: int
    item: dict[str, Any]  # exactly one item of /api/events
    body: bytes  # `item` as JSON: the message body
    image: bytes | None = None  # the snapshot, for sinks that want it (Home Assistant)


def device_of(row: EventRow) -> str:
    """The terminal's serial, or for a record without one the sender's address with `.`
    and `:` as `_`; any other character that a topic or subject cannot hold also becomes
    `_` (`/`, `+`, `#`, `*`, `>`, spaces)."""
    name = row.device or row.source or "unknown"
    return _UNSAFE.sub("_", name) or "unknown"


def record_of(cursor: Cursor, row: EventRow, image: bytes | None = None) -> Record:
    item = row_item(row)
    return Record(
        cursor=cursor,
        event_id=row.id,
        key=row.key,
        kind="alarm" if row.type == 1 else "recognition",
        device=device_of(row),
        late=row.late,
        received_at=row.received_at,
        item=item,
        body=dump_json(item),
        image=image,
    )
