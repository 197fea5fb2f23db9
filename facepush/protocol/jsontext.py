"""Parsing JSON text, with the one leniency real terminals need: trailing commas.

The vendor's own alarm example ends `"alarm_photo":" ",}`. Strict JSON is tried first, so
the repair costs nothing on well-formed bodies. The repair is attempted only for the error
it repairs: msgspec names the byte of the closer after a trailing comma, so that one comma
is removed and the text parsed again (in C, never a regex over the body), at most
MAX_REPAIRS times and only for bodies up to MAX_REPAIR_BYTES; anything else is refused with
the parser's first error at once.
"""

from __future__ import annotations

import codecs
import re
from typing import Any

import msgspec

from facepush.errors import DecodeError

_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()

# One repair is one more parse of the whole body: bounded, so that a hostile body full of
# trailing commas costs a few parses, not one per comma.
MAX_REPAIRS = 8
# A record with its image stays far below this (a 4 MiB JPEG is 5.6 MB of base64).
MAX_REPAIR_BYTES = 8 * 1024 * 1024

_TRAILING_COMMA = re.compile(r"trailing comma in (?:object|array) \(byte (\d+)\)")
_WHITESPACE = b" \t\r\n"
_SLICE = 1024 * 1024


def parse_json(body: bytes | str, *, lenient: bool = True) -> Any:
    """Parse a JSON document; raises DecodeError with path `body` when it is not JSON."""
    try:
        return _decoder.decode(body)
    except msgspec.DecodeError as exc:
        first = exc
    except RecursionError:
        raise DecodeError("body", "JSON nested too deeply") from None
    if lenient and len(body) <= MAX_REPAIR_BYTES:
        if isinstance(body, bytes):
            _check_utf8(body)
        if _TRAILING_COMMA.search(str(first)):
            repaired = _without_trailing_commas(body.encode() if isinstance(body, str) else body)
            if repaired is not None:
                return repaired
    raise DecodeError("body", f"not valid JSON: {_plain(str(first))}")


def _check_utf8(body: bytes) -> None:
    # The parser says only "invalid character"; this names the byte. A slice at a time, so
    # that a thread decoding a large body off an event loop lets the loop run in between.
    decoder = codecs.getincrementaldecoder("utf-8")()
    for start in range(0, len(body), _SLICE):
        try:
            decoder.decode(body[start : start + _SLICE], final=start + _SLICE >= len(body))
        except UnicodeDecodeError as exc:
            problem = f"not valid UTF-8 ({exc.reason} at byte {start + exc.start})"
            raise DecodeError("body", problem) from None


def _without_trailing_commas(body: bytes) -> Any | None:
    """The document with its trailing commas removed, or None when that does not make it
    JSON within MAX_REPAIRS parses."""
    text = bytearray(body)
    for _ in range(MAX_REPAIRS):
        try:
            return _decoder.decode(text)
        except RecursionError:
            raise DecodeError("body", "JSON nested too deeply") from None
        except msgspec.DecodeError as exc:
            match = _TRAILING_COMMA.search(str(exc))
            if match is None:
                return None
            comma = _comma_before(text, int(match.group(1)))
            if comma is None:
                return None
            del text[comma]
    return None


def _comma_before(text: bytearray, closer: int) -> int | None:
    """The index of the comma that precedes the closer at `closer`, past whitespace."""
    i = closer - 1
    while i >= 0 and text[i] in _WHITESPACE:
        i -= 1
    return i if i >= 0 and text[i] == ord(",") else None


def dump_json(value: Any) -> bytes:
    return _encoder.encode(value)


def _plain(message: str) -> str:
    text = message.replace("`", "")
    return text if text[1:2].isupper() else text[:1].lower() + text[1:]
