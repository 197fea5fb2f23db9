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
# `events (type, id)` (PostgreSQL reads it as e.type). `last_row`: the person's latest
# recognition of the day at this terminal (repeats included), whose name is the day's.
_QUERY = """
WITH located AS (
    SELECT {day} AS day, e.id, e.user_id, e.device, e.user_name, e.occurred_at,
        {direction} AS dir
    FROM events AS e
    WHERE e.occurred_at >= ? AND e.occurred_at < ? AND +e.type = 0 AND e.pass = ?
        AND e.user_kind IN ({kinds}) AND e.user_id <> ''{filters}
),
raw AS (
    SELECT located.*, LAG(occurred_at) OVER w AS prev_at, LEAD(day) OVER w AS next_day
    FROM located
    WINDOW w AS (PARTITION BY user_id, device ORDER BY occurred_at, id)
),
marked AS (
    SELECT raw.*,
        CASE WHEN prev_at IS NULL OR occurred_at - prev_at > ? THEN 1 ELSE 0 END AS counted,
        CASE WHEN next_day IS NULL OR next_day <> day THEN 1 ELSE 0 END AS last_row
    FROM raw
    WHERE day > 0
)
SELECT day, user_id, device, SUM(counted),
    MIN(CASE WHEN counted = 1 AND dir <> 2 THEN occurred_at END),
    MAX(CASE WHEN counted = 1 AND dir <> 1 THEN occurred_at END),
    MAX(CASE WHEN counted = 1 AND dir = 1 THEN occurred_at END),
    MAX(occurred_at),
    MAX(CASE WHEN last_row = 1 THEN id END),
    MAX(CASE WHEN last_row = 1 THEN user_name END)
FROM marked
GROUP BY day, user_id, device
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
    params += [edges[0], edges[-1], True]
    filters = ""
    for column, value in (("user_id", query.user_id), ("device", query.device)):
        if value is not None:
            filters += f" AND e.{column} = ?"
            params.append(value)
    params.append(query.debounce_ms)
    sql = _QUERY.format(
        day=_search(edges, 0, len(edges) - 1),
        direction=direction,
        kinds=", ".join(str(k) for k in KNOWN_KINDS),
        filters=filters,
    )
    return sql, params, ["", *(day for day, _, _ in bounds)]


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
    return combine(fetch(sql, params), days)


def combine(rows: Iterable[Sequence[Any]], days: Sequence[str]) -> list[AttendanceDay]:
    """Fold the per-terminal rows of the query into one item per person and day."""
    groups: dict[tuple[int, str], list[Sequence[Any]]] = {}
    for row in rows:
        groups.setdefault((row[0], row[1]), []).append(row)
    items = []
    for key in sorted(groups):  # code-point order of user_id: the same on both databases
        parts = groups[key]
        n = sum(int(p[3]) for p in parts)
        if not n:
            continue  # only repeats of passages from before the range
        first_in = min((p[4] for p in parts if p[4] is not None), default=None)
        out = max((p[5] for p in parts if p[5] is not None), default=None)
        last_in = max((p[6] for p in parts if p[6] is not None), default=None)
        last_out = out if out is not None and (first_in is None or out > first_in) else None
        is_open = first_in is not None and (
            last_out is None or last_out < (first_in if last_in is None else max(first_in, last_in))
        )
        # The name on the latest recognition (by time, then receipt) of the day.
        name = max(parts, key=lambda p: (p[7], p[8]))[9]
        items.append(
            AttendanceDay(
                day=days[key[0]],
                user_id=key[1],
                name=name,
                first_in=_int(first_in),
                last_out=_int(last_out),
                passages=n,
                devices=tuple(sorted(p[2] for p in parts if p[3] and p[2] is not None)),
                open=is_open,
            )
        )
    return items


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
