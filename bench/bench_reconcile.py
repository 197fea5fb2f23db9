"""Reconciliation: how fast a receiver stores a managed terminal's history, against its own
push ingest measured in the same run (method: METHOD below, in docs/benchmarks.md)."""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from bench import wrk
from bench.bench_receiver import _wrk_case
from bench.harness import Row, benchmark
from bench.processes import cpu_seconds, start, stop
from bench.records import record
from bench.servers import PG_DSN, POSTGRES, SQLITE, drop_schema
from facepush.device.history import entry_of
from facepush.device.outbox import NewRecord
from facepush.device.sqlite_history import SQLiteHistory
from facepush.protocol.jsontext import dump_json

RECORDS = 10_000 if os.environ.get("FACEPUSH_BENCH_QUICK") else 50_000
ROUNDS = 2  # interleaved; the best of each kept (the machine is shared and noisy)
PER_SECOND = 20  # history records per second of terminal time

METHOD = f"""
How it is measured. A terminal emulator (`facepush device serve`) holds {RECORDS:,}
recognitions in its history (`history.sqlite3` filled beforehand with the same 600 B
SenseTime record the push benchmarks send, {PER_SECOND} a second of terminal time, no
snapshot), and pushes nothing. A fresh `facepush receiver serve` (a new SQLite file, or a
new PostgreSQL schema) manages it (`[[terminal]]`, no subscription): its start reconciles
the whole history, 200 records a page, each page decoded on a worker thread and submitted
to the Writer as one batch. **records/s** is the records the run stored ÷ the run's own
duration (`last_reconcile.started_at` to `finished_at`, the receiver's clock); every record
must be stored (`/api/stats`), else the row says FAILED. **server CPU µs/record**: the
receiver process's utime + stime from its start announcement to the run's end ÷ records
stored (its pings included).

The baseline is the same receiver's own push ingest, measured in the same run: a fresh
receiver on the same backend under wrk (64 keep-alive connections, 1 s warm-up, 5 s
measured, the same 600 B record, every reply checked), as in receiver-ingest.
**ratio** = history records/s ÷ push records/s (target ≥ 1.0); **CPU ratio** = push
CPU µs/record ÷ history CPU µs/record (above 1: a history record costs less). Best of
{ROUNDS} interleaved rounds each. The load average at the start is under the table.
"""


def _fill(data: Path) -> None:
    """The emulator's history file, as its own intake would have written it."""
    data.mkdir(parents=True, exist_ok=True)
    base = int(time.time()) - RECORDS // PER_SECOND - 3600
    history = SQLiteHistory(data / "history.sqlite3", limit=max(100_000, RECORDS))
    template = json.loads(record("x", None))
    batch: list[Any] = []
    for n in range(RECORDS):
        template["data"]["uuid"] = f"bench-{n:06d}-{uuid.uuid4().hex[:8]}"
        template["data"]["timestamp"] = base + n // PER_SECOND
        body = dump_json(template)
        batch.append(entry_of(NewRecord(0, "r:" + template["data"]["uuid"], body)))
        if len(batch) == 1000:
            history.add(batch)
            batch = []
    if batch:
        history.add(batch)
    history.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=60) as reply:
        return json.loads(reply.read())["data"]


def _reconcile_case(name: str, terminal: str, tmp: Path) -> dict[str, Any]:
    schema = None
    if name == SQLITE:
        db_url = f"sqlite:///{tmp / uuid.uuid4().hex}.sqlite3"
    else:
        schema = f"fp_bench_{uuid.uuid4().hex[:10]}"
        db_url = f"{PG_DSN}?schema={schema}"
    config = tmp / f"rx-{uuid.uuid4().hex[:6]}.toml"
    config.write_text(f'terminal_poll = 1\n[[terminal]]\nurl = "{terminal}"\n')
    args = ["facepush", "receiver", "serve", "--listen", "127.0.0.1:0", "--db", db_url]
    proc, url = start([*args, "--config", str(config)], tmp / f"rx-{uuid.uuid4().hex[:6]}.log")
    try:
        cpu = cpu_seconds(proc.pid)
        deadline = time.monotonic() + 900
        while True:
            (item,) = _get(url + "/api/terminals")["items"]
            if item["reconciliations"]:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name}: no reconciliation within 900 s: {item}")
            time.sleep(0.2)
        cpu = cpu_seconds(proc.pid) - cpu
        run = item["last_reconcile"]
        stored = int(_get(url + "/api/stats")["recognitions"])
    finally:
        stop(proc)
        if schema:
            drop_schema(schema)
    seconds = (run["finished_at"] - run["started_at"]) / 1000
    check = "ok" if stored == RECORDS == run["stored"] and not run["error"] else "FAILED"
    return {
        "rate": run["stored"] / seconds,
        "cpu_us": cpu / max(1, stored) * 1e6,
        "seconds": seconds,
        "pages": run["pages"],
        "check": check if not run["error"] else f"FAILED: {run['error']}",
    }


@benchmark("reconcile", METHOD)
def reconcile() -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="facepush-bench-") as tmp_text:
        tmp = Path(tmp_text)
        _fill(tmp / "terminal")
        listen = f"127.0.0.1:{_free_port()}"
        device_args = ["facepush", "device", "serve", "--listen", listen]
        device_args += [
            "--data",
            str(tmp / "terminal"),
            "--history-limit",
            str(max(100_000, RECORDS)),
        ]
        device, terminal = start(device_args, tmp / "terminal.log")
        body = tmp / "body.json"
        wrk.template(body, 0)
        try:
            best: dict[tuple[str, str], dict[str, Any]] = {}
            for _ in range(ROUNDS):
                for name in (SQLITE, POSTGRES):
                    for kind in ("history", "push"):
                        if kind == "history":
                            result = _reconcile_case(name, terminal, tmp)
                        else:
                            result = _wrk_case(name, body, False, tmp, True)
                        if (name, kind) not in best or result["rate"] > best[name, kind]["rate"]:
                            best[name, kind] = result
        finally:
            stop(device)
        for name in (SQLITE, POSTGRES):
            history, push = best[name, "history"], best[name, "push"]
            rows.append(
                {
                    "server": name,
                    "records": f"{RECORDS:,} from history, 200 a page",
                    "history records/s (this machine)": f"{history['rate']:,.0f}",
                    "push records/s (wrk, 64 conns)": f"{push['rate']:,.0f}",
                    "ratio": f"{history['rate'] / push['rate']:.2f}",
                    "history CPU µs/record": f"{history['cpu_us']:.0f}",
                    "push CPU µs/record": f"{push['cpu_us']:.0f}",
                    "CPU ratio": f"{push['cpu_us'] / history['cpu_us']:.2f}",
                    "run s": f"{history['seconds']:.1f}",
                    "check": f"{history['check']} / {push['check']}",
                }
            )
    return rows
