"""The no-op receiver every ratio divides by: `python -m bench.noop`.

An aiohttp app whose push handler reads the body and answers the success reply, and stores
nothing: the rate of the HTTP stack alone, on the same machine, in the same run.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from facepush.protocol import success_reply
from facepush.web import serve_until_stopped


def main() -> None:
    reply = success_reply()

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=reply, content_type="application/json")

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/Record", handle)
    asyncio.run(serve_until_stopped(app, "127.0.0.1", 0))


if __name__ == "__main__":
    main()
