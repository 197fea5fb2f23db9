"""Forwarding: a 50,000-record backlog drained to NATS JetStream and to MQTT, against a bare
client of the same library publishing the same messages in the same run; and how far
behind forwarding falls while the receiver ingests at its full rate (wrk)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import aiomqtt
import nats

from bench import wrk
from bench.harness import Row, benchmark
from bench.processes import start, stop
from bench.records import record
from facepush.protocol import decode_push, dump_json
from facepush.receiver import open_store
from facepush.receiver.records import incoming, row_item

MQTT = "mqtt://127.0.0.1:1883"
NATS = "nats://127.0.0.1:4222"
BACKLOG = 50_000
WINDOW = 64  # the sink's default; the bare client keeps as many in flight
INGEST_SECONDS = 8
ROUNDS = 2
POLL_S = 0.25  # /api/forward counts pending rows: not too often

METHOD = f"""
How it is measured. **Backlog**: a SQLite store is filled with {BACKLOG:,} recognitions
(600 B pushes, one terminal) before anything forwards. Then `facepush receiver serve`
starts on it with one `[[forward]]` sink (the machine's NATS with JetStream or Mosquitto,
a fresh stream or topic each run, `window = {WINDOW}`, the default) and drains it; the rate
is records acknowledged by the broker (JetStream PubAck, MQTT PUBACK at QoS 1) per second,
from the receiver's `/api/forward` (`forwarded`, polled every 0.25 s) between the first
sample with progress and the last before the end. The **bare client** is the same library (nats-py
`publish_async` with `Nats-Msg-Id`; aiomqtt `publish` at QoS 1) publishing the same
{BACKLOG:,} message bodies (each record as one `/api/events` item, prepared beforehand) to
the same broker with {WINDOW} in flight, in this process, in the same run; two rounds
interleaved (bare, forwarder, bare, forwarder; each sink a fresh name, so a fresh
position), the best of each kept. ratio = forwarder ÷ bare client (target ≥ 0.7).

**Lag at full ingest**: `facepush receiver serve` on a fresh SQLite store with both sinks,
while wrk (2 threads, 64 connections, {INGEST_SECONDS} s, unique pushes as in
receiver-ingest) pushes as fast as the receiver answers; `/api/forward`'s `lag_s` (the age
of the oldest record a sink has not acknowledged yet) is sampled every 0.25 s. The ingest
rate is compared with the same receiver without sinks, measured the same way just before
(forwarding must not slow ingest). Target: lag under 2 s. Absolute rates are this
machine's, which is shared: see the load average under the table.
"""


@benchmark("forward", METHOD)
def forward() -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="facepush-bench-fwd-") as tmp_text:
        tmp = Path(tmp_text)
        db = f"sqlite:///{tmp / 'backlog.sqlite3'}"
        bodies = _fill(db)
        for kind in ("nats", "mqtt"):
            bare = forwarded = 0.0
            for _ in range(ROUNDS):  # interleaved, best of each: the machine is shared
                tag = f"bench{uuid.uuid4().hex[:8]}"
                bare = max(bare, asyncio.run(_bare(kind, bodies, tag + "b")))
                forwarded = max(forwarded, _drain(kind, db, tmp, tag))
                asyncio.run(_cleanup(kind, [tag, tag + "b"]))
            rows.append(
                {
                    "case": f"{BACKLOG:,} backlog",
                    "sink": kind,
                    "forwarder rec/s": round(forwarded),
                    "bare client rec/s": round(bare),
                    "ratio": round(forwarded / bare, 2),
                }
            )
        rows += _lag(tmp)
    return rows


def _fill(db: str) -> list[bytes]:
    """The backlog, stored; returns each record's message body as a sink sends it."""
    store = open_store(db)
    try:
        now = int(time.time() * 1000)
        for start_at in range(0, BACKLOG, 500):
            batch = [
                incoming(
                    decode_push(record(str(uuid.uuid4()), None)),
                    source="127.0.0.1",
                    received_at=now,
                    late_after_ms=300_000,
                )
                for _ in range(start_at, min(BACKLOG, start_at + 500))
            ]
            store.ingest(batch)
        rows = store.events(_all(), None, BACKLOG + 1)
    finally:
        store.close()
    return [dump_json(row_item(r)) for r in reversed(rows)]


def _all() -> Any:
    from facepush.receiver.store import EventFilter

    return EventFilter()


async def _bare(kind: str, bodies: list[bytes], tag: str) -> float:
    """The library alone: the same messages, {WINDOW} in flight; records/s."""
    keys = [json.loads(b)["key"] for b in bodies]
    if kind == "nats":
        nc = await nats.connect(NATS)
        js = nc.jetstream(publish_async_max_pending=WINDOW)
        await js.add_stream(name=tag, subjects=[f"{tag}.>"])
        started = time.perf_counter()
        futures = [
            await js.publish_async(f"{tag}.D.recognition", b, headers={"Nats-Msg-Id": k})
            for b, k in zip(bodies, keys, strict=True)
        ]
        await asyncio.gather(*futures)
        took = time.perf_counter() - started
        await nc.close()
        return len(bodies) / took
    async with aiomqtt.Client("127.0.0.1", 1883, max_inflight_messages=WINDOW) as client:
        client.pending_calls_threshold = 1 << 30
        gate = asyncio.Semaphore(WINDOW)

        async def one(body: bytes) -> None:
            async with gate:
                await client.publish(f"{tag}/D/recognition", body, qos=1)

        started = time.perf_counter()
        await asyncio.gather(*(one(b) for b in bodies))
        return len(bodies) / (time.perf_counter() - started)


def _config(tmp: Path, sinks: list[tuple[str, str, str]]) -> Path:
    lines = []
    for name, kind, tag in sinks:
        url = NATS if kind == "nats" else MQTT
        lines += ["[[forward]]", f'name = "{name}"', f'url = "{url}"', f'topic = "{tag}"']
        if kind == "nats":
            lines.append(f'stream = "{tag}"')
    path = tmp / f"forward-{uuid.uuid4().hex[:6]}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _sinks(url: str) -> dict[str, dict[str, Any]]:
    with urllib.request.urlopen(url + "/api/forward", timeout=30) as reply:
        return {s["name"]: s for s in json.loads(reply.read())["data"]["items"]}


def _drain(kind: str, db: str, tmp: Path, tag: str) -> float:
    config = _config(tmp, [(tag, kind, tag)])
    args = ["facepush", "receiver", "serve", "--listen", "127.0.0.1:0", "--db", db]
    proc, url = start([*args, "--config", str(config)], tmp / f"drain-{kind}.log")
    try:
        # Samples while draining: the rate is taken between the first with progress and
        # the last before the end (no sample's delay after the end counts).
        samples: list[tuple[float, int]] = []
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            forwarded = _sinks(url)[tag]["forwarded"]
            now = time.perf_counter()
            if forwarded >= BACKLOG:
                inside = [s for s in samples if s[1] > 0] or [(now, 0)]
                last = inside[-1] if len(inside) > 1 else (now, forwarded)
                return (last[1] - inside[0][1]) / (last[0] - inside[0][0])
            samples.append((now, forwarded))
            time.sleep(POLL_S)
        raise RuntimeError(f"{kind}: the backlog did not drain: {samples[-1:]}")
    finally:
        stop(proc)


def _lag(tmp: Path) -> list[Row]:
    body = tmp / "body.json"
    wrk.template(body, 0)
    rates = {}
    lags: dict[str, list[float]] = {}
    tags = {"nats": f"lag{uuid.uuid4().hex[:8]}", "mqtt": f"lag{uuid.uuid4().hex[:8]}"}
    for case in ("without sinks", "with both sinks"):
        db = f"sqlite:///{tmp / uuid.uuid4().hex}.sqlite3"
        args = ["facepush", "receiver", "serve", "--listen", "127.0.0.1:0", "--db", db]
        if case != "without sinks":
            config = _config(tmp, [(k, k, tags[k]) for k in ("nats", "mqtt")])
            args += ["--config", str(config)]
        proc, url = start(args, tmp / f"lag-{uuid.uuid4().hex[:6]}.log")
        samples: dict[str, list[float]] = {"nats": [], "mqtt": []}
        done = threading.Event()
        sampler = threading.Thread(
            target=_sample, args=(url, samples, done, case != "without sinks"), daemon=True
        )
        sampler.start()
        try:
            result = wrk.run(url + "/Record", body, conns=64, seconds=INGEST_SECONDS, threads=2)
            rates[case] = result["rate"]
            done.set()
            sampler.join(timeout=30)
            if case != "without sinks":
                lags = samples
                _wait_caught_up(url)
        finally:
            done.set()
            stop(proc)
    asyncio.run(_cleanup("nats", [tags["nats"]]))
    rows: list[Row] = []
    for kind in ("nats", "mqtt"):
        series = lags[kind] or [float("nan")]
        rows.append(
            {
                "case": "lag at full ingest",
                "sink": kind,
                "ingest rec/s": round(rates["with both sinks"]),
                "ingest without sinks rec/s": round(rates["without sinks"]),
                "ingest ratio": round(rates["with both sinks"] / rates["without sinks"], 2),
                "lag p50 s": round(statistics.median(series), 2),
                "lag max s": round(max(series), 2),
                "samples": len(lags[kind]),
            }
        )
    return rows


def _sample(url: str, samples: dict[str, list[float]], done: threading.Event, on: bool) -> None:
    """Every sink's lag_s every 0.25 s until `done`."""
    while not done.wait(0.25):
        if on:
            for name, sink in _sinks(url).items():
                samples[name].append(sink["lag_s"])


def _wait_caught_up(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(s["pending"] == 0 for s in _sinks(url).values()):
            return
        time.sleep(0.2)
    raise RuntimeError(f"forwarding did not catch up: {_sinks(url)}")


async def _cleanup(kind: str, streams: list[str]) -> None:
    if kind != "nats":
        return
    nc = await nats.connect(NATS)
    js = nc.jetstream()
    for name in streams:
        with contextlib.suppress(Exception):  # gone already
            await js.delete_stream(name)
    await nc.close()
