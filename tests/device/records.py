"""Test records: small recognition and alarm envelopes with unique identities."""

from __future__ import annotations

from typing import Any


def recognition(n: int, image: str = " ", **extra: Any) -> dict[str, Any]:
    return {
        "type": 0,
        "data": {
            "deviceSN": "PSC700C0MC22F02542",
            "uuid": f"rec-{n:06d}",
            "recognitionType": 1,
            "timestamp": 1685343715 + n,
            "pass": True,
            "rgb_image": image,
            "user": {"name": "王五", "user_id": "5", "type": 1},
            **extra,
        },
    }


def alarm(n: int, status: int = 1) -> dict[str, Any]:
    return {
        "type": 1,
        "data": {
            "trace_id": f"SPX-{n:06d}",
            "code": 20003,
            "event_time": 1684381433398 + n,
            "status": status,
            "description": " ",
        },
    }


def rkey(n: int) -> str:
    return f"r:rec-{n:06d}"


def akey(n: int, status: int = 1) -> str:
    return f"a:SPX-{n:06d}:{status}:{1684381433398 + n}"
