"""Parsing the query parameters of the API; every error names the parameter.

Numbers are ASCII digits only, within the range of the column they are compared with:
Python's `int()` also takes `²`, `١٢`, `1_000` and ` 7 `, and a 5,000-digit number or one
beyond 64 bits fails only inside the database driver, as a 500. Text filters are compared
with stored text, which never holds NUL (PostgreSQL text cannot; the receiver keeps a NUL
pushed in a serial or user id escaped), so a NUL is refused here instead of reaching the
driver as a 503.
"""

from __future__ import annotations

import base64
import binascii
import re

from multidict import MultiMapping

from facepush.errors import BadQuery
from facepush.receiver.store import EventFilter

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_TYPES = {"0": 0, "1": 1, "recognition": 0, "alarm": 1}
ORIGINS = ("push", "history")  # how a stored record came (the `origin` column)
_BOOLS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
# At most 19 digits: every int64 fits, and nothing longer is ever converted.
_INTEGER = re.compile(r"-?[0-9]{1,19}", re.ASCII)
_SHOWN = 40  # characters of a refused value echoed back in the message

# Cursor kinds: a receipt position (events, quarantine) or a position in a list (devices,
# alarms). A cursor of one kind is refused by the others.
EVENTS = "e1"
DEVICES = "d1"
ALARMS = "a1"


def shown(value: str) -> str:
    """`value` for an error message, cut short when long."""
    if len(value) <= _SHOWN:
        return repr(value)
    return f"{value[:_SHOWN]!r}… ({len(value)} characters)"


def _whole_number(value: str, low: int, high: int) -> int | None:
    if not _INTEGER.fullmatch(value):
        return None
    number = int(value)
    return number if low <= number <= high else None


def event_filter(query: MultiMapping[str]) -> EventFilter:
    type_text = query.get("type")
    type_ = None
    if type_text is not None:
        if type_text.lower() not in _TYPES:
            raise BadQuery("type", f"{shown(type_text)} is not 0, 1, recognition or alarm")
        type_ = _TYPES[type_text.lower()]
    pass_text = query.get("pass")
    passed = None
    if pass_text is not None:
        if pass_text.lower() not in _BOOLS:
            raise BadQuery("pass", f"{shown(pass_text)} is not true or false")
        passed = _BOOLS[pass_text.lower()]
    origin = query.get("origin")
    if origin is not None and origin not in ORIGINS:
        raise BadQuery("origin", f"{shown(origin)} is not {' or '.join(ORIGINS)}")
    return EventFilter(
        type=type_,
        device=text(query, "device"),
        user_id=text(query, "user_id"),
        passed=passed,
        since=integer(query, "since"),
        until=integer(query, "until"),
        origin=origin,
    )


def text(query: MultiMapping[str], name: str) -> str | None:
    value = query.get(name)
    if value is None:
        return None
    return checked_text(name, value)


def checked_text(name: str, value: str) -> str:
    """A text value compared with stored text: not empty, no NUL."""
    if not value:
        raise BadQuery(name, "must not be empty")
    if "\x00" in value:
        raise BadQuery(
            name,
            "contains NUL (U+0000), which no stored value holds (a NUL pushed in a serial "
            "or id is kept as the six characters \\u0000)",
        )
    return value


def integer(query: MultiMapping[str], name: str) -> int | None:
    """A time in milliseconds: ASCII digits with an optional '-', within 64 bits."""
    value = query.get(name)
    if value is None:
        return None
    number = _whole_number(value, INT64_MIN, INT64_MAX)
    if number is None:
        raise BadQuery(
            name,
            f"{shown(value)} is not a whole number of milliseconds "
            f"(ASCII digits, {INT64_MIN} to {INT64_MAX})",
        )
    return number


def limit(query: MultiMapping[str], default: int = DEFAULT_LIMIT) -> int:
    value = query.get("limit")
    if value is None:
        return default
    number = _whole_number(value, 1, MAX_LIMIT)
    if number is None or value.startswith("-"):
        raise BadQuery("limit", f"{shown(value)} is not a number from 1 to {MAX_LIMIT}")
    return number


def encode_cursor(position: int, kind: str = EVENTS) -> str:
    """Opaque to clients: a receipt position (`e1`) or an offset in a list (`d1`, `a1`)."""
    return base64.urlsafe_b64encode(f"{kind}:{position}".encode()).decode().rstrip("=")


def decode_cursor(query: MultiMapping[str], kind: str = EVENTS) -> int | None:
    value = query.get("cursor")
    if value is None or value == "":
        return None
    position = None
    if len(value) <= 64:
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raw = ""
        prefix, _, rest = raw.partition(":")
        if prefix == kind and not rest.startswith("-"):
            # Receipt positions start at 1, list offsets at 0; both fit a BIGINT.
            position = _whole_number(rest, 1 if kind == EVENTS else 0, INT64_MAX)
    if position is None:
        raise BadQuery(
            "cursor", "is not a cursor this endpoint returned (pass data.next as it came)"
        )
    return position
