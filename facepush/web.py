"""HTTP plumbing shared by the terminal's API and the receiver: the vendor envelope,
`--listen` parsing, the loopback rule, and running an aiohttp app until a signal."""

from __future__ import annotations

import asyncio
import ipaddress
import signal
import ssl
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler  # exported here as before

from facepush.errors import ListenError
from facepush.guard import ConnectionGuard, bound_port, listen
from facepush.protocol.jsontext import dump_json

__all__ = [
    "Handler",
    "ListenError",
    "envelope",
    "is_loopback",
    "parse_listen",
    "serve_until_stopped",
]


def envelope(
    data: Any = None, *, code: int = 200, msg: str = "OK", status: int = 200
) -> web.Response:
    """A reply in the vendor's envelope `{"code", "msg", "data"}`."""
    body = dump_json({"code": code, "msg": msg, "data": data})
    return web.Response(body=body, status=status, content_type="application/json")


def parse_listen(value: str) -> tuple[str, int]:
    """`HOST:PORT` (or `[v6]:PORT`) as a (host, port) pair; ListenError says what is wrong
    (the settings name the option)."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not host:
        raise ListenError(f"expected HOST:PORT, e.g. 127.0.0.1:8080, got {value!r}")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ListenError(f"port must be a number from 0 to 65535, got {value!r}")
    return host, int(port_text)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_of(host: str, port: int, tls: bool) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{shown}:{port}"


async def serve_until_stopped(
    app: web.Application,
    host: str,
    port: int,
    *,
    ssl_context: ssl.SSLContext | None = None,
    announce: Callable[[str], None] | None = None,
    stopped: asyncio.Event | None = None,
    guard: ConnectionGuard | None = None,
    reuse_port: bool = False,
    front: Callable[[ConnectionGuard], Callable[[Any], Any]] | None = None,
    drain: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Serve `app` until SIGINT/SIGTERM (or `stopped` is set), then shut down gracefully.

    The bound URL is announced on stdout (`listening on URL`), so that `--listen HOST:0`
    works for scripts and tests that need a free port. Connections pass through a
    ConnectionGuard, which bounds how long a client may take to send a request, and, with
    `front`, through the protocol it makes for the guard (the receiver's lean push path).
    """
    guard = guard or ConnectionGuard()
    app.middlewares.insert(0, guard.middleware)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        wrap = front(guard) if front else None
        listener = await listen(
            runner, host, port, guard, ssl_context, reuse_port=reuse_port, front=wrap
        )
    except OSError as exc:
        await runner.cleanup()
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    stop = stopped or asyncio.Event()
    loop = asyncio.get_running_loop()
    # Handlers first: whoever reads the announcement may signal at once.
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    url = url_of(host, bound_port(listener), ssl_context is not None)
    (announce or _print)(url)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        listener.close()  # no new connections; the runner then shuts the open ones down
        if drain is not None:
            await drain()  # (the runner closes connections it sees as idle: `front`'s too)
        await runner.cleanup()


def _print(url: str) -> None:
    print(f"listening on {url}", flush=True)
    sys.stdout.flush()
