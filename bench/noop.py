"""The no-op receivers every ratio divides by: `python -m bench.noop [--lean]`.

An aiohttp app whose push handler reads the body and answers the success reply, and stores
nothing: the rate of the HTTP stack alone, on the same machine, in the same run. With
`--lean`, pushes are taken by the receiver's own lean HTTP path (facepush.receiver.lean)
in front of that app and answered at once: the ceiling of the path the receiver now uses.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from aiohttp import web

from facepush.protocol import success_reply
from facepush.receiver.budget import BodyBudget
from facepush.receiver.lean import LeanPush
from facepush.receiver.metrics import ReceiverMetrics
from facepush.receiver.push import Answer, PushSettings
from facepush.sitepolicy import SitePolicy
from facepush.web import serve_until_stopped


class Instant:
    """What the lean path asks of a push handler, storing nothing: every push answered
    as stored at once."""

    def __init__(self) -> None:
        self.settings = PushSettings(max_body=64 * 1024 * 1024, late_after_ms=0, signing_key=None)
        self.budget = BodyBudget()
        self.metrics = ReceiverMetrics()
        self.answer = Answer(200, success_reply())

    async def accept(self, *args: Any) -> Answer:
        return self.answer


def main(lean: bool) -> None:
    reply = success_reply()

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=reply, content_type="application/json")

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/Record", handle)
    front = None
    if lean:
        path = LeanPush(Instant(), "/Record", SitePolicy(), [])  # type: ignore[arg-type]
        front = path.front
    asyncio.run(serve_until_stopped(app, "127.0.0.1", 0, front=front))


if __name__ == "__main__":
    main("--lean" in sys.argv[1:])
