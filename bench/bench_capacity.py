"""Capacity: a prediction of a fleet's recovery from separately measured rates, checked
against a real recovery (`facepush fleet` against the receiver on PostgreSQL), with the
delay of the live alarms and recognitions made during it (docs/capacity.md).

The model on this machine: the fleet (Python, one process), the receiver and PostgreSQL
share its cores and are each CPU-bound, so their times per record add up. Measured in the
same run:

- t_fleet: 1 / the drain rate of the same fleet against the no-op handler (the fleet's
  cost and the no-op's);
- t_rx: 1 / the receiver's rate under wrk (receiver-ingest's 600 B case: the receiver's,
  PostgreSQL's and wrk's cost);
- t_noop: 1 / the no-op's rate under the same wrk (the no-op's and wrk's cost).

Predicted: t = t_fleet + t_rx - t_noop (the fleet's cost + the receiver's and
PostgreSQL's), rate = 1 / t.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from bench import wrk
from bench.bench_receiver import _wrk_case
from bench.harness import ROOT, Row, benchmark
from bench.processes import cpu_seconds, process_tree, start, stop
from bench.servers import NOOP, PG_DSN, POSTGRES, drop_schema

DEVICES = int(os.environ.get("FACEPUSH_BENCH_CAPACITY_DEVICES", "200"))
BACKLOG = int(os.environ.get("FACEPUSH_BENCH_CAPACITY_BACKLOG", "100"))
LIVE_RATE = 0.1  # live records per second per terminal while the backlog drains
ALARM, RECOGNITION = 1, 0  # event types (facepush.protocol.codes.EventType)

METHOD = f"""
A scaled-down recovery: {DEVICES} emulated terminals (`facepush fleet`, one Python
process, each terminal the device's own Deliverer: alarms first, adaptive window), each
with {BACKLOG} cached records, come back at once. **Predicted** from rates measured
separately in the same run (bench/bench_capacity.py): the fleet against the no-op
handler (t_fleet = 1/rate), and receiver-ingest's 600 B wrk case for the no-op (t_noop)
and the receiver on PostgreSQL with one worker (t_rx); on this machine the three parts
share the cores, so the times add: rate = 1 / (t_fleet + t_rx - t_noop). **Measured**:
the same fleet against `facepush receiver serve` on a fresh PostgreSQL schema, records
acknowledged ÷ seconds until the last one. While the backlog drains each terminal also
makes {LIVE_RATE} live records per second (about 1 % start an alarm, whose reports
follow); **live delay** is `received_at - occurred_at` of the live records as stored
(the terminals' clock is this machine's), by type. fleet CPU is the fleet process's
(rusage) ÷ records. A terminal's live records are those after the first {BACKLOG} it made
(its backlog), by event time.
"""


def _fleet(url: str, duration: float) -> tuple[dict[str, Any], float]:
    """Run the fleet to its end; (its report, its CPU seconds)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    args = ["--devices", str(DEVICES), "--backlog", str(BACKLOG), "--seed", "7", "--json"]
    if duration > 0:
        args += ["--rate", str(LIVE_RATE), "--duration", f"{duration:.0f}"]
    run = subprocess.run(
        [sys.executable, "-m", "facepush", "fleet", url + "/Record", *args, "--deadline", "1500"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1600,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if run.returncode != 0:
        raise RuntimeError(f"fleet failed: {run.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return dict(json.loads(run.stdout)), cpu


def _live_delays(schema: str) -> dict[int, list[int]]:
    """received_at - occurred_at of each terminal's records after its first BACKLOG (which
    its factory made before the fleet started: the backlog), by type."""
    import psycopg

    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT type, received_at - occurred_at FROM (SELECT type, received_at, "
            "occurred_at, row_number() OVER (PARTITION BY device ORDER BY occurred_at, id) "
            f"AS n FROM \"{schema}\".events WHERE origin = 'push') AS made WHERE n > %s",
            [BACKLOG],
        ).fetchall()
    found: dict[int, list[int]] = {}
    for kind, delay in rows:
        found.setdefault(int(kind), []).append(int(delay))
    return found


def _pct(values: list[int], p: float) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return str(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))])


@benchmark("capacity", METHOD)
def capacity() -> list[Row]:
    """A fleet's recovery on PostgreSQL, predicted and measured."""
    with tempfile.TemporaryDirectory(prefix="facepush-bench-capacity-") as tmp_text:
        tmp = Path(tmp_text)
        body = tmp / "body.json"
        wrk.template(body, 0)
        noop_wrk = _wrk_case(NOOP, body, False, tmp, True)
        rx_wrk = _wrk_case(POSTGRES, body, False, tmp, True)
        proc, url = start(["bench.noop"], tmp / "noop.log")
        try:
            noop_fleet, noop_fleet_cpu = _fleet(url, 0)
        finally:
            stop(proc)
        t_fleet = noop_fleet["seconds"] / noop_fleet["acknowledged"]
        t_pred = t_fleet + 1 / rx_wrk["rate"] - 1 / noop_wrk["rate"]
        schema = f"fp_bench_{uuid.uuid4().hex[:10]}"
        db = f"{PG_DSN}?schema={schema}"
        args = ["facepush", "receiver", "serve", "--listen", "127.0.0.1:0", "--db", db]
        proc, url = start(args, tmp / "receiver.log")
        try:
            cpu_before = _cpu(proc.pid)
            live_for = 0.7 * DEVICES * BACKLOG * t_pred  # within the predicted drain
            real, real_fleet_cpu = _fleet(url, live_for)
            rx_cpu = _cpu(proc.pid) - cpu_before
        finally:
            stop(proc)
        try:
            delays = _live_delays(schema)
        finally:
            drop_schema(schema)
    predicted = 1 / t_pred
    measured = real["acknowledged"] / real["seconds"]
    load = f"{os.getloadavg()[0]:.1f}"
    rows: list[Row] = [
        _rate_row("no-op, wrk 64 conns", noop_wrk["rate"], noop_wrk["cpu_us"], load),
        _rate_row("receiver pg 1 worker, wrk 64 conns", rx_wrk["rate"], rx_wrk["cpu_us"], load),
        _rate_row(
            f"fleet {DEVICES} x {BACKLOG} -> no-op",
            noop_fleet["acknowledged"] / noop_fleet["seconds"],
            None,
            load,
            noop_fleet_cpu / noop_fleet["acknowledged"] * 1e6,
        ),
        _rate_row(f"fleet {DEVICES} x {BACKLOG} -> receiver pg: predicted", predicted, None, load),
        _rate_row(
            f"fleet {DEVICES} x {BACKLOG} -> receiver pg: measured",
            measured,
            rx_cpu / max(1, real["acknowledged"]) * 1e6,
            load,
            real_fleet_cpu / max(1, real["acknowledged"]) * 1e6,
        ),
    ]
    rows[-1]["measured / predicted"] = f"{measured / predicted:.2f}"
    rows[-1]["acknowledged / records"] = f"{real['acknowledged']} / {real['records']}"
    rows[-1]["push p50 / p99 ms"] = f"{real['latency_ms']['p50']} / {real['latency_ms']['p99']}"
    for kind, name in ((ALARM, "live alarms"), (RECOGNITION, "live recognitions")):
        found = delays.get(kind, [])
        rows[-1][f"{name}: n, delay ms p50/p99/max"] = (
            f"{len(found)}, {_pct(found, 50)} / {_pct(found, 99)} / {max(found, default=0)}"
        )
    return rows


def _cpu(pid: int) -> float:
    return sum(cpu_seconds(p) for p in process_tree(pid))


def _rate_row(
    case: str, rate: float, server_us: float | None, load: str, fleet_us: float | None = None
) -> Row:
    return {
        "case": case,
        "records/s (this machine)": f"{rate:.0f}",
        "server CPU µs/record": "-" if server_us is None else f"{server_us:.0f}",
        "fleet CPU µs/record": "-" if fleet_us is None else f"{fleet_us:.0f}",
        "load average": load,
    }
