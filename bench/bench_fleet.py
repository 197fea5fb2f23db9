"""Fleet recovery: 200 terminals, each with 250 cached records, reconnect to one receiver at
once. Time to drain, p99 push latency and the receiver's peak memory, with the same fleet
against a no-op receiver in the same run as the baseline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from bench.harness import ROOT, Row, benchmark
from bench.processes import peak_rss_mb, start, stop

DEVICES = int(os.environ.get("FACEPUSH_BENCH_FLEET_DEVICES", "200"))
BACKLOG = int(os.environ.get("FACEPUSH_BENCH_FLEET_BACKLOG", "250"))


def _fleet(url: str) -> dict[str, Any]:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "facepush",
            "fleet",
            url + "/Record",
            "--devices",
            str(DEVICES),
            "--backlog",
            str(BACKLOG),
            "--seed",
            "1",
            "--json",
            "--deadline",
            "900",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1000,
        check=False,
    )
    if run.returncode != 0:
        raise RuntimeError(f"fleet failed: {run.stderr[-2000:]}")
    return dict(json.loads(run.stdout))


def _case(args: list[str], tmp: Path) -> tuple[dict[str, Any], float]:
    proc, url = start(args, tmp / f"server-{uuid.uuid4().hex[:6]}.log")
    try:
        report = _fleet(url)
        return report, peak_rss_mb(proc.pid)
    finally:
        stop(proc)


@benchmark("fleet-recovery")
def fleet_recovery() -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="facepush-bench-fleet-") as tmp_text:
        tmp = Path(tmp_text)
        noop, noop_rss = _case(["bench.noop"], tmp)
        data = str(tmp / "receiver")
        receiver_args = ["facepush", "receiver", "serve", "--listen", "127.0.0.1:0", "--data", data]
        real, real_rss = _case(receiver_args, tmp)
    rows = []
    noop_p99 = noop["latency_ms"]["p99"]
    for name, report, rss in (
        ("no-op receiver", noop, noop_rss),
        ("receiver, sqlite", real, real_rss),
    ):
        rows.append(
            {
                "receiver": name,
                "terminals x backlog": f"{DEVICES} x {BACKLOG}",
                "acknowledged": report["acknowledged"],
                "requests": report["sent"],
                "drain s (this machine)": report["seconds"],
                "drain time ratio to no-op": f"{report['seconds'] / noop['seconds']:.2f}",
                "p99 push ms (this machine)": report["latency_ms"]["p99"],
                "p99 ratio to no-op": f"{report['latency_ms']['p99'] / noop_p99:.2f}",
                "receiver peak RSS MB": round(rss),
            }
        )
    return rows
