"""Parsing the query parameters of the API; every error names the parameter."""

from __future__ import annotations

import base64
import binascii

from multidict import MultiMapping

from facepush.receiver.errors import BadQuery
from facepush.receiver.store import EventFilter

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_TYPES = {"0": 0, "1": 1, "recognition": 0, "alarm": 1}
_BOOLS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
_CURSOR_PREFIX = "e1:"


def event_filter(query: MultiMapping[str]) -> EventFilter:
    type_text = query.get("type")
    type_ = None
    if type_text is not None:
        if type_text.lower() not in _TYPES:
            raise BadQuery("type", f"{type_text!r} is not 0, 1, recognition or alarm")
        type_ = _TYPES[type_text.lower()]
    pass_text = query.get("pass")
    passed = None
    if pass_text is not None:
        if pass_text.lower() not in _BOOLS:
            raise BadQuery("pass", f"{pass_text!r} is not true or false")
        passed = _BOOLS[pass_text.lower()]
    return EventFilter(
        type=type_,
        device=_text(query, "device"),
        user_id=_text(query, "user_id"),
        passed=passed,
        since=integer(query, "since"),
        until=integer(query, "until"),
    )


def _text(query: MultiMapping[str], name: str) -> str | None:
    value = query.get(name)
    if value is not None and not value:
        raise BadQuery(name, "must not be empty")
    return value


def integer(query: MultiMapping[str], name: str) -> int | None:
    value = query.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise BadQuery(name, f"{value!r} is not an integer (milliseconds)") from None


def limit(query: MultiMapping[str], default: int = DEFAULT_LIMIT) -> int:
    value = query.get("limit")
    if value is None:
        return default
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise BadQuery("limit", f"{value!r} is not a number from 1 to {MAX_LIMIT}")
    return int(value)


def encode_cursor(row_id: int) -> str:
    """Opaque to clients: the receipt position of the last item returned."""
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{row_id}".encode()).decode().rstrip("=")


def decode_cursor(query: MultiMapping[str]) -> int | None:
    value = query.get("cursor")
    if value is None or value == "":
        return None
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        text = ""
    if not text.startswith(_CURSOR_PREFIX) or not text[len(_CURSOR_PREFIX) :].isdigit():
        raise BadQuery("cursor", "is not a cursor this receiver returned (use data.next as is)")
    return int(text[len(_CURSOR_PREFIX) :])
