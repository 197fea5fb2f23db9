"""The push every receiver benchmark sends: a SenseTime recognition as a terminal sends it."""

from __future__ import annotations

import json
import time
from typing import Any


def record(uid: str, image_b64: str | None) -> bytes:
    """The body of a recognition push with uuid `uid` and, when given, a base64 snapshot."""
    data: dict[str, Any] = {
        "deviceSN": "PSC700C0MC22F02542",
        "recognitionType": 1,
        "entry_mode": 1,
        "abnormal_type": 0,
        "uuid": uid,
        "recognizeScore": 0.9302213788032532,
        "mask": 0,
        "mode": 3,
        "rgb_image": image_b64 or " ",
        "bodyTemperature": 36.5,
        "pass": True,
        "timestamp": int(time.time()),
        "user": {
            "name": "王五",
            "ic_number": "12345",
            "id_number": "",
            "job_number": "23385",
            "pin": "",
            "user_id": "5",
            "remark": "",
            "guest_time_start": 0,
            "guest_time_end": 0,
            "type": 1,
            "groups": [{"id": "3", "name": "测试3"}, {"id": "4", "name": "测试4"}],
        },
    }
    return json.dumps({"type": 0, "data": data}, ensure_ascii=False).encode()
