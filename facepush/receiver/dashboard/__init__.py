"""The live dashboard, served by the receiver at `/` (owned by the dashboard work).

No build step: `static/` holds the page, its stylesheet and a few dependency-free ES
modules. The page asks the receiver's query API for data and follows `/api/stream`.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from facepush.receiver.dashboard.labels import labels_table

STATIC = Path(__file__).parent / "static"
_HEAD_MARK = "<!--facepush:head-->"


def _asset_query(token: str | None) -> str:
    """The query string every asset URL carries: a version that changes with the files
    (so a browser never mixes old and new modules) and the token when the page got one
    (a browser sends no `Authorization` header for scripts and stylesheets)."""
    version = max(int(p.stat().st_mtime) for p in STATIC.rglob("*") if p.is_file())
    query = f"?v={version}"
    if token:
        query += "&token=" + quote(token, safe="")
    return query


def _script_json(value: object) -> str:
    """JSON that is safe inside a `<script>` element."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e")


def render_index(token: str | None) -> str:
    """index.html with the asset links (stylesheet, import map of the modules) filled in."""
    query = _asset_query(token)
    modules = sorted(p.name for p in (STATIC / "js").glob("*.js"))
    imports = {f"/static/js/{name}": f"/static/js/{name}{query}" for name in modules}
    head = "\n".join(
        [
            f'<link rel="stylesheet" href="{html.escape("/static/dashboard.css" + query)}">',
            f'<script type="importmap">{_script_json({"imports": imports})}</script>',
            f'<script type="module" src="{html.escape("/static/js/main.js" + query)}"></script>',
        ]
    )
    return (STATIC / "index.html").read_text(encoding="utf-8").replace(_HEAD_MARK, head, 1)


async def _index(request: web.Request) -> web.Response:
    body = render_index(request.query.get("token") or None)
    return web.Response(
        text=body,
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


async def _labels(request: web.Request) -> web.Response:
    body = {"code": 200, "msg": "OK", "data": labels_table()}
    return web.json_response(body, dumps=lambda v: json.dumps(v, ensure_ascii=False))


def add_routes(app: web.Application) -> None:
    """Register the dashboard on the receiver's app: `GET /` (the page),
    `GET /dashboard/labels.json` (the code tables' labels) and `GET /static/...`."""
    app.router.add_get("/", _index)
    app.router.add_get("/dashboard/labels.json", _labels)
    app.router.add_static("/static/", STATIC)
