"""The live stream (`GET /v1/event`, WebSocket): at most three clients, a fourth refused
with HTTP 429; each connected client gets every recognition, nothing is kept for clients
not connected; a client that stops reading is dropped and never stalls intake."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from facepush.client import TerminalClient
from facepush.device.api import make_app
from facepush.device.auth import Accounts
from facepush.errors import TerminalRefused
from tests.support.device import ServiceFactory, eventually, start_device
from tests.support.processes import LOOPBACK
from tests.support.records import alarm, recognition

UPGRADE = {
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
}


class Listener:
    """One live-stream client collecting every message."""

    def __init__(self, url: str) -> None:
        self.client = TerminalClient(url)
        self.messages: list[dict[str, Any]] = []
        self.open = asyncio.Event()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for message in self.client.events(on_open=self.open.set):
            self.messages.append(message)

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.client.close()


async def status(url: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.get(url + "/push/status") as resp:
        return dict(json.loads(await resp.read())["data"])


async def clients_become(url: str, count: int, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while (await status(url))["live_clients"] != count:
        assert asyncio.get_running_loop().time() < deadline, f"live_clients never {count}"
        await asyncio.sleep(0.05)


async def hand_over(url: str, body: Any) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url + "/push/records", json=body) as resp,
    ):
        return dict(json.loads(await resp.read()))


@pytest.fixture
async def terminal(tmp_path: Path) -> AsyncIterator[str]:
    proc, url = start_device(tmp_path, "--data", str(tmp_path / "d"))
    yield url
    proc.stop()


async def test_a_fourth_client_is_refused_and_the_three_get_every_event(terminal: str) -> None:
    listeners = [Listener(terminal) for _ in range(3)]
    try:
        await asyncio.wait_for(asyncio.gather(*(x.open.wait() for x in listeners)), 10)
        fourth = TerminalClient(terminal)
        with pytest.raises(TerminalRefused) as refused:  # not a TimeoutError: never connected
            await asyncio.wait_for(anext(fourth.events()), 5)
        await fourth.close()
        assert refused.value.code == 429 and "3 live-stream clients" in str(refused.value)
        async with (
            aiohttp.ClientSession() as session,
            session.get(terminal + "/v1/event", headers=UPGRADE) as resp,
        ):
            reply = json.loads(await resp.read())
        assert resp.status == 429 and reply["code"] == 429 and "at most 3" in reply["msg"]
        handed = [recognition(n) for n in range(12)]
        for start in range(0, 12, 4):  # alarms are not on the stream
            await hand_over(terminal, [*handed[start : start + 4], alarm(start)])
        for listener in listeners:
            await eventually(lambda x=listener: len(x.messages) >= 12, what="every event")
            assert listener.messages == handed  # each: {"type": 0, "data": {...}} in order
        # A place frees when a client leaves; the newcomer gets nothing from before.
        await listeners[0].stop()
        await clients_become(terminal, 2)
        listeners[0] = Listener(terminal)
        await asyncio.wait_for(listeners[0].open.wait(), 10)
        await hand_over(terminal, recognition(99))
        await eventually(lambda: len(listeners[0].messages) == 1, what="the new event")
        assert listeners[0].messages == [recognition(99)]
        await eventually(lambda: len(listeners[1].messages) == 13, what="the new event")
    finally:
        for listener in listeners:
            await listener.stop()


async def _stalled_client(port: int) -> socket.socket:
    """A WebSocket client that completes the upgrade and then never reads."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(5)
    sock.connect((LOOPBACK, port))
    head = "".join(f"{k}: {v}\r\n" for k, v in UPGRADE.items())
    sock.sendall(f"GET /v1/event HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\n{head}\r\n".encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += await asyncio.to_thread(sock.recv, 1)
    assert answer.startswith(b"HTTP/1.1 101"), answer
    return sock


async def test_a_client_that_stops_reading_is_dropped_without_stalling_intake(
    make_service: ServiceFactory,
) -> None:
    service = await make_service(None)  # in memory: the stream is what is measured here
    service.live.queue_limit = 8
    runner = web.AppRunner(make_app(service, Accounts(None, None, b"k" * 32)))
    await runner.setup()
    site = web.TCPSite(runner, LOOPBACK, 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://{LOOPBACK}:{port}"
    reader = Listener(url)
    stalled = await _stalled_client(port)
    try:
        await asyncio.wait_for(reader.open.wait(), 10)
        await eventually(lambda: service.live.clients == 2, what="both clients")
        image = base64.b64encode(os.urandom(48_000)).decode()  # a 64 KB message each
        handed = [recognition(n, image=image) for n in range(300)]  # ~20 MB in all
        for start in range(0, 300, 5):
            reply = await asyncio.wait_for(hand_over(url, handed[start : start + 5]), 10)
            assert reply["code"] == 200  # intake never waits for the stalled client
            # the reader keeps up (5 behind at most), the stalled one does not
            await eventually(lambda n=start + 5: len(reader.messages) == n, what="the events")
        assert service.live.dropped == 1  # the stalled one, not the reader
        await eventually(lambda: service.live.clients == 1, what="the stalled client gone")
        assert [m["data"]["uuid"] for m in reader.messages] == [f"rec-{n:06d}" for n in range(300)]
    finally:
        stalled.close()
        await reader.stop()
        await runner.cleanup()
