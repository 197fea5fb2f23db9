"""The hostile-input attacks of issue 10 against a real receiver process, with figures.

Each attack starts `python -m facepush receiver serve` on a fresh database, runs, and prints
one JSON line of figures. `FACEPUSH_ROOT=DIR` runs the receiver from another checkout (e.g.
`git archive main | tar -x -C /tmp/base`) to measure the same attack before a change:

    python -m bench.bench_hostile mixed --db sqlite        # 300 honest + 60 overflowing
    python -m bench.bench_hostile isolation --bad 0.01     # PostgreSQL, status > 2^31
    python -m bench.bench_hostile isolation --poison rejected --bad 0.01
    python -m bench.bench_hostile stall                     # 2 clients x 15 MiB invalid
    python -m bench.bench_hostile inflight                  # 48 parallel 15 MiB pushes
    python -m bench.bench_hostile quarantine                # 20 x 16 MiB junk

`make bench` runs the `receiver-isolation` section: PostgreSQL throughput with 0% and 1%
bad pushes, both kinds (refused by the protocol, and failing inside the store).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.harness import ROOT, Row, benchmark
from bench.processes import peak_rss_mb

PG_DSN = os.environ.get("FACEPUSH_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
MIB = 1024 * 1024

# A receiver whose store raises for every item whose key contains "poison": a record that
# passes the protocol's checks and still fails in the database, for the writer's isolation.
_POISON_SERVER = """
import asyncio, sys
from facepush.receiver import create_app, open_store
from facepush.receiver.errors import RecordRejected
from facepush.web import serve_until_stopped
url, mode = sys.argv[1], sys.argv[2]
store = open_store(url)
real = store.ingest
def ingest(batch):
    if any("poison" in getattr(item, "key", "") for item in batch):
        raise RecordRejected("poisoned") if mode == "rejected" else ValueError("poisoned")
    return real(batch)
store.ingest = ingest
try:
    from facepush.receiver import ReceiverSettings
    settings = ReceiverSettings(db=url)
except ImportError:  # an earlier checkout (FACEPUSH_ROOT)
    from facepush.receiver import ReceiverConfig
    settings = ReceiverConfig(db_url=url)
app = create_app(settings, store)
asyncio.run(serve_until_stopped(app, "127.0.0.1", 0))
"""


def _root() -> Path:
    return Path(os.environ.get("FACEPUSH_ROOT", str(ROOT))).resolve()


class Server:
    """A receiver process on a fresh database (SQLite file or PostgreSQL schema)."""

    def __init__(self, tmp: Path, db: str, args: list[str], poison: str | None = None) -> None:
        self.schema: str | None = None
        if db == "sqlite":
            self.path: Path | None = tmp / f"{uuid.uuid4().hex}.sqlite3"
            self.db_url = f"sqlite:///{self.path}"
        else:
            self.path = None
            self.schema = f"fp_hostile_{uuid.uuid4().hex[:10]}"
            self.db_url = f"{PG_DSN}?schema={self.schema}"
        root = _root()
        if poison:
            cmd = [sys.executable, "-c", _POISON_SERVER, self.db_url, poison]
        else:
            cmd = [sys.executable, "-m", "facepush", "receiver", "serve"]
            cmd += ["--listen", "127.0.0.1:0", "--db", self.db_url, *args]
        self.log = tmp / f"server-{uuid.uuid4().hex[:6]}.log"
        env = {**os.environ, "PYTHONPATH": str(root)}
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=out)
        self.url = self._wait_url()

    def _wait_url(self) -> str:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for line in self.log.read_text(errors="replace").splitlines():
                if "listening on " in line:
                    return line.split("listening on ", 1)[1].split()[0]
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(self.log.read_text(errors="replace")[-2000:])

    def db_bytes(self) -> int:
        if self.path is None:
            return -1
        return sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*"))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.schema:
            import psycopg

            with psycopg.connect(PG_DSN, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')


def recognition(uid: str | None = None, **data: Any) -> bytes:
    body: dict[str, Any] = {
        "deviceSN": "PSC700C0MC22F02542",
        "recognitionType": 1,
        "uuid": uid or str(uuid.uuid4()),
        "recognizeScore": 0.93,
        "mask": 0,
        "mode": 3,
        "pass": True,
        "timestamp": int(time.time()),
        "entry_mode": 1,
        "abnormal_type": 0,
        "user": {"name": "王五", "user_id": "5", "type": 1, "groups": []},
        **data,
    }
    return json.dumps({"type": 0, "data": body}, ensure_ascii=False).encode()


async def _post(session: Any, url: str, body: bytes) -> int:
    try:
        async with session.post(url, data=body) as resp:
            await resp.read()
            return int(resp.status)
    except Exception as exc:  # a figure, not a failure
        return -len(type(exc).__name__)  # negative: no HTTP answer


def _session(conns: int) -> Any:
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=300)
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=conns), timeout=timeout)


async def _stored(session: Any, url: str) -> dict[str, Any]:
    async with session.get(url + "/api/stats") as resp:
        data: dict[str, Any] = (await resp.json())["data"]
        return data


# --- the attacks ------------------------------------------------------------------------


async def mixed(server: Server, honest: int = 300, bad: int = 60) -> dict[str, Any]:
    """Issue 10 item 1: honest pushes with overflowing timestamps mixed in, all at once."""
    push = server.url + "/Record"
    bodies = [(True, recognition()) for _ in range(honest)]
    bodies += [(False, recognition(timestamp=-9_300_000_000_000_000)) for _ in range(bad)]
    bodies = [bodies[(i * 7) % len(bodies)] for i in range(len(bodies))]  # interleave
    async with _session(400) as session:
        statuses = await asyncio.gather(*(_post(session, push, b) for _, b in bodies))
        stats = await _stored(session, server.url)
    honest_s = Counter(s for (ok, _), s in zip(bodies, statuses, strict=True) if ok)
    bad_s = Counter(s for (ok, _), s in zip(bodies, statuses, strict=True) if not ok)
    return {
        "honest_status": dict(honest_s),
        "bad_status": dict(bad_s),
        "stored": stats.get("recognitions"),
        "quarantined": stats.get("quarantined"),
    }


async def isolation(server: Server, bad: float, seconds: float = 5.0) -> dict[str, Any]:
    """Issue 10 item 1: throughput of honest pushes on 64 connections with a share of bad
    ones (status above 2^31, or `poison` keys that fail inside the store)."""
    push = server.url + "/Record"
    every = round(1 / bad) if bad else 0
    counts: Counter[str] = Counter()
    sent = 0
    stop_at = time.perf_counter() + 1.0 + seconds
    measure_from = stop_at - seconds

    async def worker(session: Any) -> None:
        nonlocal sent
        while time.perf_counter() < stop_at:
            sent += 1
            is_bad = bool(every) and sent % every == 0
            if is_bad and server.proc.args[1] == "-c":
                body = recognition(f"poison-{uuid.uuid4()}")
            elif is_bad:
                body = json.dumps(
                    {
                        "type": 1,
                        "data": {
                            "trace_id": str(uuid.uuid4()),
                            "status": 2**31,
                            "event_time": int(time.time() * 1000),
                            "code": 1,
                        },
                    }
                ).encode()
            else:
                body = recognition()
            status = await _post(session, push, body)
            if time.perf_counter() >= measure_from:
                counts[f"{'bad' if is_bad else 'honest'} {status}"] += 1

    async with _session(64) as session:
        await asyncio.gather(*(worker(session) for _ in range(64)))
    return {
        "bad_share": bad,
        "honest_stored_per_s": round(counts["honest 200"] / seconds),
        "replies": dict(counts),
    }


# A client pushing a 15 MiB invalid body in a loop, in a process of its own (so that the
# honest pusher's event loop is not the one busy sending 15 MiB). The body is valid JSON up
# to its last byte (an unterminated string): the decoder reads all of it.
_ATTACKER = """
import asyncio, sys, aiohttp
async def main(url, seconds):
    junk = b'{"type": 0, "data": {"uuid": "x", "remark": "' + b"a" * (15 * 1024 * 1024)
    timeout = aiohttp.ClientTimeout(total=300)
    sent = 0
    async with aiohttp.ClientSession(timeout=timeout) as session:
        stop_at = asyncio.get_running_loop().time() + seconds
        while asyncio.get_running_loop().time() < stop_at:
            async with session.post(url, data=junk) as resp:
                await resp.read()
            sent += 1
    print(sent)
asyncio.run(main(sys.argv[1], float(sys.argv[2])))
"""


async def stall(server: Server, seconds: float = 15.0, attackers: int = 2) -> dict[str, Any]:
    """Issue 10 item 2: one honest pusher (one connection, one push after another) for
    `seconds`, while `attackers` processes push a 15 MiB invalid body in a loop."""
    push = server.url + "/Record"
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", _ATTACKER, push, str(seconds), stdout=subprocess.PIPE
        )
        for _ in range(attackers)
    ]
    ok = 0
    async with _session(1) as session:
        stop_at = time.perf_counter() + seconds
        while time.perf_counter() < stop_at:
            ok += await _post(session, push, recognition()) == 200
    sent = [int((await p.communicate())[0] or 0) for p in procs]
    return {"seconds": seconds, "attackers": attackers, "honest_ok": ok, "attack_bodies": sent}


async def inflight(server: Server, parallel: int = 48, size: int = 15 * MIB) -> dict[str, Any]:
    """Issue 10 item 3: `parallel` pushes of a `size` body at once; the server's peak RSS."""
    push = server.url + "/Record"
    kinds = {
        "remark": recognition(user={"user_id": "5", "remark": "r" * size}),
        "image": recognition(rgb_image="/9j/" + "A" * size),
    }
    out: dict[str, Any] = {"rss_before_mb": round(peak_rss_mb(server.proc.pid))}
    async with _session(parallel) as session:
        for name, body in kinds.items():
            statuses = await asyncio.gather(*(_post(session, push, body) for _ in range(parallel)))
            out[f"{name}_status"] = dict(Counter(statuses))
            out[f"{name}_peak_rss_mb"] = round(peak_rss_mb(server.proc.pid))
    return out


async def quarantine(server: Server, count: int = 20, size: int = 16 * MIB - 64) -> dict[str, Any]:
    """Issue 10 item 4: `count` junk bodies of `size` bytes; how much the database grew."""
    push = server.url + "/Record"
    before = server.db_bytes()
    started = time.perf_counter()
    async with _session(4) as session:
        statuses = await asyncio.gather(
            *(_post(session, push, os.urandom(16) + b"\0" * size) for _ in range(count))
        )
        stats = await _stored(session, server.url)
    return {
        "status": dict(Counter(statuses)),
        "seconds": round(time.perf_counter() - started, 1),
        "db_growth_mb": round((server.db_bytes() - before) / MIB, 1),
        "quarantined": stats.get("quarantined"),
    }


ATTACKS: dict[str, Callable[..., Any]] = {
    "mixed": mixed,
    "isolation": isolation,
    "stall": stall,
    "inflight": inflight,
    "quarantine": quarantine,
}


def run(attack: str, db: str, poison: str | None = None, **kwargs: Any) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="facepush-hostile-") as tmp:
        server = Server(Path(tmp), db, [], poison)
        try:
            result: dict[str, Any] = asyncio.run(ATTACKS[attack](server, **kwargs))
        finally:
            server.stop()
        result.update(attack=attack, db=db, root=str(_root()))
        return result


@benchmark("receiver-isolation")
def receiver_isolation() -> list[Row]:
    """Honest pushes per second on PostgreSQL (64 connections) with 0% and 1% bad ones:
    refused by the protocol (status above 2^31), or failing inside the store (poison)."""
    rows: list[Row] = []
    for label, poison, bad in (
        ("none", None, 0.0),
        ("1% status 2^31", None, 0.01),
        ("1% failing in the store", "rejected", 0.01),
    ):
        result = run("isolation", "postgresql", poison, bad=bad)
        rows.append(
            {
                "bad pushes": label,
                "honest stored/s (this machine)": result["honest_stored_per_s"],
                "replies": json.dumps(result["replies"], sort_keys=True),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_hostile")
    parser.add_argument("attack", choices=sorted(ATTACKS))
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default=None)
    parser.add_argument("--bad", type=float, default=0.01)
    parser.add_argument("--poison", choices=["rejected", "unexpected"], default=None)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--attackers", type=int, default=None)
    args = parser.parse_args()
    kwargs: dict[str, Any] = {}
    if args.attack == "isolation":
        kwargs["bad"] = args.bad
    if args.seconds is not None:
        kwargs["seconds"] = args.seconds
    if args.attackers is not None:
        kwargs["attackers"] = args.attackers
    db = args.db or ("postgresql" if args.attack == "isolation" else "sqlite")
    print(json.dumps(run(args.attack, db, args.poison, **kwargs)))


if __name__ == "__main__":
    main()
