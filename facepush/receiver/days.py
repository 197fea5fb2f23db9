"""Calendar days in the receiver's local time zone (the process's `TZ`): the key of the
records counted per terminal and day, and what `today` on /api/devices counts."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from facepush.protocol.times import now_ms


def day_of(ms: int) -> str:
    """The local date (`YYYY-MM-DD`) of a time in ms since the epoch."""
    return datetime.fromtimestamp(ms / 1000).date().isoformat()


def today() -> str:
    return day_of(now_ms())


def bounds(day: str) -> tuple[int, int]:
    """[start, end) of a local day in ms: local midnight to the next local midnight (23 or
    25 hours apart across a daylight-saving change)."""
    first = date.fromisoformat(day)
    start = datetime.combine(first, time()).timestamp()
    end = datetime.combine(first + timedelta(days=1), time()).timestamp()
    return int(start * 1000), int(end * 1000)


class DayCache:
    """`day_of` for many times close together (a batch of records): the day of the last
    answer is reused while the times stay within its bounds."""

    def __init__(self) -> None:
        self._start = 0
        self._end = 0
        self._day = ""

    def __call__(self, ms: int) -> str:
        if not self._start <= ms < self._end:
            self._day = day_of(ms)
            self._start, self._end = bounds(self._day)
        return self._day
