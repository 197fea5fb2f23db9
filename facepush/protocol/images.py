"""Snapshot rules: `rgb_image` and `alarm_photo` are base64 JPEG; a blank string means none.

An image is at most MAX_IMAGE_BYTES of JPEG; a larger one is an ImageError like any other
unusable image, so that the receiver keeps the record and flags the image (ruling 7).
"""

from __future__ import annotations

import base64
import binascii

import pybase64

from facepush.errors import ImageError
from facepush.protocol.limits import MAX_IMAGE_BYTES

# The longest base64 text of an image within the bound (4 characters per 3 bytes).
MAX_IMAGE_TEXT = -(-MAX_IMAGE_BYTES // 3) * 4

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
    if len(text) > MAX_IMAGE_TEXT:
        raise ImageError(
            f"too large: {len(text)} characters of base64, more than the "
            f"{MAX_IMAGE_BYTES // (1024 * 1024)} MiB an image may have"
        )
    try:
        # pybase64 (SIMD) takes a few µs for 40 KB where the standard library takes
        # ~130 µs, holding the GIL all that time: on the receiver's event loop that was a
        # quarter of every snapshot push. Same strict rules (no whitespace, no junk).
        raw = pybase64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageError(f"not valid base64: {exc}") from None
    if not raw.startswith(JPEG_MAGIC):
        raise ImageError(f"not a JPEG image (starts with {raw[:4].hex() or 'nothing'})")
    return raw


def encode_image(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
