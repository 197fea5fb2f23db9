"""`GET /api/stream`: server-sent events of newly stored records, for the dashboard.

Each record this process stores is sent as `event: record` with `data:` the same flat item
as in /api/events (alarms included; the item has `type`). A comment line keeps idle
connections open through proxies. A client too slow to keep up is disconnected rather than
buffered without bound; EventSource reconnects by itself and /api/events fills the gap.
With several receiver processes on one PostgreSQL database, each streams what it stored.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from facepush.protocol.jsontext import dump_json
from facepush.receiver.records import incoming_item
from facepush.receiver.store import Incoming

_QUEUE = 2000  # messages buffered per client before it counts as too slow


class Broadcaster:
    def __init__(self, keepalive_s: float) -> None:
        self.keepalive_s = keepalive_s
        self._clients: set[asyncio.Queue[bytes | None]] = set()
        self._closing = asyncio.Event()

    @property
    def clients(self) -> int:
        return len(self._clients)

    def publish(self, stored: list[Incoming]) -> None:
        """Called by the writer after each commit, with the records it stored."""
        if not self._clients:
            return
        messages = [
            b"event: record\ndata: " + dump_json(incoming_item(item)) + b"\n\n" for item in stored
        ]
        for queue in list(self._clients):
            try:
                for message in messages:
                    queue.put_nowait(message)
            except asyncio.QueueFull:
                # Too slow: drop what it has not read and tell its handler to end.
                self._clients.discard(queue)
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(None)

    def close(self) -> None:
        self._closing.set()
        for queue in list(self._clients):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(_QUEUE)
        self._clients.add(queue)
        try:
            # The retry hint and a first comment let the client know it is connected.
            await response.write(b"retry: 2000\n: connected\n\n")
            while not self._closing.is_set():
                try:
                    message = await asyncio.wait_for(queue.get(), self.keepalive_s)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                if message is None:
                    break
                await response.write(message)
        except (ConnectionResetError, ConnectionError):
            pass
        finally:
            self._clients.discard(queue)
        return response
