"""A receiver stand-in for the terminal tests: a real aiohttp server on 127.0.0.1 that
records every push it gets.

The faults a real receiver can inject are the chaos middleware's (tests/support/chaos.py);
the stand-in stays for what that receiver cannot do or show:
- every push as it arrived, in order, with its raw body and headers (the signature tests
  verify them), duplicates and failed pushes included: a receiver's store keeps one row
  per stored key, and nothing of a push it failed (`seen_keys`, a push count per key);
- answers chaos has no fault for: HTTP 400 or 404 to everything (`refuse`, `404`), a
  JSON code 422 for chosen keys only (`refuse_keys`), the ack's text in `message`;
- HTTP 500 while recording (`http500`), and a delay switched on mid-test (`delay`), for
  the tests that also read the recording."""

from __future__ import annotations

import asyncio
import json
import ssl
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from facepush.protocol import decode_push, failure_reply, success_reply
from tests.support.processes import LOOPBACK

# How the stand-in answers: "ok", "http500", "refuse" (HTTP 400 to everything), "404" (as
# to a wrong path).
MODES = ("ok", "http500", "refuse", "404")


@dataclass
class Push:
    key: str
    body: bytes
    headers: dict[str, str]
    acked: bool

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class StandIn:
    mode: str = "ok"
    refuse_keys: set[str] = field(default_factory=set)  # answered 422 whatever the mode
    delay: float = 0.0  # seconds before answering
    reply_text_field: str = "msg"  # the ack carries msg or message
    pushes: list[Push] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(
        self, ssl_context: ssl.SSLContext | None = None, path: str = "/Record", port: int = 0
    ) -> str:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post(path, self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, LOOPBACK, port, ssl_context=ssl_context)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        scheme = "https" if ssl_context else "http"
        self.url = f"{scheme}://{LOOPBACK}:{port}{path}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- what arrived ------------------------------------------------------------------

    def acked_keys(self) -> list[str]:
        return [p.key for p in self.pushes if p.acked]

    def seen_keys(self) -> list[str]:
        return [p.key for p in self.pushes]

    def attempts(self) -> int:
        return len(self.pushes)

    def recover(self) -> None:
        self.mode = "ok"

    async def wait_acked(self, keys: set[str] | int, timeout: float = 20.0) -> None:
        """Wait until these keys (or this many distinct keys) were acknowledged."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            got = set(self.acked_keys())
            done = keys <= got if isinstance(keys, set) else len(got) >= keys
            if done:
                return
            if asyncio.get_running_loop().time() > deadline:
                want = len(keys) if isinstance(keys, set) else keys
                raise AssertionError(f"only {len(got)} of {want} records acked in {timeout} s")
            await asyncio.sleep(0.02)

    # -- answering ---------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        key = decode_push(body).key
        if self.delay:
            await asyncio.sleep(self.delay)
        mode = "code422" if key in self.refuse_keys else self.mode
        push = Push(key, body, dict(request.headers), acked=mode == "ok")
        self.pushes.append(push)
        if mode == "ok":
            reply = json.loads(success_reply())
            if self.reply_text_field == "message":
                del reply["msg"]
            return web.json_response(reply)
        if mode == "http500":
            return web.Response(status=500, text="Internal Server Error")
        if mode == "refuse":
            return web.Response(status=400, body=failure_reply(400, "bad record"))
        if mode == "404":
            return web.Response(status=404, text="Not Found")
        if mode == "code422":
            return web.Response(body=failure_reply(422, f"cannot store {key}"))
        raise AssertionError(f"unknown stand-in mode {mode}")
