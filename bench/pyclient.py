"""The Python load client: one terminal's worth of load, and latency at a fixed rate.

`python -m bench.pyclient URL CONNS SECONDS SNAPSHOT RATE` runs an aiohttp client with
CONNS keep-alive connections, each pushing one record after another (RATE 0), or on a fixed
schedule that offers RATE records/s in all (latency then counts from the scheduled time, so
that queueing behind a slow reply is not hidden: wrk cannot pace like that). It prints one
JSON object. A Python client tops out far below what the receiver can take, so its rates
are those of one terminal, not of the receiver; the receiver's rate comes from bench.wrk.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import time
import uuid
from typing import Any

from bench.records import record
from bench.wrk import TAIL_MARK, UUID_MARK, snapshot_jpeg

WARMUP_S = 1.0


async def load(url: str, conns: int, seconds: float, snapshot: int, rate: float) -> dict[str, Any]:
    import aiohttp

    # The body is built once; each request splices in a fresh uuid (and, for snapshots, a
    # fresh tail of the image's base64, so that every snapshot is unique as real faces are).
    image_b64 = None
    if snapshot:
        image = snapshot_jpeg(snapshot)
        image += b"\0" * (-len(image) % 3)
        image_b64 = base64.b64encode(image).decode() + TAIL_MARK
    head, _, tail = record(UUID_MARK, image_b64).partition(UUID_MARK.encode())
    img_head, _, img_tail = tail.partition(TAIL_MARK.encode())
    latencies: list[float] = []
    failures = ok = 0
    start = time.perf_counter()
    cpu = time.process_time()
    measure_from = start + WARMUP_S
    stop_at = measure_from + seconds

    def payload() -> bytes:
        uid = uuid.uuid4()
        if not snapshot:
            return head + str(uid).encode() + tail
        return head + str(uid).encode() + img_head + uid.hex.encode() + img_tail

    async def worker(session: aiohttp.ClientSession, index: int) -> None:
        nonlocal failures, ok
        interval = conns / rate if rate else 0.0
        due = start + index * interval / conns
        while True:
            data = payload()
            if interval:
                due += interval
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
            began = due if interval else time.perf_counter()
            if began >= stop_at:
                return
            async with session.post(url, data=data) as resp:
                reply = await resp.read()
            ended = time.perf_counter()
            if resp.status != 200 or b'"code":200' not in reply:
                failures += 1
                continue
            ok += 1
            if began >= measure_from:
                latencies.append(ended - began)

    connector = aiohttp.TCPConnector(limit=conns)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session, i) for i in range(conns)))
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - start
    latencies.sort()
    n = len(latencies)
    return {
        "rate": n / seconds,
        "p50_ms": latencies[n // 2] * 1000 if n else None,
        "p99_ms": latencies[min(n - 1, int(n * 0.99))] * 1000 if n else None,
        "failures": failures,
        "ok": ok,
        "body_bytes": len(payload()),
        "load_cores": cpu / wall,
        "load_us": cpu / max(1, ok + failures) * 1e6,
    }


if __name__ == "__main__":
    url, conns, seconds, snapshot, rate = sys.argv[1:6]
    result = asyncio.run(load(url, int(conns), float(seconds), int(snapshot), float(rate)))
    print(json.dumps(result))
