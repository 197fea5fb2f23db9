"""The live stream, `GET /v1/event` upgraded to WebSocket (Part 4.2).

Each recognition record is sent, once it is in history, to every connected client as a
text message `{"type": 0, "data": {...}}` (the record as handed over). Nothing is kept
for clients that are not connected. At most three clients at once, as the vendor
documents; a fourth is refused before the upgrade: HTTP 429 with the envelope
`{"code": 429, "msg": "..."}`.

A slow client must not stall intake: each client has a queue of at most 256 messages;
one that falls that far behind is dropped (close code 1008, "too slow", and the
connection aborted if even that cannot be written within 2 s). It can reconnect and page
`POST /v1/event/records` for what it missed. The server pings every 30 s, so a client that
vanished without closing frees its place within a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiohttp import WSCloseCode, WSMsgType, web

from facepush.device.outbox import RECOGNITION, NewRecord
from facepush.web import envelope

log = logging.getLogger("facepush.device")
MAX_CLIENTS = 3
QUEUE_LIMIT = 256  # messages per client before it counts as too slow
HEARTBEAT_S = 30.0
CLOSE_WAIT_S = 2.0
TOO_MANY = 429


@dataclass(eq=False)
class _Client:
    queue: asyncio.Queue[bytes]
    ws: web.WebSocketResponse
    request: web.Request
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


class LiveHub:
    def __init__(self, max_clients: int = MAX_CLIENTS, queue_limit: int = QUEUE_LIMIT) -> None:
        self.max_clients = max_clients
        self.queue_limit = queue_limit
        self._clients: set[_Client] = set()
        self._reserved = 0  # places taken by clients still upgrading
        self.dropped = 0  # clients dropped for falling behind, since start

    @property
    def clients(self) -> int:
        return len(self._clients)

    def publish(self, records: Sequence[NewRecord]) -> None:
        """Queue each recognition for every connected client; never waits."""
        if not self._clients:
            return
        messages = [r.body for r in records if r.kind == RECOGNITION]
        for client in list(self._clients):
            try:
                for message in messages:
                    client.queue.put_nowait(message)
            except asyncio.QueueFull:
                self.dropped += 1
                log.warning(
                    "live stream: dropped a client %s more than %d events behind",
                    client.request.remote,
                    self.queue_limit,
                )
                self._kick(client, WSCloseCode.POLICY_VIOLATION, "too slow: reconnect")

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, compress=False, max_msg_size=4096)
        if not ws.can_prepare(request).ok:
            return envelope(
                code=426,
                msg="GET /v1/event is a WebSocket stream: connect with a WebSocket client",
                status=426,
            )
        if len(self._clients) + self._reserved >= self.max_clients:
            return envelope(
                code=TOO_MANY,
                msg=f"at most {self.max_clients} live-stream clients at once; "
                "one must disconnect first",
                status=TOO_MANY,
            )
        self._reserved += 1
        try:
            await ws.prepare(request)
        finally:
            self._reserved -= 1
        client = _Client(asyncio.Queue(self.queue_limit), ws, request)
        self._clients.add(client)
        pump = asyncio.create_task(self._pump(client))
        try:
            async for message in ws:  # control frames only; whatever a client sends is ignored
                if message.type is WSMsgType.ERROR:
                    break
        finally:
            self._clients.discard(client)
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
            for task in list(client.tasks):
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        return ws

    async def _pump(self, client: _Client) -> None:
        while True:
            message = await client.queue.get()
            try:
                await client.ws.send_frame(message, WSMsgType.TEXT)
            except (ConnectionError, RuntimeError):
                return  # the connection is gone; the handler ends with it

    def _kick(self, client: _Client, code: int, reason: str) -> None:
        if client not in self._clients:
            return
        self._clients.discard(client)
        task = asyncio.get_running_loop().create_task(self._close(client, code, reason))
        client.tasks.add(task)
        task.add_done_callback(client.tasks.discard)

    async def _close(self, client: _Client, code: int, reason: str) -> None:
        try:
            async with asyncio.timeout(CLOSE_WAIT_S):
                await client.ws.close(code=code, message=reason.encode())
        except (TimeoutError, ConnectionError):
            pass
        transport = client.request.transport
        if transport is not None and not transport.is_closing():
            transport.abort()

    async def close(self) -> None:
        """Close every client (the terminal is going away)."""
        clients = list(self._clients)
        for client in clients:
            self._kick(client, WSCloseCode.GOING_AWAY, "terminal shutting down")
        await asyncio.gather(*(t for c in clients for t in list(c.tasks)), return_exceptions=True)
