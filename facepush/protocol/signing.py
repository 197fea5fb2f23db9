"""Standard Webhooks signatures (Part 3): optional signing of each push.

`webhook-id` is the record's identity (stable across retries), `webhook-timestamp` the send
time in seconds, `webhook-signature` is `v1,` + base64(HMAC-SHA256(secret, id.ts.body)).
Secrets are written `whsec_` + base64, as the reference libraries expect.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping

from facepush.errors import (
    SignatureError as SignatureError,  # defined in facepush.errors; exported here as before
)

TOLERANCE_S = 300  # the reference libraries' window for webhook-timestamp
_PREFIX = "whsec_"
MIN_KEY_BYTES = 16  # a shorter HMAC key is guessable; the reference secrets are 24-32 bytes


def parse_secret(secret: str) -> bytes:
    """The key bytes of a `whsec_...` secret; raises SignatureError when it is unusable."""
    text = secret[len(_PREFIX) :] if secret.startswith(_PREFIX) else secret
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) < MIN_KEY_BYTES:
        raise SignatureError(
            f"signing secret must be whsec_ followed by at least {MIN_KEY_BYTES} key bytes in "
            "base64 (e.g. whsec_ + `openssl rand -base64 32`)"
        )
    return key


def signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode(), hashlib.sha256)
    mac.update(body)  # not concatenated: no copy of a large body (and hashlib frees the GIL)
    return "v1," + base64.b64encode(mac.digest()).decode()


def sign_headers(key: bytes, msg_id: str, body: bytes, now: float | None = None) -> dict[str, str]:
    timestamp = int(time.time() if now is None else now)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(key, msg_id, timestamp, body),
    }


def check_headers(headers: Mapping[str, str], now: float | None = None) -> tuple[str, int, str]:
    """The `webhook-id`, timestamp and signatures of a push, if present, well formed and
    fresh; raises SignatureError otherwise. Needs no body: a receiver can refuse an unsigned
    push before reading it."""
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id = lowered.get("webhook-id", "")
    stamp = lowered.get("webhook-timestamp", "")
    sigs = lowered.get("webhook-signature", "")
    missing = [n for n, v in (("id", msg_id), ("timestamp", stamp), ("signature", sigs)) if not v]
    if missing:
        raise SignatureError(
            f"missing webhook-{missing[0]} header (the push is not signed)", "missing"
        )
    try:
        timestamp = int(stamp)
    except ValueError:
        raise SignatureError(
            f"webhook-timestamp {stamp!r} is not a Unix time", "malformed"
        ) from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > TOLERANCE_S:
        raise SignatureError(
            f"webhook-timestamp is {int(current - timestamp)} s off (max 300)", "stale"
        )
    return msg_id, timestamp, sigs


def verify(key: bytes, headers: Mapping[str, str], body: bytes, now: float | None = None) -> str:
    """Check a push's signature; returns its `webhook-id` or raises SignatureError."""
    msg_id, timestamp, sigs = check_headers(headers, now)
    expected = signature(key, msg_id, timestamp, body)
    if any(hmac.compare_digest(expected, s) for s in sigs.split(" ") if s.startswith("v1,")):
        return msg_id
    raise SignatureError(
        "webhook-signature does not match (wrong secret or altered body)", "mismatch"
    )
