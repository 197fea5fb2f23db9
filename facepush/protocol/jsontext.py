"""Parsing JSON text, with the one leniency real terminals need: trailing commas.

The vendor's own alarm example ends `"alarm_photo":" ",}`. Strict JSON is tried first, so
the repair costs nothing on well-formed bodies.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from facepush.errors import DecodeError

_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()

# A JSON string literal (kept as is) or a comma followed only by whitespace and a closer.
_STRING_OR_TRAILING_COMMA = re.compile(r'"(?:[^"\\]|\\.)*"|,(?=\s*[}\]])', re.DOTALL)


def _drop_trailing_commas(text: str) -> str:
    return _STRING_OR_TRAILING_COMMA.sub(lambda m: m.group(0) if m.group(0) != "," else "", text)


def parse_json(body: bytes | str, *, lenient: bool = True) -> Any:
    """Parse a JSON document; raises DecodeError with path `body` when it is not JSON."""
    try:
        return _decoder.decode(body)
    except msgspec.DecodeError as exc:
        first = exc
    except RecursionError:
        raise DecodeError("body", "JSON nested too deeply") from None
    if lenient:
        text = body
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError as exc:
                problem = f"not valid UTF-8 ({exc.reason} at byte {exc.start})"
                raise DecodeError("body", problem) from None
        repaired = _drop_trailing_commas(text)
        if repaired != text:
            try:
                return _decoder.decode(repaired)
            except (msgspec.DecodeError, RecursionError):
                pass
    raise DecodeError("body", f"not valid JSON: {_plain(str(first))}")


def dump_json(value: Any) -> bytes:
    return _encoder.encode(value)


def _plain(message: str) -> str:
    text = message.replace("`", "")
    return text if text[1:2].isupper() else text[:1].lower() + text[1:]
