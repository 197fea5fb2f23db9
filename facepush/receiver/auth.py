"""`--token`: everything but the push endpoint and /healthz needs it.

The token comes as `Authorization: Bearer T`, or as `?token=T` for what a browser opens
itself (EventSource, <img>, a CSV download link), which cannot set headers. A request
accepted by `?token=T` also sets a same-site cookie, so that a dashboard opened as
`/?token=T` loads its scripts, images and stream without repeating the token.
"""

from __future__ import annotations

import hmac

from aiohttp import web
from aiohttp.typedefs import Middleware

from facepush.web import Handler, envelope

COOKIE = "facepush_token"


def token_middleware(token: str, open_paths: frozenset[str]) -> Middleware:
    expected = token.encode()

    @web.middleware
    async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in open_paths:
            return await handler(request)
        given = _given(request)
        if given is None:
            return _refuse("a token is required: send Authorization: Bearer <token>")
        if not hmac.compare_digest(given.encode(), expected):
            return _refuse("the token is wrong")
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


def _refuse(text: str) -> web.Response:
    response = envelope(None, code=401, msg=text, status=401)
    response.headers["WWW-Authenticate"] = 'Bearer realm="facepush receiver"'
    return response
