"""`--token`: everything but the push endpoint and /healthz needs it.

A refusal is the JSON envelope with code 401, except for a browser opening the dashboard
page itself (Accept: text/html), which gets a short HTML page saying how to get in.

The token comes as `Authorization: Bearer T`, or as `?token=T` for what a browser opens
itself (EventSource, <img>, a CSV download link), which cannot set headers. A request
accepted by `?token=T` also sets a cookie, so that a dashboard opened as `/?token=T` loads
its scripts, images and stream without repeating the token. The cookie holds a session
value derived from the token (HMAC-SHA256), never the token itself: HttpOnly,
SameSite=Strict, Secure when served over TLS. It stops working when the token changes.

Wrong tokens (and wrong cookies) are bounded per client address by a FailureThrottle:
after a few distinct wrong guesses the client is answered 429 for a growing time.
Every comparison is of fixed-length digests, in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from facepush.throttle import FailureThrottle, too_many_message
from facepush.web import envelope

COOKIE = "facepush_session"
_OLD_COOKIE = "facepush_token"  # held the token itself (before 0.x): removed when seen
MIN_TOKEN_LENGTH = 16


def session_value(token: str) -> str:
    """The dashboard cookie's value for `token`: derived from it, useless without it."""
    return hmac.new(token.encode(), b"facepush-dashboard-session", hashlib.sha256).hexdigest()


def _same(given: str, expected: bytes) -> bool:
    digest = hashlib.sha256(given.encode("utf-8", "surrogatepass")).digest()
    return hmac.compare_digest(digest, expected)


def token_middleware(
    token: str,
    open_paths: frozenset[str],
    page_paths: frozenset[str] = frozenset(),
    throttle: FailureThrottle | None = None,
) -> Middleware:
    """Refuse requests without the token (401), except to `open_paths`. The refusal is the
    JSON envelope, or a small HTML page for a browser (Accept: text/html) opening one of
    `page_paths` (the dashboard), with the same status. `throttle` bounds guessing."""
    session = session_value(token)
    expected = {
        "token": hashlib.sha256(token.encode()).digest(),
        "session": hashlib.sha256(session.encode()).digest(),
    }
    guesses = throttle if throttle is not None else FailureThrottle()

    @web.middleware
    async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in open_paths:
            return await handler(request)
        kind, given = _given(request)
        page = request.path in page_paths and wants_html(request)
        if given is None:
            if page:
                return _refuse_page("a token is required")
            return _refuse("a token is required: send Authorization: Bearer <token>")
        wait = guesses.retry_after(request.remote)
        if wait is not None:
            return _refuse_page(too_many_message(wait), 429, wait) if page else _throttled(wait)
        if not _same(given, expected[kind]):
            guesses.failed(request.remote, given)
            reason = "the token is wrong" if kind == "token" else "the session has ended"
            return _refuse_page(reason) if page else _refuse(reason)
        guesses.succeeded(request.remote)
        response = await handler(request)
        if kind == "token" and "token" in request.query and not response.prepared:
            if not _same(request.cookies.get(COOKIE, ""), expected["session"]):
                response.set_cookie(
                    COOKIE, session, httponly=True, samesite="Strict", secure=request.secure
                )
            if _OLD_COOKIE in request.cookies:
                response.del_cookie(_OLD_COOKIE)
        return response

    return require_token


def _given(request: web.Request) -> tuple[str, str | None]:
    """("token", value) from the header or `?token=`, else ("session", cookie or None)."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return "token", value.strip()
    if request.query.get("token"):
        return "token", request.query["token"]
    return "session", request.cookies.get(COOKIE) or None


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


def _refuse_page(reason: str, status: int = 401, retry_after: int | None = None) -> web.Response:
    response = web.Response(
        text=_PAGE.format(reason=html.escape(reason)),
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": _PAGE_CSP,
        },
    )
    response.headers["WWW-Authenticate"] = 'Bearer realm="facepush receiver"'
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _throttled(wait: int) -> web.Response:
    response = envelope(None, code=429, msg=too_many_message(wait), status=429)
    response.headers["Retry-After"] = str(wait)
    return response


def _style_hash(page: str) -> str:
    style = page[page.index("<style>") + len("<style>") : page.index("</style>")]
    style = style.replace("{{", "{").replace("}}", "}")
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    return f"'sha256-{digest}'"


# The page's own inline style (by hash) and its form, nothing else.
_PAGE_CSP = (
    f"default-src 'none'; style-src {_style_hash(_PAGE)}; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def _refuse(text: str) -> web.Response:
    response = envelope(None, code=401, msg=text, status=401)
    response.headers["WWW-Authenticate"] = 'Bearer realm="facepush receiver"'
    return response
