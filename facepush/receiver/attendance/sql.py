"""Attendance in SQL that runs unchanged on SQLite and PostgreSQL (window functions, CTEs,
VALUES; no time-zone function, no JSON, no string aggregation).

Day boundaries come from Python (rules.day_bounds: zoneinfo, day_starts, DST) and are
written into the query as integer literals; one range scan of `events (occurred_at)`
reads the days and a lead-in before them (`debounce` long, so that the first passages of
the range see a repeat of a passage just before it). The query returns one row per
person, day and terminal; `combine` folds them into one item per person and day (min/max
across terminals, which SQL could do too, but the list of terminals has no portable
aggregate).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import time, tzinfo
from typing import Any

from facepush.receiver.attendance.rules import (
    KNOWN_KINDS,
    AttendanceDay,
    DateRange,
    Direction,
    day_bounds,
)

Fetch = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]

# `day`: the index of the attendance day (0: the lead-in before the first), by a binary
# search over the day bounds written into the query as a nested CASE (about nine
# comparisons a row for a year; no join, so no plan that compares every row with every
# day). `dir`: 0 both, 1 in, 2 out. `+e.type`: not an index term, so that SQLite reads
# the range through `events (occurred_at)`, not every recognition through
# `events (type, id)` (PostgreSQL reads it as e.type). The window needs no tie-break:
# passages at the same ms at one terminal differ by 0, so one of them counts, and which
# one does not change the result. Names: the lowest and highest of the group, and how
# many are missing; when they disagree, `combine` looks the name up (rare: a rename
# during the day), which keeps the name out of the window's sort.
_PASSAGE = "+e.type = 0 AND e.pass = ? AND e.user_kind IN ({kinds}) AND e.user_id <> ''{filters}"
_QUERY = """
WITH located AS (
    SELECT {day} AS day, e.user_id, e.device, e.user_name, e.occurred_at, {direction} AS dir
    FROM events AS e
    WHERE e.occurred_at >= ? AND e.occurred_at < ? AND {passage}
),
raw AS (
    SELECT located.*, LAG(occurred_at) OVER (
        PARTITION BY user_id, device ORDER BY occurred_at
    ) AS prev_at
    FROM located
),
marked AS (
    SELECT raw.*,
        CASE WHEN prev_at IS NULL OR occurred_at - prev_at > ? THEN 1 ELSE 0 END AS counted
    FROM raw
    WHERE day > 0
)
SELECT day, user_id, device, SUM(counted),
    MIN(CASE WHEN counted = 1 AND dir <> 2 THEN occurred_at END),
    MAX(CASE WHEN counted = 1 AND dir <> 1 THEN occurred_at END),
    MAX(CASE WHEN counted = 1 AND dir = 1 THEN occurred_at END),
    MAX(occurred_at), MIN(user_name), MAX(user_name), COUNT(*) - COUNT(user_name)
FROM marked
GROUP BY day, user_id, device
"""
# The name on a person's latest recognition at `occurred_at` (the latest received first).
_NAME = """
SELECT e.user_name FROM events AS e
WHERE e.user_id = ? AND e.occurred_at = ? AND {passage}
ORDER BY e.id DESC LIMIT 1
"""


@dataclass(frozen=True, slots=True)
class AttendanceQuery:
    """What /api/attendance asks the store: the days, the rules' settings and filters."""

    dates: DateRange
    starts: time
    zone: tzinfo | None
    debounce_ms: int
    directions: Mapping[str, Direction]
    user_id: str | None = None
    device: str | None = None


def statement(query: AttendanceQuery) -> tuple[str, list[Any], list[str]]:
    """The SQL (with `?` placeholders), its parameters in the order they appear, and the
    day of each day index (index 0 is the lead-in)."""
    bounds = day_bounds(query.dates.first, query.dates.last, query.starts, query.zone)
    # edges[i] starts day index i; the lead-in catches repeats of passages just before.
    edges = [bounds[0][1] - query.debounce_ms] + [lo for _, lo, _ in bounds] + [bounds[-1][2]]
    direction, params = _direction_case(query.directions)
    passage, passage_params = _passage(query)
    params += [edges[0], edges[-1], *passage_params, query.debounce_ms]
    sql = _QUERY.format(day=_search(edges, 0, len(edges) - 1), direction=direction, passage=passage)
    return sql, params, ["", *(day for day, _, _ in bounds)]


def _passage(query: AttendanceQuery) -> tuple[str, list[Any]]:
    """The condition a stored record must meet to be one of the query's passages."""
    filters = ""
    params: list[Any] = [True]
    for column, value in (("user_id", query.user_id), ("device", query.device)):
        if value is not None:
            filters += f" AND e.{column} = ?"
            params.append(value)
    kinds = ", ".join(str(k) for k in KNOWN_KINDS)
    return _PASSAGE.format(kinds=kinds, filters=filters), params


def _search(edges: list[int], lo: int, hi: int) -> str:
    """The index i with edges[i] <= occurred_at < edges[i + 1], for lo <= i < hi, as a
    nested CASE (the edges are integers we computed: written as literals)."""
    if hi - lo == 1:
        return str(lo)
    mid = (lo + hi) // 2
    low, high = _search(edges, lo, mid), _search(edges, mid, hi)
    return f"CASE WHEN e.occurred_at < {int(edges[mid])} THEN {low} ELSE {high} END"


def _direction_case(directions: Mapping[str, Direction]) -> tuple[str, list[Any]]:
    whens: list[str] = []
    params: list[Any] = []
    for code, wanted in ((1, "in"), (2, "out")):
        serials = sorted(s for s, d in directions.items() if d == wanted)
        if serials:
            whens.append(f"WHEN e.device IN ({', '.join('?' * len(serials))}) THEN {code}")
            params += serials
    if not whens:
        return "0", []
    return f"CASE {' '.join(whens)} ELSE 0 END", params


def attendance(fetch: Fetch, query: AttendanceQuery) -> list[AttendanceDay]:
    """One item per person and day of `query`, ordered by day and user_id."""
    sql, params, days = statement(query)
    passage, passage_params = _passage(query)
    name_sql = _NAME.format(passage=passage)

    def name_at(user_id: str, at: int) -> str | None:
        rows = fetch(name_sql, [user_id, at, *passage_params])
        return rows[0][0] if rows else None

    return combine(fetch(sql, params), days, name_at)


def combine(
    rows: Iterable[Sequence[Any]],
    days: Sequence[str],
    name_at: Callable[[str, int], str | None],
) -> list[AttendanceDay]:
    """Fold the per-terminal rows of the query into one item per person and day: the
    earliest in, the latest out and in, the sum of passages, the terminals, and the name
    of the terminal that saw the latest recognition (looked up when it is not plain)."""
    acc: dict[tuple[int, str], list[Any]] = {}
    for day, user_id, device, n, first_in, out, last_in, last_at, low, high, missing in rows:
        seen = acc.get((day, user_id))
        devices = [device] if n and device is not None else []
        if seen is None:
            acc[(day, user_id)] = [
                n,
                first_in,
                out,
                last_in,
                last_at,
                (low, high, missing),
                devices,
            ]
            continue
        seen[0] += n
        if first_in is not None and (seen[1] is None or first_in < seen[1]):
            seen[1] = first_in
        if out is not None and (seen[2] is None or out > seen[2]):
            seen[2] = out
        if last_in is not None and (seen[3] is None or last_in > seen[3]):
            seen[3] = last_in
        if last_at > seen[4]:
            seen[4], seen[5] = last_at, (low, high, missing)
        elif last_at == seen[4]:
            seen[5] = None  # two terminals at the same ms: looked up
        seen[6] += devices
    items = []
    for (day, user_id), (n, first_in, out, last_in, last_at, names, devices) in sorted(
        acc.items()  # code-point order of user_id: the same on both databases
    ):
        if not n:
            continue  # only repeats of passages from before the range
        last_out = out if out is not None and (first_in is None or out > first_in) else None
        latest_in = first_in if last_in is None or last_in < first_in else last_in
        if names is not None and names[0] == names[1] and (names[2] == 0 or names[0] is None):
            name = names[0]
        else:  # a rename during the day, or names missing on some of its records
            name = name_at(user_id, int(last_at))
        items.append(
            AttendanceDay(
                day=days[day],
                user_id=user_id,
                name=name,
                first_in=_int(first_in),
                last_out=_int(last_out),
                passages=int(n),
                devices=tuple(sorted(devices)),
                open=first_in is not None and (last_out is None or last_out < latest_in),
            )
        )
    return items


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
