"""`--workers N`: the receiver with 1 and 2 worker processes on one port, on PostgreSQL
and SQLite, against the no-op handler, with wrk exactly as in receiver-ingest's
throughput rows."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from bench import wrk
from bench.bench_receiver import ROUNDS, WRK_CONNS, _row, _wrk_case
from bench.harness import Row, benchmark
from bench.servers import NOOP, POSTGRES, SQLITE

METHOD = """
Each case is receiver-ingest's 600 B throughput case (wrk, 2 threads, 64 keep-alive
connections, 1 s warm-up + 5 s, unique pushes, every reply checked, the store checked
afterwards; best of 2 interleaved rounds) against `facepush receiver serve --workers N`:
N processes on one port (SO_REUSEPORT), the kernel spreading wrk's 64 connections over
them. Server CPU is the supervisor's and its workers' together. "× 1 worker" divides by
the same store with one process, in the same run (on SQLite the workers still commit one
at a time: its write lock is the file's). On this 2-core machine wrk, PostgreSQL and the workers
share the cores: the ratio shows whether a second process adds throughput here, not
what it adds on a machine with cores to spare (docs/capacity.md).
"""

CASES = ((NOOP, 1), (POSTGRES, 1), (POSTGRES, 2), (SQLITE, 1), (SQLITE, 2))


@benchmark("workers", METHOD)
def workers() -> list[Row]:
    """600 B pushes from wrk: 1 vs 2 worker processes, PostgreSQL and SQLite."""
    with tempfile.TemporaryDirectory(prefix="facepush-bench-") as tmp_text:
        tmp = Path(tmp_text)
        body = tmp / "body.json"
        size = wrk.template(body, 0)
        best: dict[tuple[str, int], dict[str, Any]] = {}
        for _ in range(ROUNDS):
            for name, count in CASES:
                result = _wrk_case(name, body, False, tmp, True, workers=count)
                if (name, count) not in best or result["rate"] > best[name, count]["rate"]:
                    best[name, count] = result
    rows = []
    for name, count in CASES:
        result = best[name, count]
        label = name if name == NOOP else f"{name}, {count} worker{'s' if count > 1 else ''}"
        row = _row(
            "throughput", "600 B", size, label, f"wrk, {WRK_CONNS} conns", result, best[NOOP, 1]
        )
        one = best.get((name, 1))
        row["× 1 worker"] = (
            "-" if name == NOOP or one is None else f"{result['rate'] / one['rate']:.2f}"
        )
        rows.append(row)
    return rows
