"""Calendar days in the receiver's time zone (`--timezone`; None here means the machine's,
the process's `TZ`): the key of the records counted per terminal and day, and what `today`
on /api/devices counts. Every function takes the zone: the store passes its own."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo

from facepush.protocol.times import now_ms


def day_of(ms: int, zone: tzinfo | None = None) -> str:
    """The local date (`YYYY-MM-DD`) in `zone` of a time in ms since the epoch."""
    return datetime.fromtimestamp(ms / 1000, tz=zone).date().isoformat()


def today(zone: tzinfo | None = None) -> str:
    return day_of(now_ms(), zone)


def bounds(day: str, zone: tzinfo | None = None) -> tuple[int, int]:
    """[start, end) of a local day in ms: local midnight to the next local midnight (23 or
    25 hours apart across a daylight-saving change)."""
    first = date.fromisoformat(day)
    start = datetime.combine(first, time(), tzinfo=zone).timestamp()
    end = datetime.combine(first + timedelta(days=1), time(), tzinfo=zone).timestamp()
    return int(start * 1000), int(end * 1000)


class DayCache:
    """`day_of` for many times close together (a batch of records): the day of the last
    answer is reused while the times stay within its bounds."""

    def __init__(self, zone: tzinfo | None = None) -> None:
        self._zone = zone
        self._start = 0
        self._end = 0
        self._day = ""

    def __call__(self, ms: int) -> str:
        if not self._start <= ms < self._end:
            self._day = day_of(ms, self._zone)
            self._start, self._end = bounds(self._day, self._zone)
        return self._day
