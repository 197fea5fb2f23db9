"""The history query of `POST /v1/event/records` and the shape of its items (Part 4.1).

A query body has only optional fields: `begin_time`/`end_time` (Unix seconds, inclusive;
empty or 0 = unbounded), one of `user_id` > `job_number` > `ic_number` (the first one given
filters, ruling H2's priority), `offset`, `limit` (default 100, above 200 taken as 200) and
`sort` (0 ascending, 1 descending by time; records of the same second keep the terminal's
own order either way, as a stable sort does). A refusal names the field.

An item is shaped like the vendor's example: the recognition fields, `groups` beside
`user`, `user` with six keys, and for a face that matched nobody `user.name` and
`user.type` null and the other user fields empty strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from facepush.errors import DecodeError
from facepush.protocol.images import is_blank
from facepush.protocol.models import Recognition, User
from facepush.protocol.times import MS_THRESHOLD, to_ms

DEFAULT_LIMIT, MAX_LIMIT = 100, 200
ASCENDING, DESCENDING = 0, 1
FILTER_FIELDS = ("user_id", "job_number", "ic_number")  # in priority order
QUERY_FIELDS = ("begin_time", "end_time", *FILTER_FIELDS, "offset", "limit", "sort")
INT64_MAX = 2**63 - 1


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """One history request; `filter_field`/`filter_value` is the one identity filter."""

    begin_time: int | None = None  # Unix seconds, inclusive; None = unbounded
    end_time: int | None = None  # Unix seconds, inclusive; None = unbounded
    filter_field: str | None = None  # "user_id", "job_number" or "ic_number"
    filter_value: str | None = None
    offset: int = 0
    limit: int = DEFAULT_LIMIT  # 0 asks only for `total`
    descending: bool = False

    def to_body(self) -> dict[str, Any]:
        """The request body a client sends for this query."""
        body: dict[str, Any] = {
            "offset": self.offset,
            "limit": self.limit,
            "sort": DESCENDING if self.descending else ASCENDING,
        }
        if self.begin_time is not None:
            body["begin_time"] = self.begin_time
        if self.end_time is not None:
            body["end_time"] = self.end_time
        if self.filter_field is not None:
            body[self.filter_field] = self.filter_value
        return body


def parse_query(body: Any) -> HistoryQuery:
    """A HistoryQuery from a request body (None for an empty body); raises DecodeError."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise DecodeError("body", "expected a JSON object of filters (every field optional)")
    unknown = sorted(set(body) - set(QUERY_FIELDS))
    if unknown:
        raise DecodeError(unknown[0], f"unknown field; expected some of {', '.join(QUERY_FIELDS)}")
    begin, end = _time(body, "begin_time"), _time(body, "end_time")
    if begin is not None and end is not None and end < begin:
        raise DecodeError("end_time", f"must not be before begin_time ({end} < {begin})")
    field, value = None, None
    for name in FILTER_FIELDS:
        given = _text(body, name)
        if given:
            field, value = name, given
            break
    sort = body.get("sort")
    if sort not in (None, ASCENDING, DESCENDING) or type(sort) is bool:
        raise DecodeError("sort", f"must be 0 (ascending) or 1 (descending), got {sort!r}")
    limit = _count(body, "limit", DEFAULT_LIMIT)
    return HistoryQuery(
        begin_time=begin,
        end_time=end,
        filter_field=field,
        filter_value=value,
        offset=_count(body, "offset", 0),
        limit=min(limit, MAX_LIMIT),
        descending=sort == DESCENDING,
    )


def _time(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None or value == "" or value == 0:
        return None  # empty or 0: unbounded
    if type(value) is not int or not 0 < value <= INT64_MAX:
        raise DecodeError(name, f"must be Unix seconds (a positive integer), got {value!r}")
    if value >= MS_THRESHOLD:
        raise DecodeError(name, f"{value} looks like milliseconds; give Unix seconds")
    return value


def _text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None or isinstance(value, str):
        return value
    if type(value) is int:
        return str(value)  # older firmware's numeric ids, as the decoder accepts them
    raise DecodeError(name, f"must be a string, got {value!r}")


def _count(body: dict[str, Any], name: str, default: int) -> int:
    value = body.get(name)
    if value is None:
        return default
    if type(value) is not int or not 0 <= value <= INT64_MAX:
        raise DecodeError(name, f"must be a non-negative integer, got {value!r}")
    return value


def history_item(record: Recognition, image: str | None = None) -> dict[str, Any]:
    """A recognition record as the terminal's history lists it (the vendor's example)."""
    user = record.user or User()
    known = not is_blank(user.user_id)
    return {
        "recognitionType": _int(record.recognitionType),
        "entry_mode": _int(record.entry_mode),
        "deviceSN": record.deviceSN or "",
        "abnormal_type": _int(record.abnormal_type),
        "uuid": record.uuid,
        "recognizeScore": record.recognizeScore or 0,
        "bodyTemperature": record.bodyTemperature or 0,
        "mask": _int(record.mask),
        "rgb_image": image or "",
        "pass": bool(record.passed),
        "mode": _int(record.mode),
        "user": {
            "name": user.name if known else None,
            "user_id": user.user_id or "",
            "type": user.type if known else None,
            "ic_number": user.ic_number or "",
            "id_number": user.id_number or "",
            "job_number": user.job_number or "",
        },
        "timestamp": history_seconds(record),
        "groups": [{"id": g.id or "", "name": g.name or ""} for g in user.groups] if known else [],
    }


def history_push(item: dict[str, Any]) -> dict[str, Any]:
    """The push envelope `{"type": 0, "data": ...}` of a history item, for the one decoder
    (`decode_object`, lenient) to read as it reads a push: a receiver that fills gaps from
    history stores such a record as it would have stored its push (ruling H3).

    The decoder already takes `groups` beside `user` and a blank `rgb_image` as none. What
    it cannot know is history's way of saying "unknown": for a face that matched nobody
    (blank `user_id`) the user's empty strings stand for what a push sends as null, so they
    are left out here, as a pushed unknown face carries none of them.
    """
    data = dict(item)
    user = data.get("user")
    if isinstance(user, dict) and is_blank(user.get("user_id")):
        data["user"] = {k: v for k, v in user.items() if v != ""}
    return {"type": 0, "data": data}


def history_seconds(record: Recognition) -> int:
    """The record's time in Unix seconds (a millisecond `timestamp` normalised, ruling 5)."""
    return 0 if record.timestamp is None else to_ms(record.timestamp) // 1000


def _int(value: int | None) -> int:
    return 0 if value is None else value
