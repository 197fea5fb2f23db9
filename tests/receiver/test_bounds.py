"""The read side is bounded in bytes, not rows, on both backends: pages of /api/events,
/api/devices and /api/alarms stop at the page budget and say `next`; the CSV export is
written in chunks of about that budget; a stream client that falls behind is skipped
forward with `event: missed` instead of being buffered without bound. The budgets are made
small here (`page_bytes`, `stream_buffer_bytes`) so that records well within the ingest
limits show them; tests/receiver/test_read_memory.py shows the default budgets holding
against multi-megabyte rows in a real process."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

from facepush.receiver.app import BROADCASTER
from tests.support.receiver import Running, Serve
from tests.support.records import alarm, recognition

PAGE = 8 * 1024
NOTE = "n" * 3000  # a text field well within any per-field limit


def bulky(uid: str, notes: int = 1, **kwargs: Any) -> dict[str, Any]:
    """A recognition with `notes` extra fields of 3,000 characters each."""
    extra = {f"note{i}": NOTE for i in range(notes)}
    return recognition(uid, **kwargs, **extra)


async def get_raw(rx: Running, path: str, **params: Any) -> tuple[bytes, dict[str, Any]]:
    async with rx.session.get(rx.url + path, params=params) as resp:
        raw = await resp.read()
    reply = json.loads(raw)
    assert resp.status == 200 and reply["code"] == 200, reply
    return raw, reply["data"]


async def all_pages(rx: Running, path: str, **params: Any) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    cursor = None
    while True:
        _raw, data = await get_raw(rx, path, **params, **({"cursor": cursor} if cursor else {}))
        pages.append(data["items"])
        cursor = data["next"]
        if cursor is None:
            return pages
        assert len(pages) < 100, "paging does not end"


async def test_event_pages_stop_at_the_byte_budget(serve: Serve) -> None:
    rx = await serve(page_bytes=PAGE)
    uids = [f"b-{i}" for i in range(12)]
    for uid in uids[:6]:
        assert (await rx.push(bulky(uid)))[0] == 200
    # One record larger than the whole budget (three notes): it comes alone, whole.
    assert (await rx.push(bulky("b-big", notes=3)))[0] == 200
    for uid in uids[6:]:
        assert (await rx.push(bulky(uid)))[0] == 200

    raw, first = await get_raw(rx, "/api/events", limit=100)
    assert first["next"] and 1 < len(first["items"]) < 13  # limit 100 asked, bytes decided
    assert len(raw) <= PAGE + 512  # the envelope around items within the budget
    pages = await all_pages(rx, "/api/events", limit=100)
    seen = [item["uuid"] for page in pages for item in page]
    assert seen == [*reversed(uids[6:]), "b-big", *reversed(uids[:6])]  # each once, in order
    big = next(page for page in pages if page[0]["uuid"] == "b-big")
    assert len(big) == 1 and big[0]["note2"] == NOTE
    # The row limit still holds within the budget.
    _raw, two = await get_raw(rx, "/api/events", limit=2)
    assert len(two["items"]) == 2 and two["next"]


async def test_devices_page_by_serial_and_bytes(serve: Serve) -> None:
    rx = await serve(page_bytes=2048)  # about 7 terminals a page
    serials = [f"D{i:02d}" for i in range(20)]
    for serial in serials:
        assert (await rx.push(recognition(f"dev-{serial}", device=serial)))[0] == 200

    _raw, first = await get_raw(rx, "/api/devices")
    assert first["next"] and 1 < len(first["items"]) < 20
    pages = await all_pages(rx, "/api/devices")
    assert [d["serial"] for page in pages for d in page] == serials  # in order of serial
    _raw, three = await get_raw(rx, "/api/devices", limit=3)
    assert [d["serial"] for d in three["items"]] == serials[:3]

    # A terminal seen for the first time while paging shifts the pages: an item may repeat,
    # none is skipped.
    _raw, page1 = await get_raw(rx, "/api/devices", limit=5)
    assert (await rx.push(recognition("dev-new", device="A-new")))[0] == 200
    rest = []
    cursor = page1["next"]
    while cursor:
        _raw, data = await get_raw(rx, "/api/devices", limit=5, cursor=cursor)
        rest += [d["serial"] for d in data["items"]]
        cursor = data["next"]
    assert set(serials) <= {d["serial"] for d in page1["items"]} | set(rest)


async def test_devices_without_parameters_lists_every_terminal(serve: Serve) -> None:
    """`GET /api/devices` as before: every terminal of a fleet within one page."""
    rx = await serve()
    for i in range(30):
        assert (await rx.push(recognition(f"all-{i}", device=f"T{i:03d}")))[0] == 200
    _raw, data = await get_raw(rx, "/api/devices")
    assert len(data["items"]) == 30 and data["next"] is None


async def test_alarm_pages_stop_at_the_byte_budget(serve: Serve) -> None:
    rx = await serve(page_bytes=PAGE)
    traces = [f"T{i:02d}" for i in range(10)]
    for n, trace in enumerate(traces):
        report = alarm(trace, 1, 1_700_000_000_000 + n)
        report["data"]["description"] = NOTE  # ~3 KB of what the raising report said
        assert (await rx.push(report))[0] == 200

    raw, first = await get_raw(rx, "/api/alarms", limit=100)
    assert first["next"] and 1 < len(first["items"]) < 10
    assert len(raw) <= PAGE + 512
    pages = await all_pages(rx, "/api/alarms", limit=100)
    items = [a for page in pages for a in page]
    assert [a["trace_id"] for a in items] == list(reversed(traces))  # newest report first
    assert all(a["description"] == NOTE for a in items)


async def test_export_is_written_in_chunks_of_the_byte_budget(serve: Serve) -> None:
    rx = await serve(page_bytes=PAGE)
    for i in range(20):
        assert (await rx.push(bulky(f"x-{i}")))[0] == 200
    chunks: list[int] = []
    current = 0
    text = b""
    async with rx.session.get(rx.url + "/api/export.csv") as resp:
        assert resp.status == 200
        async for data, end_of_chunk in resp.content.iter_chunks():
            current += len(data)
            text += data
            if end_of_chunk:
                chunks.append(current)
                current = 0
    assert text.count(b"\r\n") == 21  # the header and every row
    assert len(chunks) >= 5, chunks  # 20 rows of ~3 KB: several chunks, not one
    # A CSV row is about its stored text (a few columns repeat fields, quotes double).
    assert max(chunks) <= 2 * PAGE, chunks


def _stalled_connection(url: str) -> socket.socket:
    """A stream client that reads its reply headers, then nothing more."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    sock.sendall(f"GET /api/stream HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    sock.settimeout(10)
    head = b""
    while b"connected" not in head:
        head += sock.recv(4096)
    return sock


def _kernel_buffers() -> int:
    """The most the kernel can hold for a connection that is not read (send side)."""
    return int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])


def _read_stream_until(sock: socket.socket, marker: bytes) -> list[tuple[str, Any]]:
    data = b""
    # Until the marker's event is complete: a recv may end in the middle of it.
    while marker not in data or b"\n\n" not in data[data.index(marker) :]:
        chunk = sock.recv(1 << 20)
        assert chunk, "the stream ended before the marker record"
        data += chunk
    events: list[tuple[str, Any]] = []
    for block in data.split(b"\n\n"):
        lines = dict(line.split(b": ", 1) for line in block.split(b"\n") if b": " in line)
        if b"event" in lines:
            events.append((lines[b"event"].decode(), json.loads(lines[b"data"])))
    return events


async def test_a_stalled_stream_client_is_skipped_forward_in_bounded_memory(
    serve: Serve,
) -> None:
    budget = 256 * 1024
    rx = await serve(stream_buffer_bytes=budget)
    loop = asyncio.get_running_loop()
    sock = await loop.run_in_executor(None, _stalled_connection, rx.url)
    try:
        clients = rx.app[BROADCASTER]._clients
        # More than the kernel and the client can hold, so that the receiver's buffer for
        # this client must overflow: records of ~36 KB, within the ingest limits.
        total = (_kernel_buffers() + 2 * 1024 * 1024) // 36_000
        peak = 0
        for i in range(total):
            assert (await rx.push(bulky(f"s-{i}", notes=12)))[0] == 200
            peak = max([peak, *(client.size for client in clients)])
        assert peak <= budget  # never more buffered for the client than its budget
        assert (await rx.push(recognition("s-marker")))[0] == 200
        events = await loop.run_in_executor(None, _read_stream_until, sock, b"s-marker")
    finally:
        sock.close()
    missed = sum(data["missed"] for name, data in events if name == "missed")
    records = [data["uuid"] for name, data in events if name == "record"]
    assert missed > 0  # told that it fell behind...
    assert len(records) + missed == total + 1  # ...and of exactly how much it missed
    assert records[-1] == "s-marker"
    order = [int(uid.removeprefix("s-")) for uid in records[:-1]]
    assert order == sorted(order)  # what it got came in the order stored


async def test_a_record_larger_than_the_stream_buffer_is_announced_as_missed(
    serve: Serve,
) -> None:
    rx = await serve(stream_buffer_bytes=8 * 1024, keepalive_s=0.2)
    async with rx.session.get(rx.url + "/api/stream") as resp:
        await asyncio.wait_for(resp.content.readuntil(b"\n\n"), 5)  # connected
        await rx.push(bulky("huge", notes=3))
        await rx.push(recognition("small"))
        received: list[str] = []
        while len(received) < 2:
            block = (await asyncio.wait_for(resp.content.readuntil(b"\n\n"), 5)).decode()
            if not block.startswith(":"):
                received.append(block.strip())
    assert received[0] == 'event: missed\ndata: {"missed":1}'
    assert received[1].startswith("event: record\n") and '"small"' in received[1]
    # What the stream could not carry, /api/events has.
    assert (await rx.get("/api/events/r:huge"))["data"]["note2"] == NOTE
