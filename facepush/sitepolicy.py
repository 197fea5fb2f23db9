"""What a browser may make facepush's servers do: no cross-site writes, no DNS rebinding.

Both servers (the terminal's API and the receiver) install one `SitePolicy` with
`install(app, policy)`. It adds, outermost first:

- Host: a server bound to loopback answers only requests whose `Host` is a loopback name
  (`localhost`, `127.x.x.x`, `[::1]`, any port), an IP address literal, or a name given with
  `--allowed-host`; anything else is a 400. A DNS-rebinding page reaches the server under
  the attacker's own name, so its requests carry that name. An IP literal cannot be
  rebound (the browser's origin is that address), so it is always accepted. A server bound
  beyond loopback accepts any Host unless `--allowed-host` is given: the names it is
  reached by are not known in advance, and there the account or token, not the network
  position, is the protection. A request without Host (HTTP/1.0 firmware) is accepted:
  browsers always send one.
- Origin: a state-changing request (POST, PUT, PATCH, DELETE) or a WebSocket handshake
  whose `Origin` names another host:port than its `Host` is a 403; `Origin: null` (sandboxed
  frames, some redirects) too. A request without Origin passes: terminals, scripts and
  curl send none, and browsers always send one on the requests that matter here. The
  scheme is not compared: one host:port serves one scheme, and a TLS-terminating proxy
  would otherwise make every same-site request look foreign.
- Content-Type: a state-changing request needs `application/json` (415 otherwise), which
  a cross-site HTML form or a no-CORS `fetch` cannot send, except on `lenient_paths` (the
  receiver's push path: older firmware may send no type or another).
- Headers on every response: `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`,
  and a strict `Content-Security-Policy` unless the handler set its own (the dashboard
  page sets one with the hash of its import map).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware
from yarl import URL

from facepush.web import envelope, is_loopback

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOOPBACK_NAMES = frozenset({"localhost"})
# For responses that are not the dashboard: nothing may load, nothing may frame them.
DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


@dataclass(frozen=True, slots=True)
class SitePolicy:
    """`allowed_hosts`: the Host names accepted besides loopback names and IP literals;
    None accepts every name. `lenient_paths`: paths whose writes need no JSON type."""

    allowed_hosts: frozenset[str] | None = frozenset()
    lenient_paths: frozenset[str] = field(default_factory=frozenset)

    def host_allowed(self, host_header: str | None) -> bool:
        if host_header is None or self.allowed_hosts is None:
            return True
        name = host_name(host_header)
        return name in LOOPBACK_NAMES or _is_ip(name) or name in self.allowed_hosts


def allowed_hosts_for(bind_host: str, names: Iterable[str]) -> frozenset[str] | None:
    """The `SitePolicy.allowed_hosts` for a server bound to `bind_host` with these
    `--allowed-host` names: on loopback only them (beyond loopback names and IP literals);
    beyond loopback any name, unless names are given."""
    given = frozenset(host_name(name) for name in names)
    if not given and not is_loopback(bind_host):
        return None
    return given


def host_name(host: str) -> str:
    """`Host` value (or `--allowed-host`) without port, lower case, no trailing dot;
    an IPv6 literal without its brackets."""
    return split_host(host)[0]


def split_host(host: str) -> tuple[str, int | None]:
    """A `Host` value as (name, port or None), normalised as `host_name` says."""
    host = host.strip().lower()
    port: int | None = None
    if host.startswith("[") and "]" in host:
        end = host.index("]")
        rest = host[end + 1 :]
        if rest.startswith(":") and rest[1:].isdigit():
            port = int(rest[1:])
        return host[1:end], port
    name, sep, digits = host.rpartition(":")
    if sep and digits.isdigit() and ":" not in name:
        host, port = name, int(digits)
    return host.rstrip("."), port


@functools.lru_cache(maxsize=256)
def _is_ip(name: str) -> bool:
    # Asked on every request with the same few names; parsing one took ~2% of a push.
    # Bounded: a client sending a new Host each time only churns the cache.
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _authority(host: str, port: int | None, scheme: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{shown}:{port}"


def _request_authority(request: web.Request, host_header: str) -> str:
    name, port = split_host(host_header)
    return _authority(name, port, request.scheme)


def cross_origin(request: web.Request) -> str | None:
    """Why the request's Origin is not the server's own, or None when it is (or absent)."""
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is None:
        return None
    if origin.strip().lower() == "null":
        return "Origin: null (an opaque origin) may not change anything here"
    host_header = request.headers.get(hdrs.HOST)
    try:
        url = URL(origin.strip())
        theirs = _authority((url.host or "").rstrip("."), url.explicit_port, url.scheme)
    except ValueError:
        url = URL()
    if not url.host:
        return f"cross-site request refused: Origin {origin!r} is not a valid origin"
    if host_header is not None and theirs == _request_authority(request, host_header):
        return None
    return f"cross-site request refused: Origin {origin} is not this server's own origin"


def _is_write(request: web.Request) -> bool:
    if request.method in UNSAFE_METHODS:
        return True
    return request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"


def _refuse(status: int, msg: str) -> web.Response:
    return envelope(None, code=status, msg=msg, status=status)


def middleware(policy: SitePolicy) -> Middleware:
    """The Host, Origin and Content-Type checks of `policy`, as one aiohttp middleware."""

    @web.middleware
    async def site_policy(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = request.headers.get(hdrs.HOST)
        if not policy.host_allowed(host):
            return _refuse(
                400,
                f"Host {host!r} is not a name of this server (DNS rebinding?); start it with "
                f"--allowed-host {host_name(host or '')} if this name is meant to reach it",
            )
        if _is_write(request):
            why = cross_origin(request)
            if why is not None:
                return _refuse(403, why)
            if request.method in UNSAFE_METHODS and request.path not in policy.lenient_paths:
                given = request.headers.get(hdrs.CONTENT_TYPE)
                if request.content_type != "application/json" or given is None:
                    shown = repr(given) if given is not None else "none"
                    return _refuse(415, f"Content-Type must be application/json (got {shown})")
        return await handler(request)

    return site_policy


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Content-Security-Policy", DEFAULT_CSP)


def add_headers(app: web.Application) -> None:
    """nosniff, no framing and a default CSP on every response of `app` (streams, static
    files and errors included: the headers are added as each response is prepared)."""
    app.on_response_prepare.append(_security_headers)


def install(app: web.Application, policy: SitePolicy) -> None:
    """Put `policy` in front of `app`'s handlers and its headers on every response."""
    app.middlewares.insert(0, middleware(policy))
    add_headers(app)
