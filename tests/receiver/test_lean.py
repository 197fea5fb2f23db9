"""The lean push path (receiver/lean.py): plain pushes answered without aiohttp, anything
else handed to aiohttp with its bytes, and never an answer that differs from aiohttp's.

Raw sockets on 127.0.0.1, so that the exact bytes (pipelined, trickled, malformed) reach
the server as a client sends them."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from facepush.guard import ConnectionGuard
from facepush.receiver import Store, Tuning
from facepush.receiver.app import LEAN
from facepush.receiver.lean import Head, plain_push
from facepush.sitepolicy import SitePolicy
from tests.support.receiver import Running, Serve, configured, running
from tests.support.records import body, recognition

WAIT_S = 10.0  # every read is bounded


def push_request(payload: bytes, path: str = "/Record", extra: str = "") -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n{extra}\r\n"
    )
    return head.encode() + payload


class Conn:
    """One raw connection: send bytes, read whole responses."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def response(self) -> tuple[int, dict[str, str], Any]:
        async with asyncio.timeout(WAIT_S):
            head = await self.reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ")[1])
            headers = {}
            for line in lines[1:]:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            if "content-length" in headers:
                raw = await self.reader.readexactly(int(headers["content-length"]))
            else:
                raw = await self.reader.read()
        if headers.get("content-type", "").startswith("application/json"):
            return status, headers, json.loads(raw)
        return status, headers, raw  # aiohttp's own refusals of malformed requests: text

    async def closed(self) -> bool:
        async with asyncio.timeout(WAIT_S):
            return await self.reader.read() == b""

    def close(self) -> None:
        self.writer.close()


@pytest.fixture
async def connect(serve: Serve) -> AsyncIterator[Any]:
    conns: list[Conn] = []

    async def open_conn(rx: Running) -> Conn:
        host, port = rx.url.removeprefix("http://").rsplit(":", 1)
        conn = Conn(*await asyncio.open_connection(host, int(port)))
        conns.append(conn)
        return conn

    try:
        yield open_conn
    finally:
        for conn in conns:
            conn.close()


def lean_count(rx: Running) -> tuple[int, int]:
    lean = rx.app[LEAN]
    return lean.taken, lean.handed


async def test_a_plain_push_is_answered_on_the_lean_path(
    serve: Serve, connect: Any, store: Store
) -> None:
    rx = await serve()
    conn = await connect(rx)
    await conn.send(push_request(body(recognition("lean-1"))))
    status, headers, reply = await conn.response()
    assert (status, reply["code"], reply["msg"]) == (200, 200, "success")
    assert headers["content-type"] == "application/json"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in headers["content-security-policy"]
    assert lean_count(rx) == (1, 0)
    assert store.event("r:lean-1") is not None
    text = await (await rx.session.get(rx.url + "/metrics")).text()
    assert "facepush_receiver_lean_pushes_total 1" in text


async def test_pipelined_and_trickled_pushes_are_each_answered_in_order(
    serve: Serve, connect: Any, store: Store
) -> None:
    rx = await serve()
    conn = await connect(rx)
    await conn.send(b"".join(push_request(body(recognition(f"pipe-{i}"))) for i in range(3)))
    for _ in range(3):
        assert (await conn.response())[0] == 200
    one = push_request(body(recognition("trickled")))
    for i in range(len(one)):  # byte by byte: the head, then the body
        await conn.send(one[i : i + 1])
    assert (await conn.response())[0] == 200
    assert lean_count(rx) == (4, 0)
    assert all(store.event(f"r:{uid}") for uid in ["pipe-0", "pipe-1", "pipe-2", "trickled"])


async def test_another_request_hands_the_connection_to_aiohttp_with_its_bytes(
    serve: Serve, connect: Any
) -> None:
    rx = await serve()
    conn = await connect(rx)
    await conn.send(push_request(body(recognition("first"))))
    assert (await conn.response())[0] == 200
    # A GET and then a push, in one send: aiohttp answers both, in order.
    get = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    await conn.send(get + push_request(body(recognition("after"))))
    status, _headers, reply = await conn.response()
    assert (status, reply["code"]) == (200, 200)
    assert (await conn.response())[0] == 200
    assert lean_count(rx) == (1, 1)


async def test_connection_close_is_honoured(serve: Serve, connect: Any) -> None:
    rx = await serve()
    conn = await connect(rx)
    await conn.send(push_request(body(recognition("bye")), extra="Connection: close\r\n"))
    status, headers, _reply = await conn.response()
    assert (status, headers["connection"]) == (200, "close")
    assert await conn.closed()


async def test_an_idle_connection_is_closed_after_the_keepalive_time(
    serve: Serve, connect: Any
) -> None:
    rx = await serve(lean_keepalive_s=0.1)
    conn = await connect(rx)
    await conn.send(push_request(body(recognition("idle"))))
    assert (await conn.response())[0] == 200
    assert await conn.closed()  # by the sweep, within a second or two (bounded: WAIT_S)


async def test_a_push_whose_body_does_not_come_gets_408_and_is_not_stored(store: Store) -> None:
    guard = ConnectionGuard(request_timeout=0.2)
    async with running(configured(store.url), store, Tuning(), guard=guard) as rx:
        host, port = rx.url.removeprefix("http://").rsplit(":", 1)
        conn = Conn(*await asyncio.open_connection(host, int(port)))
        try:
            request = push_request(body(recognition("never-whole")))
            await conn.send(request[:-10])  # the head and most of the body, never the rest
            status, headers, reply = await conn.response()
            assert (status, reply["code"], headers["connection"]) == (408, 408, "close")
            assert "not completed within 0.2 s" in reply["msg"]
            assert await conn.closed()
        finally:
            conn.close()
    assert store.event("r:never-whole") is None
    assert store.quarantine(None, 10) == []  # nothing arrived that could be kept


async def test_a_client_gone_in_the_middle_of_a_body_gives_its_budget_back(
    serve: Serve, connect: Any
) -> None:
    rx = await serve()
    budget = rx.app[LEAN].push.budget.small
    conn = await connect(rx)
    await conn.send(push_request(b"x" * 200_000)[:-150_000])  # the head, part of the body
    async with asyncio.timeout(WAIT_S):
        while budget.in_use == 0:  # taken when the head was whole
            await asyncio.sleep(0.01)
    conn.close()
    async with asyncio.timeout(WAIT_S):
        while budget.in_use:
            await asyncio.sleep(0.01)


async def test_a_next_head_begun_during_an_answer_is_bounded_by_the_header_timeout(
    store: Store,
) -> None:
    guard = ConnectionGuard(header_timeout=0.2)
    async with running(configured(store.url), store, Tuning(), guard=guard) as rx:
        host, port = rx.url.removeprefix("http://").rsplit(":", 1)
        conn = Conn(*await asyncio.open_connection(host, int(port)))
        try:
            await conn.send(push_request(body(recognition("then-p"))) + b"P")
            assert (await conn.response())[0] == 200
            assert await conn.closed()  # the lone "P" never became a head
        finally:
            conn.close()


async def test_a_client_that_does_not_read_its_answers_is_not_read_from(
    serve: Serve, store: Store
) -> None:
    """Pipelined pushes from a client that reads none of the answers: once the answers fill
    the buffers between them, the server takes no further request (and so keeps no growing
    pile of answers in memory) until the client reads; then every push is answered, in
    order. Tiny socket buffers on both ends make "full" a few dozen answers."""
    rx = await serve()
    lean = rx.app[LEAN]
    host, port = rx.url.removeprefix("http://").rsplit(":", 1)
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: the window
    raw.setblocking(False)
    await asyncio.get_running_loop().sock_connect(raw, (host, int(port)))
    conn = Conn(*await asyncio.open_connection(sock=raw, limit=1024))
    try:
        async with asyncio.timeout(WAIT_S):
            while not lean.connections:
                await asyncio.sleep(0.01)
        (server,) = lean.connections
        server.transport.get_extra_info("socket").setsockopt(
            socket.SOL_SOCKET, socket.SO_SNDBUF, 4096
        )
        server.transport.set_write_buffer_limits(high=1024)
        count = 300
        conn.writer.write(
            b"".join(push_request(body(recognition(f"bp-{i}"))) for i in range(count))
        )
        async with asyncio.timeout(WAIT_S):  # the answers back up, and the last one is written
            while server.transport.get_write_buffer_size() <= 1024 or server.task is not None:
                await asyncio.sleep(0.01)
        assert not server.transport.is_reading()
        taken = lean.taken
        assert 0 < taken < count // 3  # here 19: what the tiny buffers hold
        for i in range(count):
            status, _headers, reply = await conn.response()
            assert (status, reply["code"]) == (200, 200), i
        assert lean.taken == count
        assert all(store.event(f"r:bp-{i}") is not None for i in range(0, count, 50))
        assert store.stats()["recognitions"] == count
    finally:
        conn.close()


async def test_a_push_being_stored_at_shutdown_is_answered(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release = threading.Event(), threading.Event()
    ingest = store.ingest

    def slow(batch: Any) -> Any:
        entered.set()
        assert release.wait(WAIT_S)
        return ingest(batch)

    monkeypatch.setattr(store, "ingest", slow)
    serving = running(configured(store.url), store, Tuning())
    rx = await serving.__aenter__()
    host, port = rx.url.removeprefix("http://").rsplit(":", 1)
    conn = Conn(*await asyncio.open_connection(host, int(port)))
    try:
        await conn.send(push_request(body(recognition("at-shutdown"))))
        assert await asyncio.to_thread(entered.wait, WAIT_S)
        stopping = asyncio.create_task(serving.__aexit__(None, None, None))
        await asyncio.sleep(0)  # the shutdown has begun; the push is still being stored
        release.set()
        status, _headers, reply = await conn.response()
        assert (status, reply["code"]) == (200, 200)
        await asyncio.wait_for(stopping, WAIT_S)
    finally:
        release.set()
        conn.close()
    assert store.event("r:at-shutdown") is not None


def test_plain_push_takes_only_plain_heads() -> None:
    policy = SitePolicy()
    good = b"POST /Record HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5"
    assert plain_push(good, b"/Record", policy, 1024) == Head(5, close=False)
    both = good + b"\r\nConnection: close\r\nConnection: keep-alive"
    assert plain_push(both, b"/Record", policy, 1024) == Head(5, close=True)  # as aiohttp
    for bad in [
        good + b"\r\nX: a\rTransfer-Encoding: chunked",  # a bare CR
        good + b"\r\nX: a\x00b",
        good + b"\r\nX@Y: 1",  # not a token
        good + b"\r\nX: caf\xc3\xa9",  # beyond ASCII: aiohttp judges
        good + b"\r\nContent-Encoding: gzip",
        good + b"\r\nX: " + b"a" * 8200,
        good.replace(b"5", b"0" * 30 + b"5"),
        good.replace(b"/Record", b"/Record?a\x01b"),
        good.replace(b"5", b"2000"),  # above max_body
    ]:
        assert plain_push(bad, b"/Record", policy, 1024) is None, bad[-40:]


def _cases() -> list[tuple[str, bytes]]:
    """Requests of every shape, each answered by both paths."""
    good = body(recognition("same"))
    host = "Host: 127.0.0.1\r\n"
    return [
        ("plain", push_request(good)),
        ("query string", push_request(good, "/Record?from=terminal")),
        ("other path", push_request(good, "/Other")),
        ("not JSON", push_request(b"{not json")),
        ("empty body", push_request(b"")),
        ("no type", push_request(b'{"data": {"uuid": "x"}}')),
        ("foreign Host", push_request(good).replace(b"Host: 127.0.0.1", b"Host: evil.example")),
        ("cross-site Origin", push_request(good, extra="Origin: http://evil.example\r\n")),
        ("two lengths", push_request(good, extra=f"Content-Length: {len(good)}\r\n")),
        ("HTTP/1.0", push_request(good).replace(b"HTTP/1.1", b"HTTP/1.0", 1)),
        (
            "chunked",
            (
                f"POST /Record HTTP/1.1\r\n{host}Transfer-Encoding: chunked\r\n\r\n"
                f"{len(good):x}\r\n"
            ).encode()
            + good
            + b"\r\n0\r\n\r\n",
        ),
        ("folded header", push_request(good, extra="X-A: 1\r\n  folded\r\n")),
        ("bare LF", push_request(good).replace(b"\r\n", b"\n")),
        ("LF before the blank line", push_request(good).replace(b"\r\n\r\n", b"\n\r\n")),
        ("bare CR in a value", push_request(good, extra="X-A: a\rb\r\n")),
        ("NUL in a value", push_request(good, extra="X-A: a\x00b\r\n")),
        ("name not a token", push_request(good, extra="X@A: 1\r\n")),
        ("gzip body", _gzipped(good)),
    ]


def _gzipped(payload: bytes) -> bytes:
    packed = gzip.compress(payload)
    return push_request(packed).replace(
        b"Content-Length", b"Content-Encoding: gzip\r\nContent-Length", 1
    )


@pytest.mark.parametrize("name", [name for name, _ in _cases()])
async def test_the_lean_path_answers_as_aiohttp_does(serve: Serve, connect: Any, name: str) -> None:
    """The same request to a receiver with the lean path and to one without (any
    middleware turns it off): the same status and the same reply."""
    request = dict(_cases())[name]

    @web.middleware
    async def passthrough(request: web.Request, handler: Any) -> web.StreamResponse:
        return await handler(request)

    lean, plain = await serve(), await serve(middlewares=[passthrough])
    assert LEAN in lean.app and LEAN not in plain.app
    answers = []
    for rx in (lean, plain):
        conn = await connect(rx)
        await conn.send(request)
        status, _headers, reply = await conn.response()
        answers.append((status, reply))
    assert answers[0] == answers[1]
