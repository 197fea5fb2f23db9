"""The servers the receiver benchmarks drive, and what they are asked afterwards.

Each measurement gets a fresh server process and a fresh store: the no-op handler
(bench.noop), or `facepush receiver serve` on a new SQLite file or a new PostgreSQL schema
(dropped afterwards). What the receiver stored is read back from its own /api/stats and its
group-commit counters from /metrics.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.processes import cpu_seconds, process_tree, start, stop

PG_DSN = os.environ.get("FACEPUSH_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
NOOP = "no-op handler"
NOOP_LEAN = "no-op, lean path"
SQLITE = "receiver, sqlite"
POSTGRES = "receiver, postgresql"
_WORKER = re.compile(r'[a-z_]+\{worker="\d+"\}')


@dataclass(frozen=True)
class Server:
    name: str
    pid: int
    url: str

    @property
    def stores(self) -> bool:
        return self.name not in (NOOP, NOOP_LEAN)

    def cpu(self) -> float:
        """CPU seconds of the server and its workers (--workers N)."""
        return sum(cpu_seconds(pid) for pid in process_tree(self.pid))

    def stored(self) -> tuple[int, int, int]:
        """(records stored, duplicates acknowledged, images stored) so far, from /api/stats."""
        if not self.stores:
            return 0, 0, 0
        with urllib.request.urlopen(self.url + "/api/stats", timeout=30) as reply:
            data = json.loads(reply.read())["data"]
        records = int(data["recognitions"]) + int(data["alarms"])
        return records, int(data["duplicates"]), int(data["images"])

    def settled(self, timeout: float = 30.0) -> tuple[int, int, int]:
        """`stored()` once every push that reached the receiver has had its reply (its
        record committed, also when the load generator stopped before reading the reply)
        and the count no longer moves."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            metrics = self.metrics()
            busy = metrics["facepush_receiver_received_total"] != metrics.get(
                "facepush_receiver_push_seconds_count"
            )
            now = self.stored()
            if not busy and now == last:
                return now
            last = now
            time.sleep(0.2)
        raise RuntimeError(f"{self.name}: the store did not settle within {timeout:.0f} s")

    def metrics(self) -> dict[str, float]:
        """The unlabelled samples of /metrics, by name; with --workers N, the sum of each
        sample labelled only by `worker`."""
        with urllib.request.urlopen(self.url + "/metrics", timeout=30) as reply:
            text = reply.read().decode()
        found = {}
        for line in text.splitlines():
            name, _, value = line.partition(" ")
            if line and not line.startswith("#"):
                if _WORKER.fullmatch(name):
                    base = name.split("{", 1)[0]
                    found[base] = found.get(base, 0.0) + float(value)
                elif "{" not in name:
                    found[name] = float(value)
        return found

    def commits(self) -> tuple[int, int]:
        """(group commits, items committed) so far."""
        if not self.stores:
            return 0, 0
        metrics = self.metrics()
        items = metrics["facepush_receiver_committed_items_total"]
        return int(metrics["facepush_receiver_commits_total"]), int(items)


@contextmanager
def serving(name: str, tmp: Path, workers: int = 1) -> Iterator[Server]:
    """A fresh server; `workers` > 1: `--workers N`."""
    schema = None
    if name == NOOP:
        args = ["bench.noop"]
    elif name == NOOP_LEAN:
        args = ["bench.noop", "--lean"]
    else:
        if name == SQLITE:
            db_url = f"sqlite:///{tmp / uuid.uuid4().hex}.sqlite3"
        else:
            schema = f"fp_bench_{uuid.uuid4().hex[:10]}"
            db_url = f"{PG_DSN}?schema={schema}"
        args = ["facepush", "receiver", "serve", "--listen", "127.0.0.1:0", "--db", db_url]
        if workers > 1:
            args += ["--workers", str(workers)]
    proc, url = start(args, tmp / f"server-{uuid.uuid4().hex[:6]}.log")
    try:
        yield Server(name, proc.pid, url)
    finally:
        stop(proc)
        if schema:
            drop_schema(schema)


def drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
