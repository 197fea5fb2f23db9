"""The client side of the terminal's live stream (`GET /v1/event` as WebSocket)."""

from __future__ import annotations

import ssl
from collections.abc import AsyncGenerator, Callable
from typing import Any

import aiohttp
import msgspec

from facepush.errors import AuthenticationError, BadResponse, StreamClosed, TerminalRefused
from facepush.transport import connection_error

PATH = "/v1/event"
_REFUSALS = {
    429: "the terminal already serves its 3 live-stream clients; close one first",
    426: "the terminal did not accept the WebSocket upgrade",
    404: "the terminal has no live stream (firmware without /v1/event?)",
}


async def open_stream(
    base_url: str,
    headers: dict[str, str],
    trust: ssl.SSLContext | None,
    connect_timeout: float,
    heartbeat: float,
    on_open: Callable[[], None] | None = None,
) -> AsyncGenerator[dict[str, Any], None]:
    """Each message of the stream as a dict; raises StreamClosed when it ends.

    Its own session: a stream lasts for hours, beyond any request timeout; `heartbeat`
    pings notice a terminal that vanished without closing."""
    url = base_url + PATH
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout, sock_read=None)
    connector = aiohttp.TCPConnector(ssl=trust if trust is not None else True)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        try:
            ws = await session.ws_connect(
                url, headers=headers, heartbeat=heartbeat, max_msg_size=64 * 1024 * 1024
            )
        except aiohttp.WSServerHandshakeError as exc:
            raise _refused(url, exc.status) from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise connection_error(url, exc) from None
        if on_open is not None:
            on_open()
        async with ws:
            async for message in ws:
                if message.type is aiohttp.WSMsgType.TEXT:
                    yield _parse(url, message.data)
                elif message.type is aiohttp.WSMsgType.ERROR:
                    break
            code = ws.close_code
        reason = {1001: "the terminal is going away", 1008: "dropped for falling behind"}
        raise StreamClosed(
            f"{url}: live stream closed ({reason.get(code or 0, f'close code {code}')}); "
            "events meanwhile are in the terminal's history",
            code,
        )


def _refused(url: str, status: int) -> Exception:
    if status == 401:
        return AuthenticationError(f"{url}: the terminal requires a login for its live stream", 401)
    why = _REFUSALS.get(status, "refused the WebSocket upgrade")
    return TerminalRefused(f"{url}: HTTP {status}: {why}", status, why)


def _parse(url: str, text: str) -> dict[str, Any]:
    try:
        value = msgspec.json.decode(text)
    except msgspec.DecodeError:
        value = None
    if not isinstance(value, dict) or "type" not in value:
        raise BadResponse(
            f"{url}: a live-stream message that is not {{type, data}}: {text[:120]!r}"
        )
    return value
