"""The vendor's numbers, and the bounds on what one pushed record may hold (checked by
the decoder after normalisation).

The vendor's document bounds almost nothing (`remark` "at most 256 bytes" is the one text
limit), so without bounds a single push could make a receiver store, index and serve a
15 MiB "name". These bounds are generous (every real record is far below them) and each
refusal names the field. The receiver and the terminal's intake apply them alike, through
the one decoder.

- identity and indexed text (`uuid`, `trace_id`, `deviceSN`, `user_id`): 1,024 bytes of
  UTF-8 (MAX_IDENTITY_BYTES, what a terminal can send as a header), no NUL;
- any other text (known or unknown field, object keys too): 4,096 characters;
- one array (`groups`, or an unknown field's): 1,024 entries; nesting: 32 levels;
- the record without its image (compact JSON, envelope included): 64 KiB;
- one image (`rgb_image`, `alarm_photo`): 4 MiB of JPEG (base64 text up to 5,592,408
  characters); a larger one is not stored, the record is kept with its image flagged
  (ruling 7, see images.py);
- a time (`timestamp`, `event_time` after the seconds→ms rule; `guest_time_*`): 0 …
  253,402,300,799,999 ms (1970-01-01 to 9999-12-31);
- an integer the vendor types `int` (codes, `status`, `type`, …): 32 bits signed (a Java
  int, and PostgreSQL's INTEGER); any other integer (`long`, times): 64 bits signed.
"""

from __future__ import annotations

from typing import Any

from facepush.errors import DecodeError
from facepush.protocol.identity import MAX_IDENTITY_BYTES
from facepush.protocol.jsontext import dump_json

# "The terminal caches at most 50,000 offline records" (push-protocol.md; ruling 8 of
# docs/protocol-rulings.md: recognitions and alarms together). The device's default
# --cache-limit, the outboxes' default cap, and the fleet's smallest outbox.
CACHE_LIMIT = 50_000

# Bytes of UTF-8: what a terminal can send as the `webhook-id` header (identity.py), and
# well inside PostgreSQL's B-tree entries (~2.7 KB), which index these columns.
MAX_IDENT = MAX_IDENTITY_BYTES
MAX_TEXT = 4096  # characters
MAX_ITEMS = 1024
MAX_DEPTH = 32
MAX_RECORD_BYTES = 64 * 1024
MAX_IMAGE_BYTES = 4 * 1024 * 1024
MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z: what ISO 8601 and JS Date can show
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
IMAGE_FIELDS = ("rgb_image", "alarm_photo")
# Re-encoded compactly, JSON text grows at most 4.5 times (a float written `1e15` comes
# back as `1000000000000000.0`; everything else stays or shrinks): a record parsed from at
# most this much text cannot exceed MAX_RECORD_BYTES, and need not be re-encoded to know.
SURELY_SMALL_TEXT = MAX_RECORD_BYTES * 2 // 9
_SLICE = 1024 * 1024


def check_body(body: bytes | str) -> None:
    """Refuse, before parsing it, a body that cannot hold one record within the bounds.

    Parsing costs time in proportion to the number of JSON values, which only commas
    multiply; an image is base64 (no commas but its `data:` prefix), so a record within
    MAX_RECORD_BYTES never has more commas than that. A 15 MiB array of empty objects
    would otherwise take seconds to parse, only to be refused for its size.
    """
    if len(body) <= MAX_RECORD_BYTES:
        return
    comma: Any = b"," if isinstance(body, bytes) else ","
    # Counted a slice at a time: between slices another thread (the event loop of a
    # receiver decoding this off its loop) gets the interpreter.
    commas = sum(body.count(comma, i, i + _SLICE) for i in range(0, len(body), _SLICE))
    if commas > MAX_RECORD_BYTES + len(IMAGE_FIELDS):
        raise DecodeError(
            "body",
            f"holds {commas} commas: more JSON values than one record can have (a record "
            f"without its image is at most {MAX_RECORD_BYTES} bytes)",
        )


def check_ident(value: str | None, path: str) -> None:
    """An identity or indexed text: at most MAX_IDENT bytes of UTF-8, and no NUL
    (PostgreSQL text cannot hold it, and no escaping keeps `a\\0` and a literal `a\\u0000`
    apart without rewriting every key)."""
    if value is None:
        return
    nul = value.find("\x00")
    if nul >= 0:
        raise DecodeError(
            path,
            f"holds the control character U+0000 (NUL) at offset {nul}, which no stored text "
            "can hold",
        )
    # Characters bound bytes from below: only a long text needs encoding to know its size.
    if len(value) > MAX_IDENT:
        raise DecodeError(path, f"is longer than {MAX_IDENT} bytes ({len(value)} characters)")
    if len(value) * 4 > MAX_IDENT and len(value.encode("utf-8", "surrogatepass")) > MAX_IDENT:
        size = len(value.encode("utf-8", "surrogatepass"))
        raise DecodeError(path, f"is longer than {MAX_IDENT} bytes of UTF-8 ({size})")


def check_time(value: int | None, ms: int | None, path: str) -> None:
    """`value` as pushed, `ms` after normalisation, within 1970 … 9999."""
    if value is None or ms is None or 0 <= ms <= MAX_MS:
        return
    shown = f"{value}" if value == ms else f"{value} (= {ms} ms after the seconds→ms rule)"
    raise DecodeError(path, f"{shown} is not a time between 1970 and 9999 (0 … {MAX_MS} ms)")


def check_unknown(extra: dict[str, Any], path: str, depth: int) -> None:
    """Text, arrays and nesting of fields the protocol does not name, at `depth` below
    `data`; the record's total size bounds everything else."""
    stack: list[tuple[Any, str, int]] = [(extra, path, depth)]
    while stack:
        value, where, level = stack.pop()
        if level > MAX_DEPTH:
            raise DecodeError(where, f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            for key, item in value.items():
                if len(key) > MAX_TEXT:
                    raise DecodeError(
                        where, f"has a key of {len(key)} characters; at most {MAX_TEXT}"
                    )
                _check_scalar(item, f"{where}.{key}" if where else key, level, stack)
        elif isinstance(value, list):
            if len(value) > MAX_ITEMS:
                raise DecodeError(where, f"has {len(value)} entries; at most {MAX_ITEMS}")
            for i, item in enumerate(value):
                _check_scalar(item, f"{where}[{i}]", level, stack)


def _check_scalar(item: Any, where: str, level: int, stack: list[tuple[Any, str, int]]) -> None:
    if isinstance(item, str):
        if len(item) > MAX_TEXT:
            raise DecodeError(where, f"is {len(item)} characters long; at most {MAX_TEXT}")
    elif isinstance(item, dict | list):
        stack.append((item, where, level + 1))


def check_size(envelope: dict[str, Any], data: dict[str, Any], path: str) -> None:
    """The record without its image, as compact JSON, within MAX_RECORD_BYTES."""
    images = [name for name in IMAGE_FIELDS if name in data]
    if images:
        data = {k: v for k, v in data.items() if k not in images}
    size = len(dump_json({**envelope, "data": data}))
    if size > MAX_RECORD_BYTES:
        raise DecodeError(
            path or "body",
            f"the record without its image is {size} bytes of JSON; at most {MAX_RECORD_BYTES}",
        )
