"""Attendance from test records: the passages the receiver's attendance rules read."""

from __future__ import annotations

from typing import Any

from facepush.protocol import decode_push
from facepush.protocol.jsontext import dump_json
from facepush.receiver.attendance.rules import Passage, person_kind

SN = "GATE-SIM-01"  # the serial every passage gets


def passages(records: list[dict[str, Any]]) -> list[Passage]:
    """The passages of `records` (envelopes), in order, each from the terminal `SN`."""
    out = []
    for n, record in enumerate(records):
        data = decode_push(dump_json(record)).data
        user = getattr(data, "user", None)
        assert data.occurred_at is not None
        out.append(
            Passage(
                occurred_at=data.occurred_at,
                user_id=user.user_id if user else None,
                device=SN,
                name=user.name if user else None,
                passed=bool(getattr(data, "passed", False)),
                kind=person_kind(
                    getattr(data, "recognitionType", None), user.type if user else None
                ),
                id=n,
            )
        )
    return out
