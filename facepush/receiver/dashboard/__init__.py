"""The live dashboard, served by the receiver at `/` (owned by the dashboard work)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).parent / "static"


async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


def add_routes(app: web.Application) -> None:
    """Register `GET /` and `GET /static/...` on the receiver's app."""
    app.router.add_get("/", _index)
    app.router.add_static("/static/", STATIC)
