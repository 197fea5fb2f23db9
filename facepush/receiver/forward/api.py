"""`/api/forward`: each sink's state, the records it set aside, and their replay.

GET  /api/forward                      data.items: one per sink (service.sink_status)
GET  /api/forward/{name}/set-aside     data.items: the records the sink refused for good
POST /api/forward/{name}/replay        {} (all) or {"ids": [event_id, ...]} -> replaying
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

from aiohttp import web

from facepush.errors import DecodeError, UnknownSink
from facepush.protocol.jsontext import parse_json
from facepush.receiver import params
from facepush.receiver.forward.service import Forwarding
from facepush.web import envelope

T = TypeVar("T")
FORWARDING = web.AppKey("facepush.receiver.forwarding", Forwarding)


def add_routes(app: web.Application, forwarding: Forwarding, pool: Executor) -> None:
    """The routes, their blocking reads run on `pool` (the API's readers)."""
    app[FORWARDING] = forwarding

    async def run(func: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(pool, func)

    def guarded(
        handler: Callable[[web.Request, Callable[..., Awaitable[Any]]], Awaitable[web.Response]],
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def wrapped(request: web.Request) -> web.Response:
            try:
                return await handler(request, run)
            except UnknownSink as exc:
                return envelope(None, code=404, msg=str(exc), status=404)
            except DecodeError as exc:
                return envelope(None, code=400, msg=str(exc), status=400)

        return wrapped

    async def status(request: web.Request, run: Callable[..., Awaitable[Any]]) -> web.Response:
        return envelope({"items": await run(forwarding.status)})

    async def set_aside(request: web.Request, run: Callable[..., Awaitable[Any]]) -> web.Response:
        name = request.match_info["name"]
        limit = params.limit(request.query)
        forwarding.forwarder(name)  # an unknown name is a 404, not an empty list
        items = await run(lambda: forwarding.set_aside(name, limit))
        return envelope({"items": items})

    async def replay(request: web.Request, run: Callable[..., Awaitable[Any]]) -> web.Response:
        name = request.match_info["name"]
        forwarder = forwarding.forwarder(name)
        ids = _replay_ids(parse_json(await request.read()))
        found = await run(lambda: forwarding.replay(name, ids))
        forwarder.replay_requested()
        return envelope({"replaying": found})

    app.router.add_get("/api/forward", guarded(status))
    app.router.add_get("/api/forward/{name}/set-aside", guarded(set_aside))
    app.router.add_post("/api/forward/{name}/replay", guarded(replay))


def _replay_ids(body: Any) -> list[int] | None:
    if not isinstance(body, dict) or set(body) - {"ids"}:
        raise DecodeError("body", 'expected {} (replay all) or {"ids": [event_id, ...]}')
    ids = body.get("ids")
    if ids is None:
        return None
    if not isinstance(ids, list) or not all(type(i) is int for i in ids):
        raise DecodeError("ids", "must be a list of set-aside event ids (integers)")
    return ids
