"""Attendance in SQL that runs unchanged on SQLite and PostgreSQL (window functions, CTEs,
VALUES; no time-zone function, no JSON, no string aggregation).

Day boundaries come from Python (rules.day_bounds: zoneinfo, day_starts, DST) as a small
VALUES table of (day, start ms, end ms); each day is an index range scan of
`events (occurred_at)`. A lead-in row before the first day (`debounce` long, day '') lets
the first passages of the range see a repeat of a passage just before it. The query
returns one row per person, day and terminal; `combine` folds them into one item per
person and day (min/max fold across terminals, which SQL could do too, but the list of
terminals has no portable aggregate).
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

# dir: 0 both, 1 in, 2 out (the CASE built by _direction_case).
_QUERY = """
WITH bounds (day, lo, hi) AS (VALUES {bounds}),
raw AS (
    SELECT b.day, e.id, e.user_id, e.device, e.user_name, e.occurred_at,
        LAG(e.occurred_at) OVER (
            PARTITION BY e.user_id, e.device ORDER BY e.occurred_at, e.id
        ) AS prev_at
    FROM bounds AS b
    JOIN events AS e ON e.occurred_at >= b.lo AND e.occurred_at < b.hi
    WHERE e.type = 0 AND e.pass = ? AND e.user_kind IN ({kinds}) AND e.user_id <> ''{filters}
),
counted AS (
    SELECT day, user_id, device, occurred_at, {direction} AS dir,
        FIRST_VALUE(user_name) OVER (
            PARTITION BY day, user_id ORDER BY occurred_at DESC, id DESC
        ) AS name
    FROM raw
    WHERE day <> '' AND (prev_at IS NULL OR occurred_at - prev_at > ?)
)
SELECT day, user_id, device, name, COUNT(*),
    MIN(CASE WHEN dir <> 2 THEN occurred_at END),
    MAX(CASE WHEN dir <> 1 THEN occurred_at END),
    MAX(CASE WHEN dir = 1 THEN occurred_at END)
FROM counted
GROUP BY day, user_id, device, name
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


def statement(query: AttendanceQuery) -> tuple[str, list[Any]]:
    """The SQL (with `?` placeholders) and its parameters."""
    bounds = day_bounds(query.dates.first, query.dates.last, query.starts, query.zone)
    lead_in = ("", bounds[0][1] - query.debounce_ms, bounds[0][1])
    rows = [lead_in, *bounds]
    # The first row names the column types: PostgreSQL types VALUES by it.
    values = ", ".join(
        ["(CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS BIGINT))"] + ["(?, ?, ?)"] * len(bounds)
    )
    params: list[Any] = [v for row in rows for v in row]
    params.append(True)
    filters = ""
    for column, value in (("user_id", query.user_id), ("device", query.device)):
        if value is not None:
            filters += f" AND e.{column} = ?"
            params.append(value)
    direction, direction_params = _direction_case(query.directions)
    params += direction_params
    params.append(query.debounce_ms)
    sql = _QUERY.format(
        bounds=values,
        kinds=", ".join(str(k) for k in KNOWN_KINDS),
        filters=filters,
        direction=direction,
    )
    return sql, params


def _direction_case(directions: Mapping[str, Direction]) -> tuple[str, list[Any]]:
    whens: list[str] = []
    params: list[Any] = []
    for code, wanted in ((1, "in"), (2, "out")):
        serials = sorted(s for s, d in directions.items() if d == wanted)
        if serials:
            whens.append(f"WHEN device IN ({', '.join('?' * len(serials))}) THEN {code}")
            params += serials
    if not whens:
        return "0", []
    return f"CASE {' '.join(whens)} ELSE 0 END", params


def attendance(fetch: Fetch, query: AttendanceQuery) -> list[AttendanceDay]:
    """One item per person and day of `query`, ordered by day and user_id."""
    sql, params = statement(query)
    return combine(fetch(sql, params))


def combine(rows: Iterable[Sequence[Any]]) -> list[AttendanceDay]:
    """Fold the per-terminal rows of the query into one item per person and day."""
    acc: dict[tuple[str, str], list[Any]] = {}
    devices: dict[tuple[str, str], set[str]] = {}
    for day, user_id, device, name, n, first_in, last_outish, last_in in rows:
        key = (day, user_id)
        seen = acc.get(key)
        if seen is None:
            acc[key] = [name, int(n), first_in, last_outish, last_in]
            devices[key] = set()
        else:
            seen[1] += int(n)
            seen[2] = _least(seen[2], first_in)
            seen[3] = _greatest(seen[3], last_outish)
            seen[4] = _greatest(seen[4], last_in)
        if device is not None:
            devices[key].add(device)
    items = []
    for key in sorted(acc):  # code-point order: the same on both databases
        name, n, first_in, out, last_in = acc[key]
        last_out = out if out is not None and (first_in is None or out > first_in) else None
        latest_in = _greatest(first_in, last_in)
        is_open = first_in is not None and (last_out is None or last_out < latest_in)
        items.append(
            AttendanceDay(
                day=key[0],
                user_id=key[1],
                name=name,
                first_in=_int(first_in),
                last_out=_int(last_out),
                passages=n,
                devices=tuple(sorted(devices[key])),
                open=is_open,
            )
        )
    return items


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _least(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else min(a, b)


def _greatest(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else max(a, b)
