"""A small fake terminal on a real loopback socket: the vendor endpoints a receiver uses
(login, ping, info, time, subscription, history), its history a list of items paged as
ruling H2 says. A test replaces `history_reply` to make the history answer something
else (a page that is not the envelope), or serves it over TLS."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

Reply = Callable[[dict[str, Any]], web.Response]


def envelope(data: Any = None, code: int = 200, msg: str = "OK") -> web.Response:
    return web.json_response({"code": code, "msg": msg, "data": data})


class FakeTerminal:
    def __init__(self, serial: str = "FAKE-1", items: list[dict[str, Any]] | None = None) -> None:
        self.serial = serial
        self.items = list(items or [])
        self.subscription: dict[str, Any] | None = None
        self.history_reply: Reply = self.page
        self.history_requests = 0
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> str:
        app = web.Application()
        app.router.add_post("/v1/auth/login", self._login)
        app.router.add_get("/v2/datasync/ping", self._ping)
        app.router.add_get("/v1/device/info", self._info)
        app.router.add_get("/v1/device/time", self._time)
        app.router.add_get("/v1/event/subscribe", self._subscription)
        app.router.add_post("/v1/event/subscribe", self._subscribe)
        app.router.add_post("/v1/event/records", self._records)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _ping(self, request: web.Request) -> web.Response:
        return envelope()

    async def _subscription(self, request: web.Request) -> web.Response:
        return envelope(self.subscription)

    async def _login(self, request: web.Request) -> web.Response:
        return envelope({"token": "fake-token"})

    async def _info(self, request: web.Request) -> web.Response:
        return envelope({"model": "fake", "device_sn": self.serial})

    async def _time(self, request: web.Request) -> web.Response:
        return envelope({"local_time": int(time.time() * 1000), "manual_mode": False})

    async def _subscribe(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.subscription = {**(self.subscription or {}), **body}
        return envelope()

    async def _records(self, request: web.Request) -> web.Response:
        self.history_requests += 1
        raw = await request.read()
        return self.history_reply(json.loads(raw) if raw else {})

    def page(self, query: dict[str, Any]) -> web.Response:
        """History as the terminal serves it: by time (ties in the terminal's order)."""
        begin = query.get("begin_time") or 0
        found = sorted(
            (i for i in self.items if i["timestamp"] >= begin), key=lambda i: i["timestamp"]
        )
        offset, limit = query.get("offset", 0), min(query.get("limit", 100), 200)
        items = found[offset : offset + limit]
        data = {"offset": offset, "limit": limit, "count": len(items), "total": len(found)}
        return envelope({**data, "items": items})


def history_item(
    uid: str | None,
    timestamp: int,
    *,
    user_id: str = "5",
    serial: str = "FAKE-1",
    image: str = "",
) -> dict[str, Any]:
    """An item in the vendor's history shape; `user_id=""` is a face that matched nobody,
    `uid=None` an older firmware's item without a uuid."""
    known = bool(user_id)
    item: dict[str, Any] = {
        "recognitionType": 1 if known else 0,
        "entry_mode": 1,
        "deviceSN": serial,
        "abnormal_type": 0,
        "recognizeScore": 0.93 if known else 0.41,
        "bodyTemperature": 36.5,
        "mask": 0,
        "rgb_image": image,
        "pass": known,
        "mode": 0,
        "user": {
            "name": "王五" if known else None,
            "user_id": user_id,
            "type": 1 if known else None,
            "ic_number": "",
            "id_number": "",
            "job_number": "J5" if known else "",
        },
        "timestamp": timestamp,
        "groups": [{"id": "1", "name": "staff"}] if known else [],
    }
    if uid is not None:
        item["uuid"] = uid
    return item
