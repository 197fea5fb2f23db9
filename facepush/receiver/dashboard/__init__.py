"""The live dashboard, served by the receiver at `/` (owned by the dashboard work).

No build step: `static/` holds the page, its stylesheet and a few dependency-free ES
modules. The page asks the receiver's query API for data and follows `/api/stream`.

The page is served with a strict Content-Security-Policy: scripts, styles, images and
connections from the receiver itself only; the one inline script (the import map) is
allowed by its hash; no framing (also `X-Frame-Options: DENY`, facepush.sitepolicy).
"""

from __future__ import annotations

import base64
import hashlib
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


def render_page(token: str | None) -> tuple[str, str]:
    """index.html with the asset links (stylesheet, import map of the modules, icon) filled
    in, and the Content-Security-Policy that lets exactly that page run."""
    query = _asset_query(token)
    modules = sorted(p.name for p in (STATIC / "js").glob("*.js"))
    imports = {f"/static/js/{name}": f"/static/js/{name}{query}" for name in modules}
    import_map = _script_json({"imports": imports})
    head = "\n".join(
        [
            f'<link rel="icon" href="{html.escape("/static/favicon.svg" + query)}">',
            f'<link rel="stylesheet" href="{html.escape("/static/dashboard.css" + query)}">',
            f'<script type="importmap">{import_map}</script>',
            f'<script type="module" src="{html.escape("/static/js/main.js" + query)}"></script>',
        ]
    )
    page = (STATIC / "index.html").read_text(encoding="utf-8").replace(_HEAD_MARK, head, 1)
    return page, page_csp(import_map)


def render_index(token: str | None) -> str:
    """index.html as served (see render_page)."""
    return render_page(token)[0]


def page_csp(import_map: str) -> str:
    """The dashboard's policy: everything from the receiver itself, the import map by hash."""
    digest = base64.b64encode(hashlib.sha256(import_map.encode()).digest()).decode()
    return (
        f"default-src 'self'; script-src 'self' 'sha256-{digest}'; style-src 'self'; "
        "img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


async def _index(request: web.Request) -> web.Response:
    body, csp = render_page(request.query.get("token") or None)
    return web.Response(
        text=body,
        content_type="text/html",
        charset="utf-8",
        headers={
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": csp,
        },
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
