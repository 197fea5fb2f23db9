"""`GET /api/stream`: server-sent events of newly stored records, for the dashboard.

Each record this process stores is sent as `event: record` with `data:` the same flat item
as in /api/events (alarms included; the item has `type`). A comment line keeps idle
connections open through proxies. With `--workers N` the stream is fed from the database
(facepush.receiver.stream_feed): whichever worker a client reached, it gets every record
any worker stored. Separate receivers on one database stream what each stored.

Each client has a buffer bounded in bytes (4 MiB by default), not in messages: 2,000
messages of 8 MiB records were 1.75 GB for one stalled client. A client that falls behind
(its unread messages would exceed the bound, or one record alone does) is skipped forward:
what it has not read is dropped, and before the next record it gets
`event: missed` with `data: {"missed": N}`, so that it fetches the gap from /api/events
(the dashboard does, as after a reconnect). Its memory never grows beyond the bound.
"""

from __future__ import annotations

import asyncio
from collections import deque

from aiohttp import web

from facepush.protocol.jsontext import dump_json
from facepush.receiver.records import row_body
from facepush.receiver.settings import STREAM_BUFFER_BYTES
from facepush.receiver.store import EventRow, Incoming

_ENTRY = 64  # what the buffer keeps per message beside its bytes, roughly


class Subscriber:
    """One client's unread messages, at most `max_bytes` of them."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.messages: deque[bytes] = deque()
        self.size = 0
        self.missed = 0  # messages dropped since the client last heard of it
        self.closed = False
        self.ready = asyncio.Event()

    def offer(self, message: bytes) -> None:
        cost = len(message) + _ENTRY
        if self.size + cost > self.max_bytes:
            # Fallen behind: skip forward rather than buffer without bound.
            self.missed += len(self.messages) + 1
            self.messages.clear()
            self.size = 0
        else:
            self.messages.append(message)
            self.size += cost
        self.ready.set()

    def close(self) -> None:
        self.closed = True
        self.ready.set()

    def take(self) -> bytes | None:
        """The next bytes to send (a `missed` notice first, if any), or None."""
        if self.missed:
            notice = b"event: missed\ndata: " + dump_json({"missed": self.missed}) + b"\n\n"
            self.missed = 0
            return notice
        if not self.messages:
            self.ready.clear()
            return None
        message = self.messages.popleft()
        self.size -= len(message) + _ENTRY
        return message


class Broadcaster:
    def __init__(self, keepalive_s: float, buffer_bytes: int = STREAM_BUFFER_BYTES) -> None:
        self.keepalive_s = keepalive_s
        self.buffer_bytes = buffer_bytes
        self._clients: set[Subscriber] = set()
        self._closing = asyncio.Event()

    @property
    def clients(self) -> int:
        return len(self._clients)

    def publish(self, stored: list[Incoming]) -> None:
        """Called by the writer after each commit, with the records it stored."""
        if not self._clients:
            return
        self._offer([_message(row_body(item)) for item in stored])

    def publish_rows(self, rows: list[EventRow]) -> None:
        """Records read back from the store (the feed of several workers)."""
        if self._clients:
            self._offer([_message(row_body(row)) for row in rows])

    def _offer(self, messages: list[bytes]) -> None:
        for client in list(self._clients):
            for message in messages:
                client.offer(message)

    def close(self) -> None:
        self._closing.set()
        for client in list(self._clients):
            client.close()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        client = Subscriber(self.buffer_bytes)
        self._clients.add(client)
        try:
            # The retry hint and a first comment let the client know it is connected.
            await response.write(b"retry: 2000\n: connected\n\n")
            while not self._closing.is_set() and not client.closed:
                message = client.take()
                if message is not None:
                    await response.write(message)
                    continue
                try:
                    await asyncio.wait_for(client.ready.wait(), self.keepalive_s)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
        except (ConnectionResetError, ConnectionError):
            pass
        finally:
            self._clients.discard(client)
        return response


def _message(item: bytes) -> bytes:
    return b"event: record\ndata: " + item + b"\n\n"
