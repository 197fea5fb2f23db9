"""The demo's own webhook consumer, so that forwarding shows without any broker: a few
lines of aiohttp in the demo process that take each delivery (and check its Standard
Webhooks signature), and answer `GET` with what arrived."""

from __future__ import annotations

import collections
import secrets
from typing import Any

from aiohttp import web

from facepush.protocol.jsontext import parse_json
from facepush.protocol.signing import SignatureError, parse_secret, verify
from facepush.web import envelope

SHOWN = 10  # the latest deliveries GET shows


class DemoSink:
    def __init__(self) -> None:
        self.secret = "whsec_" + secrets.token_urlsafe(24).replace("-", "A").replace("_", "B")
        self._key = parse_secret(self.secret)
        self.received = 0
        self.last: collections.deque[dict[str, Any]] = collections.deque(maxlen=SHOWN)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/hook", self._take)
        app.router.add_get("/hook", self._show)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self.url

    async def _take(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            verify(self._key, request.headers, body)
        except SignatureError as exc:
            return web.Response(status=401, text=str(exc))
        item = parse_json(body)
        self.received += 1
        self.last.appendleft(item if isinstance(item, dict) else {"body": item})
        return web.Response(status=204)

    async def _show(self, request: web.Request) -> web.Response:
        return envelope({"received": self.received, "last": list(self.last)})

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
