"""Times on the command line and in its output: `--since`/`--until` values (an ISO
date/time or Unix seconds) and one readable line per recognition record."""

from __future__ import annotations

import datetime as dt
from typing import Any

from facepush.protocol.codes import RecognitionType
from facepush.protocol.times import MS_THRESHOLD, to_ms

_HINT = (
    "expected an ISO date/time (2024-05-01, 2024-05-01T08:30, 2024-05-01T08:30+08:00) "
    "or Unix seconds"
)


def unix_seconds(text: str, *, end_of_day: bool = False) -> int:
    """Unix seconds from `text`; a date alone is its first second (its last with
    `end_of_day`), a time without zone is this machine's local time. Raises ValueError."""
    text = text.strip()
    if text.isdigit():
        value = int(text)
        if value >= MS_THRESHOLD:
            raise ValueError(f"{text} looks like milliseconds; give Unix seconds")
        return value
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r}: {_HINT}") from None
    if end_of_day and len(text) == 10:  # a date alone: up to its last second
        when += dt.timedelta(days=1, seconds=-1)
    if when.tzinfo is None:
        when = when.astimezone()  # this machine's local zone
    return int(when.timestamp())


def to_local(seconds: float, *, ms: bool = False) -> str:
    """A Unix time as local date and time (`2024-05-01 08:30:05`, `.123` with `ms`)."""
    when = dt.datetime.fromtimestamp(seconds)
    return when.isoformat(" ", timespec="milliseconds" if ms else "seconds")


def record_line(record: dict[str, Any]) -> str:
    """One line for a recognition record, from history or the live stream."""
    ts = record.get("timestamp")
    when = to_local(to_ms(ts) / 1000) if type(ts) is int else "(no time)"
    found = record.get("user")
    user: dict[str, Any] = found if isinstance(found, dict) else {}
    ids = ", ".join(
        f"{label} {user[key]}"
        for key, label in (("user_id", "user"), ("job_number", "job"), ("ic_number", "card"))
        if user.get(key)
    )
    who = str(user.get("name") or "unknown face") + (f" ({ids})" if ids else "")
    kind = RecognitionType.describe(record.get("recognitionType"))
    verdict = "pass" if record.get("pass") else "deny"
    return f"{when}  {verdict}  {kind:<15}  {who}  {record.get('uuid', '')}"
