"""Bounded read times for every server facepush runs (slow-loris defence).

aiohttp bounds header and body sizes but not how long a client may take to send them, so a
client trickling one byte a second holds a connection forever. Two bounds close that:

- headers: from the first byte of a request (or from connecting) until aiohttp has parsed
  the request line and headers, at most `header_timeout` seconds; then the connection is
  aborted. A connection wrapper (`_GuardedProtocol`) arms the timer when bytes arrive while
  no request is being handled; a middleware disarms it when the handler starts.
- bodies: a POST (intake, push, configuration) is handled within `request_timeout`
  seconds, body read included; past that the client gets HTTP 408.

Long-lived GET responses (the live stream, CSV export) are not bounded.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

HEADER_TIMEOUT_S = 10.0
REQUEST_TIMEOUT_S = 60.0


class _GuardedProtocol(asyncio.Protocol):
    """Forwards everything to aiohttp's handler, and aborts slow header senders."""

    def __init__(self, inner: asyncio.Protocol, guard: ConnectionGuard) -> None:
        self._inner = inner
        self._guard = guard
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.busy = False  # a request's handler is running

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._guard.connections[transport] = self
        self._inner.connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if not self.busy and self._timer is None:
            self._arm()
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._transport is not None:
            self._guard.connections.pop(self._transport, None)
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def request_started(self) -> None:
        self.busy = True
        self._disarm()

    def request_finished(self) -> None:
        self.busy = False

    def _arm(self) -> None:
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self._guard.header_timeout, self._expire)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        if not self.busy and self._transport is not None:
            self._guard.aborted += 1
            self._transport.abort()


class ConnectionGuard:
    def __init__(
        self, header_timeout: float = HEADER_TIMEOUT_S, request_timeout: float = REQUEST_TIMEOUT_S
    ) -> None:
        self.header_timeout = header_timeout
        self.request_timeout = request_timeout
        self.connections: dict[asyncio.BaseTransport, _GuardedProtocol] = {}
        self.aborted = 0  # connections closed for sending headers too slowly

    def wrap(self, factory: Any) -> Any:
        return lambda: _GuardedProtocol(factory(), self)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        connection = self.connections.get(request.transport) if request.transport else None
        if connection is not None:
            connection.request_started()
        try:
            if request.method != "POST":
                return await handler(request)
            try:
                async with asyncio.timeout(self.request_timeout):
                    return await handler(request)
            except TimeoutError:
                raise web.HTTPRequestTimeout(
                    text=f"request not completed within {self.request_timeout:g} s"
                ) from None
        finally:
            if connection is not None:
                connection.request_finished()


async def listen(
    runner: web.BaseRunner,
    host: str,
    port: int,
    guard: ConnectionGuard,
    ssl_context: ssl.SSLContext | None = None,
    *,
    reuse_port: bool = False,
    front: Callable[[Any], Any] | None = None,
) -> asyncio.Server:
    """Accept connections on host:port for the runner's app, each one through `guard`
    (`reuse_port`: SO_REUSEPORT, so that several worker processes share the port;
    `front`: wraps the runner's protocol factory, e.g. the receiver's lean push path).

    aiohttp documents `runner.server` (a `web.Server`) as a protocol factory compatible
    with `loop.create_server`; wrapping it is all the guard needs, so no site class (and
    none of its private attributes) is involved. The asyncio server returned is not one of
    the runner's sites: close it before `runner.cleanup()`.
    """
    server = runner.server
    if server is None:
        raise RuntimeError("call `await runner.setup()` before listening")
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        guard.wrap(front(server) if front else server),
        host,
        port,
        ssl=ssl_context,
        reuse_address=True,
        reuse_port=reuse_port or None,
    )


def bound_port(listener: asyncio.Server) -> int:
    """The port a listener got (the one asked for, or the free one for port 0)."""
    return int(listener.sockets[0].getsockname()[1])
