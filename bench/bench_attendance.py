"""Attendance benchmark: a month of a 1,000-person site (1,000 people × 4 passages × 22
working days = 88,000 recognitions at four terminals, two of them in/out gates), on SQLite
and on PostgreSQL.

Timed (median of REPEAT runs, this machine): the store's attendance for the whole month
(`Store.attendance`: the SQL and the fold of its rows into person-days), one person's
month, and, as the baseline in the same run, a plain `SELECT COUNT(*)` over the same rows
(`occurred_at` in the month's range). The ratio is attendance time / COUNT(*) time. Then,
through a real receiver process on the SQLite file: the JSON, CSV and XLSX replies for the
month, and the receiver's peak RSS (VmHWM) before and after them.

FACEPUSH_BENCH_QUICK=1 makes 100 people instead (a smoke run, not the figures).
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
import urllib.request
import uuid
from datetime import date, datetime, timedelta
from datetime import time as clock
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from bench.harness import Row, benchmark
from bench.processes import peak_rss_mb, start, stop
from facepush.protocol.jsontext import dump_json
from facepush.receiver import open_store
from facepush.receiver.attendance import AttendanceQuery, DateRange
from facepush.receiver.store import Incoming, Store

PEOPLE = 100 if os.environ.get("FACEPUSH_BENCH_QUICK") else 1000
DAYS = 22
REPEAT = 5
ZONE = ZoneInfo("Europe/Berlin")
MONTH = DateRange(date(2024, 4, 1), date(2024, 4, 30))  # 22 working days
DIRECTIONS = {"GATE-IN": "in", "GATE-OUT": "out"}
PG_DSN = os.environ.get("FACEPUSH_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
HOUR = 3_600_000


def _records() -> list[Incoming]:
    """Arrive about 08:30, lunch out and back, leave about 17:00; in through GATE-IN or
    the lobby, out through GATE-OUT or the lobby (a both terminal)."""
    rng = random.Random(14)
    working = [d for d in (MONTH.first + timedelta(n) for n in range(30)) if d.weekday() < 5]
    items = []
    for day in working[:DAYS]:
        base = int(datetime.combine(day, clock(8, 30), tzinfo=ZONE).timestamp() * 1000)
        for person in range(PEOPLE):
            for offset, terminals in (
                (0, ("GATE-IN", "LOBBY")),
                (3.5, ("GATE-OUT", "LOBBY")),
                (4.2, ("GATE-IN", "LOBBY")),
                (8.5, ("GATE-OUT", "LOBBY")),
            ):
                at = base + int((offset + rng.gauss(0, 0.3)) * HOUR)
                user_id = str(10_000 + person)
                items.append(
                    Incoming(
                        key=f"r:{uuid.UUID(int=rng.getrandbits(128))}",
                        type=0,
                        device=rng.choice(terminals),
                        source="127.0.0.1",
                        occurred_at=at,
                        received_at=at,
                        late=False,
                        user_id=user_id,
                        passed=True,
                        trace_id=None,
                        status=None,
                        code=None,
                        fields=dump_json(
                            {"uuid": user_id, "user": {"name": f"P {person}"}}
                        ).decode(),
                        user_kind=1,
                        user_name=f"Person {person}",
                    )
                )
    return items


def _median(func: object) -> float:
    assert callable(func)
    times = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _measure(store: Store, backend: str) -> Row:
    query = AttendanceQuery(MONTH, clock(0), ZONE, 60_000, DIRECTIONS)
    one = AttendanceQuery(MONTH, clock(0), ZONE, 60_000, DIRECTIONS, user_id="10007")
    items = store.attendance(query)
    assert len(items) == PEOPLE * DAYS, len(items)
    lo = int(datetime.combine(MONTH.first, clock(0), tzinfo=ZONE).timestamp() * 1000)
    hi = int(datetime.combine(MONTH.last + timedelta(1), clock(0), tzinfo=ZONE).timestamp() * 1000)
    count_sql = "SELECT COUNT(*) FROM events WHERE occurred_at >= ? AND occurred_at < ?"
    fetch = store._fetch  # type: ignore[attr-defined]  # the same reader as attendance's
    assert fetch(count_sql, [lo, hi])[0][0] == PEOPLE * DAYS * 4
    month = _median(lambda: store.attendance(query))
    person = _median(lambda: store.attendance(one))
    count = _median(lambda: fetch(count_sql, [lo, hi]))
    return {
        "backend": backend,
        "records": f"{PEOPLE * DAYS * 4:,}",
        "person-days": f"{len(items):,}",
        "month, all (ms)": f"{month * 1000:.0f}",
        "one person's month (ms)": f"{person * 1000:.1f}",
        "COUNT(*) same rows (ms)": f"{count * 1000:.1f}",
        "ratio month / COUNT(*)": f"{month / count:.0f}",
    }


def _fill(store: Store, items: list[Incoming]) -> None:
    for begin in range(0, len(items), 1000):
        store.ingest(items[begin : begin + 1000])


def _http(db_file: Path, work: Path) -> list[Row]:
    proc, url = start(
        [
            "facepush",
            "receiver",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--db",
            f"sqlite:///{db_file}",
            "--timezone",
            "Europe/Berlin",
        ],
        work / "receiver.log",
    )
    rows: list[Row] = []
    try:
        query = f"from={MONTH.first}&to={MONTH.last}"
        _get(f"{url}/api/devices")
        before = peak_rss_mb(proc.pid)
        for path in ("/api/attendance", "/api/attendance.csv", "/api/attendance.xlsx"):
            target = f"{url}{path}?{query}"
            size = _get(target)
            took = _median(partial(_get, target))
            rows.append(
                {
                    "backend": "sqlite, receiver process",
                    "reply": path,
                    "bytes": f"{size:,}",
                    "time (ms)": f"{took * 1000:.0f}",
                    "peak RSS before (MB)": f"{before:.0f}",
                    "peak RSS after (MB)": f"{peak_rss_mb(proc.pid):.0f}",
                }
            )
    finally:
        stop(proc)
    return rows


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=120) as reply:
        return len(reply.read())


METHOD = """
A month of a 1,000-person site: 1,000 people × 4 passages × 22 working days (April 2024)
= 88,000 recognitions at four terminals (an in-gate, an out-gate, two lobbies), stored
through `Store.ingest`. Timed, median of 5, this machine: `Store.attendance` for the whole
month in Europe/Berlin (the SQL and the fold of its rows into 22,000 person-days), one
person's month, and the baseline in the same run, a plain `SELECT COUNT(*)` over the same
rows; ratio = attendance / COUNT(*). Then a `facepush receiver serve` process on the SQLite
file: the JSON, CSV and XLSX replies for the month (median of 5) and its peak RSS (VmHWM)
before and after them.
"""


@benchmark("attendance", method=METHOD)
def attendance() -> list[Row]:
    items = _records()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="facepush-bench-attendance-") as tmp:
        work = Path(tmp)
        db_file = work / "receiver.sqlite3"
        store = open_store(f"sqlite:///{db_file}")
        try:
            _fill(store, items)
            rows.append(_measure(store, "sqlite"))
        finally:
            store.close()
        schema = f"bench_attendance_{os.getpid()}"
        store = open_store(f"{PG_DSN}?schema={schema}")
        try:
            _fill(store, items)
            rows.append(_measure(store, "postgresql"))
        finally:
            store.close()
            with psycopg.connect(PG_DSN, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        rows += _http(db_file, work)
    return rows
