"""Slow-loris defence: a client that trickles its headers or its body is cut off within the
bounds, while ordinary requests (and keep-alive connections) are served."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from facepush.guard import ConnectionGuard
from facepush.web import serve_until_stopped


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, ConnectionGuard]]:
    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read())

    app = web.Application()
    app.router.add_post("/echo", echo)
    app.router.add_get("/", echo)
    guard = ConnectionGuard(header_timeout=0.5, request_timeout=1.0)
    urls: list[str] = []
    stop = asyncio.Event()
    task = asyncio.create_task(
        serve_until_stopped(app, "127.0.0.1", 0, announce=urls.append, stopped=stop, guard=guard)
    )
    async with asyncio.timeout(5):
        while not urls:
            await asyncio.sleep(0.01)
    yield urls[0], guard
    stop.set()
    await asyncio.wait_for(task, 10)


def _trickle(url: str, chunks: list[bytes], delay: float, budget: float) -> tuple[bytes, float]:
    host, port = url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=budget) as sock:
        try:
            for chunk in chunks:
                sock.sendall(chunk)
                time.sleep(delay)
            return sock.recv(4096), time.monotonic() - started
        except OSError:
            return b"", time.monotonic() - started


async def test_slow_headers_are_cut_off(server: tuple[str, ConnectionGuard]) -> None:
    url, guard = server
    chunks = [b"GET / HTTP/1.1\r\n"] + [b"X-Slow: 1\r\n"] * 40
    reply, took = await asyncio.to_thread(_trickle, url, chunks, 0.1, 10)
    assert reply == b"" and took < 3  # aborted after ~0.5 s, not after 4 s of trickling
    assert guard.aborted == 1


async def test_silent_connections_are_cut_off(server: tuple[str, ConnectionGuard]) -> None:
    url, guard = server
    reply, took = await asyncio.to_thread(_trickle, url, [b""], 0.0, 10)
    assert reply == b"" and took < 3
    assert guard.aborted == 1


async def test_slow_body_gets_408(server: tuple[str, ConnectionGuard]) -> None:
    url, _ = server
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
    # 10 of 100 bytes, then silence: the handler waits for the rest until the bound.
    reply, took = await asyncio.to_thread(_trickle, url, [head + b"x" * 10], 0.0, 10)
    assert reply.startswith(b"HTTP/1.1 408") and 0.9 < took < 3


async def test_normal_requests_and_idle_keepalive_are_served(
    server: tuple[str, ConnectionGuard],
) -> None:
    url, guard = server
    async with aiohttp.ClientSession() as session:
        for _ in range(3):
            async with session.post(url + "/echo", data=b"hello") as resp:
                assert await resp.read() == b"hello"
            await asyncio.sleep(0.7)  # idle between requests longer than the header bound
    assert guard.aborted == 0
