"""The terminal's HTTP API, a thin layer over PushService: the vendor's login and
subscribe endpoints, and facepush's own `/push/...` and `/metrics` (the vendor's other
endpoints are in terminal_api.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from facepush.device.auth import Accounts
from facepush.device.report import render_metrics
from facepush.device.service import PushService
from facepush.device.terminal_api import PING_PATH, add_terminal_routes
from facepush.errors import (
    AuthError,
    BatchTooLargeError,
    CacheFullError,
    ConfigError,
    DecodeError,
    TooManyFailures,
)
from facepush.metrics import CONTENT_TYPE
from facepush.protocol.encode import to_plain
from facepush.protocol.jsontext import parse_json
from facepush.sitepolicy import SitePolicy, install
from facepush.throttle import FailureThrottle
from facepush.web import envelope

T = TypeVar("T")
log = logging.getLogger("facepush.device")
SERVICE: web.AppKey[PushService] = web.AppKey("service", PushService)
ACCOUNTS: web.AppKey[Accounts] = web.AppKey("accounts", Accounts)
THROTTLE: web.AppKey[FailureThrottle] = web.AppKey("throttle", FailureThrottle)
MAX_BODY = 64 * 1024 * 1024  # a batch of ~1,500 records with 40 KB images
MAX_REPLAY_IDS = 1000  # a page of /push/set-aside; {} replays them all
_SEQ_MAX = 2**63 - 1  # record ids are SQLite integers
BAD_REQUEST, CACHE_FULL = 400, 507
_OPEN_PATHS = {"/v1/auth/login", "/openapi.yaml", PING_PATH}
OPENAPI = Path(__file__).parent / "openapi.yaml"


def make_app(
    service: PushService,
    accounts: Accounts,
    policy: SitePolicy | None = None,
    throttle: FailureThrottle | None = None,
) -> web.Application:
    """The terminal's API. `policy` (default: loopback Host names only) refuses cross-site
    writes; `throttle` bounds password and token guessing per client address."""
    app = web.Application(client_max_size=MAX_BODY, middlewares=[_errors, _auth])
    install(app, policy if policy is not None else SitePolicy())
    app[SERVICE] = service
    app[ACCOUNTS] = accounts
    app[THROTTLE] = throttle if throttle is not None else FailureThrottle()
    app.router.add_post("/v1/auth/login", _login)
    app.router.add_get("/v1/event/subscribe", _get_subscription)
    app.router.add_post("/v1/event/subscribe", _post_subscription)
    app.router.add_post("/push/records", _records)
    app.router.add_get("/push/status", _status)
    app.router.add_get("/push/set-aside", _set_aside)
    app.router.add_post("/push/set-aside/replay", _replay)
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/openapi.yaml", _openapi)
    add_terminal_routes(app, SERVICE)
    return app


async def _openapi(request: web.Request) -> web.Response:
    return web.Response(body=OPENAPI.read_bytes(), content_type="application/yaml")


@web.middleware
async def _errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every failure in the vendor envelope, with a message that names the problem."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except (DecodeError, ConfigError) as exc:
        return envelope(code=BAD_REQUEST, msg=str(exc), status=BAD_REQUEST)
    except AuthError as exc:
        return envelope(code=exc.code, msg=str(exc), status=401)
    except TooManyFailures as exc:
        reply = envelope(code=429, msg=str(exc), status=429)
        reply.headers["Retry-After"] = str(exc.retry_after)
        return reply
    except (CacheFullError, BatchTooLargeError) as exc:
        return envelope(code=CACHE_FULL, msg=str(exc), status=CACHE_FULL)
    except web.HTTPRequestEntityTooLarge as exc:
        return envelope(code=413, msg=f"body too large: {exc.text}", status=413)
    except web.HTTPException as exc:
        return envelope(code=exc.status, msg=exc.reason, status=exc.status)
    except Exception:
        log.exception("internal error on %s %s", request.method, request.path)
        return envelope(code=500, msg="Internal Server Error (see the service log)", status=500)


@web.middleware
async def _auth(request: web.Request, handler: Any) -> web.StreamResponse:
    accounts = request.app[ACCOUNTS]
    if request.path not in _OPEN_PATHS:
        given = request.headers.get("Authorization")
        if given and accounts.enabled:
            _guarded(request, given, lambda: accounts.check(given))
        else:
            accounts.check(given)  # no credentials: 401 "log in first", not a guess
    response: web.StreamResponse = await handler(request)
    return response


def _guarded(request: web.Request, credential: str, check: Callable[[], T]) -> T:
    """Run a credential check under the per-client bound on guessing."""
    throttle = request.app[THROTTLE]
    wait = throttle.retry_after(request.remote)
    if wait is not None:
        raise TooManyFailures(wait)
    try:
        result = check()
    except AuthError:
        throttle.failed(request.remote, credential)
        raise
    throttle.succeeded(request.remote)
    return result


async def _json(request: web.Request) -> Any:
    return parse_json(await request.read())


async def _login(request: web.Request) -> web.Response:
    accounts = request.app[ACCOUNTS]
    if not accounts.enabled:
        # No account configured: the terminal needs no authentication; say so plainly.
        return envelope({"token": None, "validTime": None}, msg="OK (no account configured)")
    # Wrong credentials raise AuthError: code 1000/1001 in the envelope (see _errors).
    body = await _json(request)
    given = f"{body.get('username')}\0{body.get('password')}" if isinstance(body, dict) else ""
    return envelope(_guarded(request, given, lambda: accounts.login(body)))


async def _get_subscription(request: web.Request) -> web.Response:
    sub = request.app[SERVICE].subscription
    return envelope(to_plain(sub) if sub is not None else None)


async def _post_subscription(request: web.Request) -> web.Response:
    sub = await request.app[SERVICE].subscribe(await _json(request))
    return envelope(to_plain(sub))


async def _records(request: web.Request) -> web.Response:
    result = await request.app[SERVICE].record(await request.read())
    data = {"accepted": result.accepted, "evicted": result.evicted}
    if result.skipped:
        data["skipped"] = result.skipped
        return envelope(data, msg="OK (push is disabled or unconfigured: nothing queued)")
    return envelope(data)


async def _status(request: web.Request) -> web.Response:
    return envelope(request.app[SERVICE].status())


async def _set_aside(request: web.Request) -> web.Response:
    after = _int_param(request, "after", 0, 0, 2**62)
    limit = _int_param(request, "limit", 100, 1, 1000)
    items = await request.app[SERVICE].list_set_aside(after, limit)
    following = items[-1]["id"] if len(items) == limit else None
    return envelope({"items": items, "next": following})


async def _replay(request: web.Request) -> web.Response:
    body = await _json(request)
    if not isinstance(body, dict) or set(body) - {"ids"}:
        raise DecodeError("body", 'expected {} (replay all) or {"ids": [id, ...]}')
    ids = body.get("ids")
    if ids is not None:
        _check_ids(ids)
    count = await request.app[SERVICE].replay(ids)
    return envelope({"replayed": count})


def _check_ids(ids: Any) -> None:
    if not isinstance(ids, list) or not all(type(i) is int for i in ids):
        raise DecodeError("ids", "must be a list of set-aside record ids (integers)")
    if len(ids) > MAX_REPLAY_IDS:
        raise DecodeError(
            "ids", f"at most {MAX_REPLAY_IDS} ids a request, got {len(ids)} ({{}} replays all)"
        )
    for index, seq in enumerate(ids):
        if not 1 <= seq <= _SEQ_MAX:  # the value is not echoed: it may have 5,000 digits
            raise DecodeError(f"ids[{index}]", "not a record id (an integer from 1 to 2^63-1)")


async def _metrics(request: web.Request) -> web.Response:
    text = render_metrics(request.app[SERVICE].status())
    return web.Response(text=text, headers={"Content-Type": CONTENT_TYPE})


def _int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query.get(name)
    if text is None:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise DecodeError(name, f"must be an integer from {low} to {high}, got {text!r}")
    return int(text)
