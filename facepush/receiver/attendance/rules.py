"""The attendance rules, in one place (docs/attendance.md has them with worked examples).

- A passage counts when it is a passed recognition (`type` 0, `pass` true) of a known user:
  an employee or a visitor (`recognitionType` 1 or 2, or `user.type` when a firmware sends
  no `recognitionType`) with a non-empty `user_id`.
- Its attendance day is its local date in the site's zone after shifting by `day_starts`:
  with "04:00", 02:30 on the 5th belongs to the 4th. Day D runs from D at `day_starts`
  (local wall time, through zoneinfo: 23 or 25 hours across a daylight-saving change) to
  D+1 at `day_starts`.
- Repeats: a passage of a person at a terminal within `debounce` seconds after that
  person's previous passage at the same terminal (counted or not) is a repeat, not a new
  passage. Measured from the previous raw passage, so someone standing in front of a
  terminal for two minutes, recognised every 30 s, is one passage, not three.
- Direction per terminal (`in`, `out`, `both`; default `both`). The first in is the earliest
  passage at an `in` or `both` terminal; the last out the latest passage at an `out` or
  `both` terminal that is later than the first in. With `both` terminals only, that is:
  the first passage of the day is the in, the last (if later) the out.
- `open`: the person's last passage of the day was an in (a passage at an `in` terminal,
  or the first in itself) with no out after it.
- Times are the record's own `occurred_at`, never its receipt.

`reference()` is these rules in plain Python, for small inputs and tests; the store computes
the same with SQL (facepush.receiver.attendance.sql), and the tests hold both to the same
hand-written tables.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Annotated, Literal

import msgspec

from facepush.errors import BadQuery
from facepush.settings import Option

Direction = Literal["in", "out", "both"]
DIRECTIONS: tuple[Direction, ...] = ("in", "out", "both")
KNOWN_KINDS = (1, 2)  # employee, visitor
MAX_DAYS = 366
_FIRST_YEAR, _LAST_YEAR = 1970, 9998  # days whose bounds are ms a 64-bit column holds
_HH_MM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])", re.ASCII)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def parse_direction(value: object, where: str) -> Direction:
    """`value` as a direction; ValueError naming `where` otherwise."""
    if value not in DIRECTIONS:
        raise ValueError(f'{where}: {value!r} is not a direction; use "in", "out" or "both"')
    return value


def parse_day_starts(value: str) -> time:
    """`HH:MM` (24-hour local time) as a time; ValueError saying so otherwise."""
    match = _HH_MM.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f'{value!r} is not HH:MM (24-hour local time, e.g. "04:00")')
    return time(int(match[1]), int(match[2]))


def _debounce(value: float) -> None:
    if not 0 <= value <= 86_400:
        raise ValueError(f"{value:g} must be from 0 to 86400 seconds")


def _directions(value: Mapping[str, str]) -> None:
    for serial, direction in value.items():
        parse_direction(direction, repr(serial))


class AttendanceSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The `[attendance]` table of the receiver's settings (facepush.receiver.settings),
    checked with them: the file, the key and the problem named at start-up."""

    day_starts: Annotated[
        str,
        Option("Local time the attendance day begins (HH:MM).", "HH:MM", check=parse_day_starts),
    ] = "00:00"
    debounce: Annotated[
        float,
        Option(
            "Seconds: a person's repeats at one terminal within it are one passage.",
            "SECONDS",
            check=_debounce,
        ),
    ] = 60.0
    direction: Annotated[
        dict[str, str],
        Option('Terminal serial -> "in", "out" or "both" (default "both").', check=_directions),
    ] = msgspec.field(default_factory=dict)

    @property
    def start(self) -> time:
        return parse_day_starts(self.day_starts)

    @property
    def debounce_ms(self) -> int:
        return round(self.debounce * 1000)


def day_start(day: date, starts: time, zone: tzinfo | None) -> int:
    """The first ms of attendance day `day`: `day` at `starts`, local wall time in `zone`
    (None: the machine's). A wall time skipped by a daylight-saving change is read with the
    offset before the change (PEP 495's fold=0), a repeated one as its first occurrence."""
    return int(datetime.combine(day, starts, tzinfo=zone).timestamp() * 1000)


def day_bounds(
    first: date, last: date, starts: time, zone: tzinfo | None
) -> list[tuple[str, int, int]]:
    """(day, start ms, end ms) for each attendance day from `first` to `last`, contiguous."""
    edges = [
        day_start(first + timedelta(days=n), starts, zone) for n in range((last - first).days + 2)
    ]
    return [
        ((first + timedelta(days=n)).isoformat(), edges[n], edges[n + 1])
        for n in range(len(edges) - 1)
    ]


def day_of(ms: int, starts: time, zone: tzinfo | None) -> str:
    """The attendance day of the instant `ms` (by the bounds of `day_start`)."""
    local = datetime.fromtimestamp(ms / 1000, tz=zone)
    guess = (datetime.combine(local.date(), local.time()) - _as_delta(starts)).date()
    while ms < day_start(guess, starts, zone):
        guess -= timedelta(days=1)
    while ms >= day_start(guess + timedelta(days=1), starts, zone):
        guess += timedelta(days=1)
    return guess.isoformat()


def _as_delta(moment: time) -> timedelta:
    return timedelta(hours=moment.hour, minutes=moment.minute)


def person_kind(recognition_type: int | None, user_type: int | None) -> int | None:
    """Who the terminal matched: `recognitionType`, or `user.type` when there is none."""
    return recognition_type if recognition_type is not None else user_type


@dataclass(frozen=True, slots=True)
class DateRange:
    """`from`..`to`, both included, at most MAX_DAYS days."""

    first: date
    last: date

    @classmethod
    def parse(cls, first: str | None, last: str | None) -> DateRange:
        start = _date_param("from", first)
        end = _date_param("to", last) if last is not None else start
        if end < start:
            raise BadQuery("to", f"{end} is before from ({start})")
        days = (end - start).days + 1
        if days > MAX_DAYS:
            raise BadQuery("to", f"the range has {days} days; ask for at most {MAX_DAYS}")
        return cls(start, end)

    def chunks(self, days: int) -> Iterable[DateRange]:
        """Consecutive sub-ranges of at most `days` days."""
        start = self.first
        while start <= self.last:
            end = min(self.last, start + timedelta(days=days - 1))
            yield DateRange(start, end)
            start = end + timedelta(days=1)


def _date_param(name: str, value: str | None) -> date:
    if value is None or value == "":
        raise BadQuery(name, "required: a local date YYYY-MM-DD")
    try:
        if not _DATE.fullmatch(value):
            raise ValueError  # date.fromisoformat also takes 20240101, 2024-W01-1, ...
        day = date.fromisoformat(value)
    except ValueError:
        raise BadQuery(name, f"{value!r} is not a date YYYY-MM-DD") from None
    if not _FIRST_YEAR <= day.year <= _LAST_YEAR:
        raise BadQuery(name, f"{value!r}: give a year from {_FIRST_YEAR} to {_LAST_YEAR}")
    return day


@dataclass(frozen=True, slots=True)
class AttendanceDay:
    """One person on one attendance day."""

    day: str
    user_id: str
    name: str | None
    first_in: int | None
    last_out: int | None
    passages: int
    devices: tuple[str, ...]
    open: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "day": self.day,
            "user_id": self.user_id,
            "name": self.name,
            "first_in": self.first_in,
            "last_out": self.last_out,
            "passages": self.passages,
            "devices": list(self.devices),
            "open": self.open,
        }


@dataclass(frozen=True, slots=True)
class Passage:
    """A stored recognition as the rules see it (the reference's input)."""

    occurred_at: int
    user_id: str | None
    device: str | None
    name: str | None = None
    passed: bool = True
    kind: int | None = 1
    id: int = 0  # order of receipt, for passages at the same ms


def counts(passage: Passage) -> bool:
    return bool(passage.passed and passage.kind in KNOWN_KINDS and passage.user_id)


def reference(
    passages: Iterable[Passage],
    dates: DateRange,
    settings: AttendanceSettings,
    zone: tzinfo | None,
    directions: Mapping[str, Direction],
) -> list[AttendanceDay]:
    """The rules in plain Python: every passage walked in time order."""
    starts, window = settings.start, settings.debounce_ms
    first, last = dates.first.isoformat(), dates.last.isoformat()
    previous: dict[tuple[str, str | None], int] = {}
    by_day: dict[tuple[str, str], list[Passage]] = defaultdict(list)
    names: dict[tuple[str, str], str | None] = {}
    for p in sorted(filter(counts, passages), key=lambda p: (p.occurred_at, p.id)):
        assert p.user_id is not None
        key = (p.user_id, p.device)
        before = previous.get(key)
        previous[key] = p.occurred_at
        day = day_of(p.occurred_at, starts, zone)
        if not first <= day <= last:
            continue
        names[(day, p.user_id)] = p.name  # the latest recognition's, repeats included
        if before is not None and p.occurred_at - before <= window:
            continue  # a repeat of the previous passage at this terminal
        by_day[(day, p.user_id)].append(p)
    return [
        _person_day(day, user, names[(day, user)], ps, directions)
        for (day, user), ps in sorted(by_day.items())
    ]


def _person_day(
    day: str,
    user_id: str,
    name: str | None,
    passages: list[Passage],
    directions: Mapping[str, Direction],
) -> AttendanceDay:
    def direction(p: Passage) -> Direction:
        return directions.get(p.device or "", "both")

    ins = [p for p in passages if direction(p) != "out"]
    first = ins[0] if ins else None
    first_in = first.occurred_at if first is not None else None
    last_out: int | None = None
    inside = False  # walked in time order: where the person is after each passage
    for p in passages:
        if p is first or direction(p) == "in":
            inside = True
        else:  # an out terminal, or a later passage at a both terminal
            if first_in is None or p.occurred_at > first_in:
                last_out = p.occurred_at
            inside = False
    return AttendanceDay(
        day=day,
        user_id=user_id,
        name=name,
        first_in=first_in,
        last_out=last_out,
        passages=len(passages),
        devices=tuple(sorted({p.device for p in passages if p.device is not None})),
        open=inside,
    )
