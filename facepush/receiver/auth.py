"""`--token`: everything but the push endpoint and /healthz needs it.

A refusal is the JSON envelope with code 401, except for a browser opening the dashboard
page itself (Accept: text/html), which gets a short HTML page saying how to get in.

The token comes as `Authorization: Bearer T`, or as `?token=T` for what a browser opens
itself (EventSource, <img>, a CSV download link), which cannot set headers. A request
accepted by `?token=T` also sets a same-site cookie, so that a dashboard opened as
`/?token=T` loads its scripts, images and stream without repeating the token.
"""

from __future__ import annotations

import hmac
import html

from aiohttp import web
from aiohttp.typedefs import Middleware

from facepush.web import Handler, envelope

COOKIE = "facepush_token"


def token_middleware(
    token: str, open_paths: frozenset[str], page_paths: frozenset[str] = frozenset()
) -> Middleware:
    """Refuse requests without the token (401), except to `open_paths`. The refusal is the
    JSON envelope, or a small HTML page for a browser (Accept: text/html) opening one of
    `page_paths` (the dashboard), with the same status."""
    expected = token.encode()

    @web.middleware
    async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in open_paths:
            return await handler(request)
        given = _given(request)
        if given is None or not hmac.compare_digest(given.encode(), expected):
            reason = "a token is required" if given is None else "the token is wrong"
            if request.path in page_paths and wants_html(request):
                return _refuse_page(reason)
            if given is None:
                reason += ": send Authorization: Bearer <token>"
            return _refuse(reason)
        response = await handler(request)
        if "token" in request.query and not response.prepared:
            response.set_cookie(COOKIE, given, httponly=True, samesite="Strict")
        return response

    return require_token


def _given(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.query.get("token") or request.cookies.get(COOKIE)


def wants_html(request: web.Request) -> bool:
    """Whether the request's Accept header names text/html (with a quality above 0)."""
    for media_range in request.headers.get("Accept", "").split(","):
        kind, *params = (part.strip() for part in media_range.split(";"))
        if kind.lower() != "text/html":
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            return True
    return False


_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Access refused · facepush receiver</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 36rem; margin: 4rem auto;
  padding: 0 1rem; color: #1d2330; }}
h1 {{ font-size: 1.4rem; }}
code {{ background: #eef1f5; padding: 0 .25em; border-radius: 3px; }}
</style>
</head>
<body>
<h1>Access refused</h1>
<p>Access refused: open <code>/?token=…</code> with the receiver's token
(its <code>--token</code> option).</p>
<p>The receiver said: {reason}.</p>
<form method="get" action="/">
<label>Token <input name="token" type="password" autocomplete="off" required></label>
<button type="submit">Open the dashboard</button>
</form>
</body>
</html>
"""


def _refuse_page(reason: str) -> web.Response:
    response = web.Response(
        text=_PAGE.format(reason=html.escape(reason)),
        status=401,
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )
    response.headers["WWW-Authenticate"] = 'Bearer realm="facepush receiver"'
    return response


def _refuse(text: str) -> web.Response:
    response = envelope(None, code=401, msg=text, status=401)
    response.headers["WWW-Authenticate"] = 'Bearer realm="facepush receiver"'
    return response
