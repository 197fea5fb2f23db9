"""Terminal history benchmark: `POST /v1/event/records` queries at 100,000 records.

The history (`SQLiteHistory`, the emulator's own backend) is filled with 100,000
simulated recognitions (about 100 a second over 17 minutes, 50 people), then each query
of a receiver or a person is timed: the first and the last page (offset 99,800), newest
first, one person's records, a one-minute window, and `total` alone. The baseline is the
same query (the SQL SQLiteHistory runs, items decoded as the endpoint does) on a copy of
the same file with its four secondary indexes dropped, measured in the same run; the ratio
is baseline time / indexed time (higher is better).

FACEPUSH_BENCH_QUICK=1 fills 20,000 records instead (a smoke run, not the figures).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import msgspec

from bench.harness import Row, benchmark
from facepush.device.history import entry_of
from facepush.device.outbox import NewRecord
from facepush.device.sqlite_history import SQLiteHistory, queries
from facepush.protocol.history import HistoryQuery
from facepush.protocol.identity import envelope_key
from facepush.protocol.jsontext import dump_json
from facepush.tools.records import RecordFactory

RECORDS = 20_000 if os.environ.get("FACEPUSH_BENCH_QUICK") else 100_000
START_MS = 1_700_000_000_000
REPEAT = 15
INDEXES = ("history_ts", "history_user_id", "history_job_number", "history_ic_number")


def _fill(path: Path) -> float:
    """Fill the history as the terminal does (entries made from cached records, in
    batches of 100); returns records per second, making the records not counted."""
    n = 0

    def clock() -> int:
        return START_MS + n * 10  # 100 records a second

    factory = RecordFactory(seed=11, images=False, alarm_rate=0.0, clock=clock)
    batches: list[list[NewRecord]] = []
    while n < RECORDS:
        batch = []
        for _ in range(100):
            envelope = factory.next()
            n += 1
            batch.append(NewRecord(0, envelope_key(envelope), dump_json(envelope)))
        batches.append(batch)
    history = SQLiteHistory(path, limit=RECORDS)
    started = time.perf_counter()
    for batch in batches:
        history.add([e for e in map(entry_of, batch) if e is not None])
    seconds = time.perf_counter() - started
    history.close()
    return RECORDS / seconds


def _queries() -> list[tuple[str, HistoryQuery]]:
    minute = START_MS // 1000 + RECORDS // 200  # a minute in the middle
    return [
        ("first page (200)", HistoryQuery(limit=200)),
        ("last page (offset total-200)", HistoryQuery(offset=RECORDS - 200, limit=200)),
        ("newest first, page 2", HistoryQuery(offset=200, limit=200, descending=True)),
        ("one person, first page", HistoryQuery(filter_field="user_id", filter_value="1003")),
        (
            "one job number, newest",
            HistoryQuery(filter_field="job_number", filter_value="20007", descending=True),
        ),
        ("one minute's window", HistoryQuery(begin_time=minute, end_time=minute + 59)),
        ("total only", HistoryQuery(begin_time=minute, limit=0)),
    ]


def _median_ms(db: sqlite3.Connection, query: HistoryQuery) -> float:
    """What SQLiteHistory.find runs for `query`, items decoded as the endpoint does."""
    count, page, args = queries(query)
    times = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        db.execute(count, args).fetchone()
        if query.limit:
            rows = db.execute(page, (*args, query.limit, query.offset)).fetchall()
            [msgspec.json.decode(item) for item, _ in rows]
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


@benchmark("history")
def history() -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.sqlite3"
        rate = _fill(path)
        bare = Path(tmp) / "bare.sqlite3"
        shutil.copy(path, bare)
        indexed, baseline = sqlite3.connect(path), sqlite3.connect(bare)
        for index in INDEXES:
            baseline.execute(f"DROP INDEX {index}")
        rows: list[Row] = [
            {
                "query": f"fill ({RECORDS:,} records, batches of 100)",
                "records/s (this machine)": f"{rate:,.0f}",
            }
        ]
        for name, query in _queries():
            fast, slow = _median_ms(indexed, query), _median_ms(baseline, query)
            rows.append(
                {
                    "query": name,
                    "indexed ms (this machine)": f"{fast:.2f}",
                    "no filter index ms": f"{slow:.2f}",
                    "ratio": f"{slow / fast:.1f}",
                }
            )
        indexed.close()
        baseline.close()
    return rows
