"""Snapshot rules: `rgb_image` and `alarm_photo` are base64 JPEG; a blank string means none."""

from __future__ import annotations

import base64
import binascii

from facepush.errors import ImageError

JPEG_MAGIC = b"\xff\xd8\xff"
_DATA_URI_PREFIX = "data:image/jpeg;base64,"


def is_blank(value: object) -> bool:
    """True for an absent image: None, "" or whitespace only (the vendor's `" "`)."""
    return value is None or (isinstance(value, str) and not value.strip())


def decode_image(value: str) -> bytes:
    """The JPEG bytes of a base64 snapshot; raises ImageError saying what is wrong."""
    text = value.strip()
    if text.startswith(_DATA_URI_PREFIX):
        text = text[len(_DATA_URI_PREFIX) :]
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageError(f"not valid base64: {exc}") from None
    if not raw.startswith(JPEG_MAGIC):
        raise ImageError(f"not a JPEG image (starts with {raw[:4].hex() or 'nothing'})")
    return raw


def encode_image(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
