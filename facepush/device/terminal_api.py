"""The terminal's other endpoints (push-protocol.md Part 4), a thin layer over PushService:
history, the live stream, device information and time, and the keep-alive ping."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from aiohttp import web

from facepush.device.service import PushService
from facepush.protocol.history import parse_query
from facepush.protocol.jsontext import parse_json
from facepush.web import envelope

PING_PATH = "/v2/datasync/ping"  # answered without authentication (ruling P1)
IGNORED = "local_time ignored: manual_mode is false, the clock follows NTP"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def add_terminal_routes(app: web.Application, key: web.AppKey[PushService]) -> None:
    """Route Part 4's endpoints on `app`, whose `key` holds the PushService."""

    def bound(handler: Callable[[PushService, web.Request], Awaitable[Any]]) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            result: web.StreamResponse = await handler(request.app[key], request)
            return result

        return handle

    app.router.add_post("/v1/event/records", bound(_records))
    app.router.add_get("/v1/event", bound(_live))
    app.router.add_get("/v1/device/info", bound(_info))
    app.router.add_get("/v1/device/time", bound(_get_time))
    app.router.add_post("/v1/device/time", bound(_post_time))
    app.router.add_get(PING_PATH, _ping)

    async def close_live(app: web.Application) -> None:
        await app[key].live.close()  # else shutdown waits for every stream to end

    app.on_shutdown.append(close_live)


async def _body(request: web.Request) -> Any:
    raw = await request.read()
    return parse_json(raw) if raw.strip() else None


async def _records(service: PushService, request: web.Request) -> web.Response:
    query = parse_query(await _body(request))
    return envelope(await service.history.page(query))


async def _live(service: PushService, request: web.Request) -> web.StreamResponse:
    return await service.live.handle(request)


async def _info(service: PushService, request: web.Request) -> web.Response:
    return envelope(msgspec.to_builtins(service.info()))


async def _get_time(service: PushService, request: web.Request) -> web.Response:
    return envelope(msgspec.to_builtins(service.clock.read()))


async def _post_time(service: PushService, request: web.Request) -> web.Response:
    body = await _body(request)
    now, applied = await service.set_time({} if body is None else body)
    msg = "OK" if applied else f"OK ({IGNORED})"
    return envelope(msgspec.to_builtins(now), msg=msg)


async def _ping(request: web.Request) -> web.Response:
    return envelope(None)
