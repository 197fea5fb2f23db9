"""The device's lean request path: one POST on a kept-alive HTTP/1.1 connection, written
as one head plus the stored body as it is, the reply read by `ReplyReader`.

Why not aiohttp's ClientSession here: draining a backlog of 40 KB snapshots, its
per-request path (request and response objects, cookie jar, timers, payload wrappers)
was about half of the device's event-loop time (docs/benchmarks.md, device-drain). What a
push needs is small: a pool of connections per destination, a total timeout, TLS, the
reply bounded. Redirects are never followed (a redirect is not an acknowledgement).

Failures are the exceptions below (or OSError, TimeoutError); sender.py turns them into
the same verdicts and messages as aiohttp's.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import ssl
import time
from collections import deque
from dataclasses import dataclass

from yarl import URL

from facepush import __version__
from facepush.device.http1_reply import BadReply, ReplyReader

KEEPALIVE_S = 30.0  # an idle connection older than this is closed, not reused
_Key = tuple[str, int, ssl.SSLContext | None]  # host, port, trust (None: plain http)


class Http1Error(Exception):
    """A push got no usable HTTP reply."""


class ServerDisconnectedError(Http1Error):
    def __init__(self) -> None:
        super().__init__("Server disconnected")


class ProtocolError(Http1Error):
    """The reply is not HTTP/1.1."""


class ConnectFailed(Http1Error):
    """No connection to the destination; `os_error` says why."""

    def __init__(self, os_error: OSError) -> None:
        super().__init__(str(os_error))
        self.os_error = os_error


class CertificateFailed(Http1Error):
    def __init__(self, error: ssl.SSLCertVerificationError) -> None:
        super().__init__(str(error))
        self.certificate_error = error


class TLSFailed(Http1Error):
    pass


class InvalidURL(Http1Error):
    pass


@dataclass(frozen=True, slots=True)
class Target:
    """Where a URL's pushes go, worked out once per URL."""

    host: str
    port: int
    tls: bool
    server_hostname: str | None
    head: str  # request line and the fixed headers, up to Content-Length's value


@functools.lru_cache(maxsize=256)
def target(url: str) -> Target:
    parsed = URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.raw_host:
        raise InvalidURL(f"not an http(s) URL: {url!r}")
    tls = parsed.scheme == "https"
    host = parsed.raw_host
    port = parsed.port or (443 if tls else 80)
    authority = f"[{host}]" if ":" in host else host
    if not parsed.is_default_port():
        authority += f":{port}"
    lines = [
        f"POST {parsed.raw_path_qs or '/'} HTTP/1.1",
        f"Host: {authority}",
        "Accept: */*",
        "Accept-Encoding: gzip, deflate",
        f"User-Agent: facepush/{__version__}",
    ]
    if parsed.user is not None:  # credentials in the URL: Basic auth, as aiohttp sends it
        userinfo = f"{parsed.user}:{parsed.password or ''}".encode()
        lines.append(f"Authorization: Basic {base64.b64encode(userinfo).decode()}")
    head = "\r\n".join(lines) + "\r\nContent-Type: application/json\r\nContent-Length: "
    return Target(host, port, tls, host if tls else None, head)


@functools.cache
def _system_trust() -> ssl.SSLContext:
    return ssl.create_default_context()


class _Connection(asyncio.Protocol):
    """One kept-alive connection; carries one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.reader: ReplyReader | None = None
        self.waiter: asyncio.Future[ReplyReader] | None = None
        self.lost = False
        self.idle_since = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        reader, waiter = self.reader, self.waiter
        if reader is None or waiter is None or waiter.done():
            self.close()  # bytes nobody asked for: this connection is not usable
            return
        try:
            complete = reader.feed(data)
        except BadReply as exc:
            self.close()
            waiter.set_exception(ProtocolError(str(exc)))
            return
        if complete:
            waiter.set_result(reader)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        reader, waiter = self.reader, self.waiter
        if reader is None or waiter is None or waiter.done():
            return
        try:
            complete = reader.closed()
        except BadReply as bad:
            waiter.set_exception(ProtocolError(str(bad)))
            return
        if complete:
            waiter.set_result(reader)
        else:
            waiter.set_exception(exc if isinstance(exc, OSError) else ServerDisconnectedError())

    @property
    def usable(self) -> bool:
        transport = self.transport
        return not self.lost and transport is not None and not transport.is_closing()

    def close(self) -> None:
        self.lost = True
        if self.transport is not None:
            self.transport.abort()


class Http1Client:
    """Kept-alive connections per destination, each carrying one POST at a time."""

    def __init__(self, keepalive: float = KEEPALIVE_S) -> None:
        self._keepalive = keepalive
        self._idle: dict[_Key, deque[_Connection]] = {}
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    async def post(
        self,
        url: str,
        trust: ssl.SSLContext | None,
        headers: str,
        body: bytes,
        max_reply: int,
        timeout: float,
    ) -> ReplyReader:
        """POST `body` to `url` with the extra `headers` ("Name: value\\r\\n" lines); the
        reply read to at most `max_reply` body bytes (`reader.too_large` past it). Raises
        TimeoutError past `timeout` seconds in all, an Http1Error or OSError."""
        if self._closed:
            raise RuntimeError("Http1Client is closed")
        where = target(url)
        context = (trust or _system_trust()) if where.tls else None
        key = (where.host, where.port, context)
        async with asyncio.timeout(timeout):
            conn = self._take(key) or await self._connect(where, context)
            head = f"{where.head}{len(body)}\r\n{headers}\r\n".encode()  # UTF-8, as aiohttp
            reader = ReplyReader(max_reply)
            conn.reader, conn.waiter = reader, asyncio.get_running_loop().create_future()
            assert conn.transport is not None
            try:
                conn.transport.writelines((head, body))
                await conn.waiter
            except BaseException:  # timed out, cancelled, failed: not reusable
                conn.close()
                raise
        conn.reader = conn.waiter = None
        if reader.reusable and conn.usable and not self._closed:
            conn.idle_since = time.monotonic()
            self._idle.setdefault(key, deque()).append(conn)
        else:
            conn.close()
        return reader

    async def close(self) -> None:
        self._closed = True
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()

    def _take(self, key: _Key) -> _Connection | None:
        conns = self._idle.get(key)
        if not conns:
            return None
        stale = time.monotonic() - self._keepalive
        while conns:
            conn = conns.pop()  # the most recently used: the likeliest to be alive
            if conn.usable and conn.idle_since >= stale:
                return conn
            conn.close()
        return None

    async def _connect(self, where: Target, context: ssl.SSLContext | None) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(
                _Connection,
                where.host,
                where.port,
                ssl=context,
                server_hostname=where.server_hostname,
            )
        except ssl.SSLCertVerificationError as exc:
            raise CertificateFailed(exc) from exc
        except ssl.SSLError as exc:
            raise TLSFailed(str(exc)) from exc
        except TimeoutError:
            raise
        except OSError as exc:
            raise ConnectFailed(exc) from exc
        return conn
