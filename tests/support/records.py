"""The one builder of test records: recognition (type 0) and alarm (type 1) envelopes, with
the JPEGs and request bodies the tests push.

A record's identity is the builder's first argument: a string is its uuid (trace id); an
int `n` numbers it, giving it the uuid `rec-{n:06d}` (`SPX-{n:06d}`) and a fixed time
`n` seconds (ms) after a base, so that a numbered record is the same on every call and its
key is `rkey(n)` (`akey(n)`); None gives a fresh uuid4 and the current time. The other
arguments set the fields the tests vary; `**extra` adds or overrides data fields as given.
"""

from __future__ import annotations

import base64
import io
import json
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

from PIL import Image

from facepush.tools.faces import door_jpeg, face_jpeg

DEVICE_SN = "PSC700C0MC22F02542"
BASE_S = 1685343715  # Unix seconds of numbered recognition 0
BASE_MS = 1684381433398  # Unix ms of numbered alarm 0

Picture = bytes | int | str | None  # bytes: a JPEG; int: a seed; str: as sent; None: absent


def recognition(
    key: int | str | None = None,
    /,
    *,
    device: str | None = DEVICE_SN,
    name: str | None = "王五",
    user_id: str | None = "5",
    user_type: int | None = 1,
    passed: bool = True,
    timestamp: int | None = None,
    image: Picture = None,
    recognition_type: int = 1,
    entry_mode: int = 1,
    abnormal: int = 0,
    score: float = 0.93,
    temperature: float = 36.5,
    **extra: Any,
) -> dict[str, Any]:
    """A type-0 push; an int `image` seeds a real Pillow-made face JPEG; `device=None` leaves
    out the serial (the terminal fills in its own)."""
    uid, at = _identity(key, "rec", BASE_S, _seconds_for(key))
    data: dict[str, Any] = {
        "deviceSN": device,
        "recognitionType": recognition_type,
        "uuid": uid,
        "recognizeScore": score,
        "mask": 0,
        "mode": 3,
        "pass": passed,
        "timestamp": at if timestamp is None else timestamp,
        "bodyTemperature": temperature,
        "entry_mode": entry_mode,
        "abnormal_type": abnormal,
        "user": {"name": name, "user_id": user_id, "type": user_type, "groups": []},
    }
    if device is None:
        del data["deviceSN"]
    if image is not None:
        data["rgb_image"] = _image(image, face_jpeg)
    return {"type": 0, "data": {**data, **extra}}


def alarm(
    trace_id: int | str | None = None,
    status: int = 1,
    event_time: int | None = None,
    *,
    code: int = 10001,
    description: str = "tamper",
    photo: Picture = None,
    user_id: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A type-1 push; an int `photo` seeds a real Pillow-made door JPEG."""
    trace, at = _identity(trace_id, "SPX", BASE_MS, int(time.time() * 1000))
    data: dict[str, Any] = {
        "trace_id": trace,
        "status": status,
        "event_time": at if event_time is None else event_time,
        "code": code,
        "description": description,
    }
    if photo is not None:
        data["alarm_photo"] = _image(photo, door_jpeg)
    if user_id is not None:
        data["user_id"] = user_id
    return {"type": 1, "data": {**data, **extra}}


def rkey(n: int) -> str:
    """The key of `recognition(n)`."""
    return f"r:rec-{n:06d}"


def akey(n: int, status: int = 1) -> str:
    """The key of `alarm(n, status)`."""
    return f"a:SPX-{n:06d}:{status}:{BASE_MS + n}"


# A recognition's key is its uuid alone, and its time is content: the same uuid built twice
# a second apart would be a *conflict* (issue 10), not the duplicate the test means. So a
# named uuid keeps the time of its first build for a while (short enough never to make a
# record late).
_SAME_TIME_S = 10
_first_built: dict[str, int] = {}


def _seconds_for(key: int | str | None) -> int:
    now = int(time.time())
    if not isinstance(key, str):
        return now
    first = _first_built.get(key)
    if first is None or now - first > _SAME_TIME_S:
        _first_built[key] = first = now
    return first


def _identity(key: int | str | None, prefix: str, base: int, now: int) -> tuple[str, int]:
    if isinstance(key, int):
        return f"{prefix}-{key:06d}", base + key
    return key or str(uuid.uuid4()), now


def _image(image: bytes | int | str, made: Callable[[int], bytes]) -> str:
    if isinstance(image, int):
        image = made(image)
    return base64.b64encode(image).decode() if isinstance(image, bytes) else image


def jpeg(seed: int = 0, size: int = 16, noise: bool = False) -> bytes:
    """A real JPEG; different seeds give different bytes."""
    rng = random.Random(seed)
    if noise:
        picture = Image.frombytes("RGB", (size, size), rng.randbytes(size * size * 3))
    else:
        picture = Image.new("RGB", (size, size), (rng.randrange(256), seed % 256, 7))
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=90)
    return out.getvalue()


def body(record: dict[str, Any]) -> bytes:
    """A record as the request body a terminal sends."""
    return json.dumps(record, ensure_ascii=False).encode()
