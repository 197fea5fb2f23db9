"""A real `facepush receiver serve` process stays under 300 MB while its read side is
flooded with multi-megabyte rows (on SQLite and PostgreSQL), and while a stalled stream
client is sent 115 MB of records.

The large rows are written through the store API: they stand for rows stored before the
ingest limits, or by another writer; the push path refuses them now. Before the byte
bounds, one `GET /api/events?limit=100` over such rows built a reply of every row at once
(60 rows of 15 MiB: a 900 MiB reply, 4.5 GB of RSS).
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from facepush.receiver import Incoming, open_store
from facepush.receiver.store import StoreOutcome
from tests.receiver.processes import rss_bytes, start_receiver
from tests.support.processes import Process
from tests.support.records import body, recognition

MiB = 1 << 20
ROWS = 6  # of each kind below
BIG = 8 * MiB  # bytes of text in each large row
BOUND = 300 * MiB


def _peak_reset(pid: int) -> None:
    """Start a new peak-RSS measurement (Linux: `5` resets VmHWM)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def _peak(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _row(n: int, *, kind: str) -> Incoming:
    """A recognition with an 8 MiB remark, one from a terminal with an 8 MiB serial, or an
    alarm with an 8 MiB description."""
    filler = chr(ord("a") + n % 26) * BIG
    serial = f"S{n:02d}-{filler}" if kind == "serial" else "BIG-1"
    data: dict[str, Any] = {"uuid": f"{kind}-{n}", "deviceSN": serial, "pass": True}
    if kind == "remark":
        data["user"] = {"user_id": "5", "name": "x", "remark": filler}
    if kind == "alarm":
        data = {"trace_id": f"T-{n}", "status": 1, "code": 10001, "description": filler}
    return Incoming(
        key=f"a:T-{n}:1:{n}" if kind == "alarm" else f"r:{kind}-{n}",
        type=1 if kind == "alarm" else 0,
        device=None if kind == "alarm" else serial,
        source="127.0.0.1",
        occurred_at=1_700_000_000_000 + n,
        received_at=1_700_000_000_000 + n,
        late=False,
        user_id="5",
        passed=True,
        trace_id=f"T-{n}" if kind == "alarm" else None,
        status=1 if kind == "alarm" else None,
        code=10001 if kind == "alarm" else None,
        fields=json.dumps(data),
    )


def _kinds(db_url: str) -> tuple[str, ...]:
    # PostgreSQL cannot index text beyond ~2.7 KB (btree row limit), so it never held an
    # 8 MiB serial: its large rows are remarks and alarm descriptions.
    return ("remark", "serial", "alarm") if db_url.startswith("sqlite") else ("remark", "alarm")


@pytest.fixture
def flooded(db_url: str, tmp_path: Path) -> Iterator[tuple[Process, str, int]]:
    store = open_store(db_url)
    kinds = _kinds(db_url)
    try:
        for kind in kinds:
            rows = [_row(n, kind=kind) for n in range(ROWS)]
            assert store.ingest(rows) == [StoreOutcome.STORED] * ROWS
    finally:
        store.close()
    proc, url = start_receiver(tmp_path / "receiver.log", "--db", db_url)
    try:
        yield proc, url, len(kinds)
    finally:
        assert proc.stop() == 0


def _pages(url: str, path: str) -> tuple[int, int, int]:
    """Page through `path`: (items, pages, largest reply in bytes)."""
    items = pages = largest = 0
    cursor = None
    while True:
        sep = "&" if "?" in path else "?"
        page_url = url + path + (f"{sep}cursor={cursor}" if cursor else "")
        with urllib.request.urlopen(page_url, timeout=120) as resp:
            raw = resp.read()
        data = json.loads(raw)["data"]
        items += len(data["items"])
        pages += 1
        largest = max(largest, len(raw))
        cursor = data["next"]
        if cursor is None:
            return items, pages, largest


def _export(url: str) -> int:
    lines = 0
    with urllib.request.urlopen(url + "/api/export.csv", timeout=300) as resp:
        while chunk := resp.read(MiB):
            lines += chunk.count(b"\n")
    return lines


def test_read_side_floods_stay_in_bounded_memory(flooded: tuple[Process, str, int]) -> None:
    proc, url, kinds = flooded
    pid = proc.proc.pid
    floods = {
        "/api/events?limit=100": lambda: _pages(url, "/api/events?limit=100"),
        "/api/devices": lambda: _pages(url, "/api/devices"),
        "/api/alarms?limit=100": lambda: _pages(url, "/api/alarms?limit=100"),
        "/api/export.csv": lambda: (_export(url), 0, 0),
    }
    expected = {
        "/api/events?limit=100": kinds * ROWS,
        "/api/devices": 1 + (ROWS if kinds == 3 else 0),
        "/api/alarms?limit=100": ROWS,
        "/api/export.csv": kinds * ROWS + 1,  # and the header
    }
    peaks = {}
    for name, flood in floods.items():
        _peak_reset(pid)
        started = time.monotonic()
        items, pages, largest = flood()
        peaks[name] = _peak(pid)
        print(
            f"\n{name}: {items} items, {pages} pages, largest reply {largest / MiB:.1f} MiB, "
            f"peak RSS {peaks[name] / MiB:.0f} MiB, {time.monotonic() - started:.1f} s"
        )
        assert items == expected[name], name
        assert largest <= BIG + 5 * MiB, name  # one large row alone, or 4 MiB of small ones
    assert all(peak < BOUND for peak in peaks.values()), peaks


def _stalled_stream(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    sock.sendall(f"GET /api/stream HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    sock.settimeout(10)
    head = b""
    while b"connected" not in head:
        head += sock.recv(4096)
    return sock  # and never read again


async def _push_all(url: str, count: int, prefix: str) -> None:
    note = "n" * 3000
    # ~60 KB each, within the ingest limits: 20 text fields of 3,000 characters.
    payloads = [
        body(recognition(f"{prefix}-{i}", **{f"note{k}": note for k in range(20)}))
        for i in range(count)
    ]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def worker() -> None:
            while payloads:
                async with session.post(url + "/Record", data=payloads.pop()) as resp:
                    assert resp.status == 200, await resp.text()

        await asyncio.gather(*(worker() for _ in range(8)))


def test_a_stalled_stream_client_does_not_grow_the_receiver(
    sqlite_url: str, tmp_path: Path
) -> None:
    proc, url = start_receiver(tmp_path / "stream.log", "--db", sqlite_url)
    sock = None
    try:
        asyncio.run(_push_all(url, 300, "warm"))  # the ingest path at its working size
        baseline = rss_bytes(proc.proc.pid)
        sock = _stalled_stream(url)
        asyncio.run(_push_all(url, 1900, "flood"))  # 115 MB, under 2,000 messages
        grown = rss_bytes(proc.proc.pid) - baseline
        print(f"\nstalled stream client + 1,900 × 60 KB: RSS grew {grown / MiB:.0f} MiB")
        # Before: the client's 2,000-message queue held every one of them (+115 MB).
        assert grown < 48 * MiB, f"RSS grew by {grown / MiB:.0f} MiB"
        assert rss_bytes(proc.proc.pid) < BOUND
    finally:
        if sock is not None:
            sock.close()
        assert proc.stop() == 0
