"""The site policy shared by both servers, on a small app over a real loopback socket:
Host names (DNS rebinding), Origin on writes and WebSocket handshakes, JSON-only writes,
and the headers on every response."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from facepush.sitepolicy import (
    DEFAULT_CSP,
    SitePolicy,
    allowed_hosts_for,
    host_name,
    install,
    split_host,
)
from tests.support.processes import LOOPBACK

JSON = {"Content-Type": "application/json"}
Start = Callable[[SitePolicy], Awaitable[str]]


async def _ok(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"code": 200})


async def _ws(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    await ws.send_str("hello")
    await ws.close()
    return ws


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    runners: list[web.AppRunner] = []

    async def run(policy: SitePolicy) -> str:
        app = web.Application()
        install(app, policy)
        app.router.add_post("/write", _ok)
        app.router.add_put("/write", _ok)
        app.router.add_delete("/write", _ok)
        app.router.add_post("/push", _ok)
        app.router.add_get("/read", _ok)
        app.router.add_get("/ws", _ws)
        runner = web.AppRunner(app)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, LOOPBACK, 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://{LOOPBACK}:{port}"

    yield run
    for runner in runners:
        await runner.cleanup()


async def send(
    method: str, url: str, headers: dict[str, str], body: bytes | None = b"{}"
) -> tuple[int, dict[str, Any], aiohttp.typedefs.LooseHeaders]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, data=body, headers=headers) as resp,
    ):
        return resp.status, await resp.json(content_type=None), resp.headers


def test_host_names_are_normalised() -> None:
    assert split_host("LocalHost:8080") == ("localhost", 8080)
    assert split_host("[::1]:8000") == ("::1", 8000)
    assert split_host("[::1]") == ("::1", None)
    assert split_host("example.com.") == ("example.com", None)
    assert host_name("10.0.0.5:80") == "10.0.0.5"


def test_loopback_binds_answer_loopback_names_and_beyond_loopback_any() -> None:
    assert allowed_hosts_for("127.0.0.1", ()) == frozenset()
    assert allowed_hosts_for("::1", ["Gate.Example:8000"]) == {"gate.example"}
    assert allowed_hosts_for("0.0.0.0", ()) is None
    assert allowed_hosts_for("0.0.0.0", ["rx.example"]) == {"rx.example"}
    policy = SitePolicy(frozenset({"gate.example"}))
    for host in ("localhost:8000", "127.0.0.1", "127.8.9.1:1", "[::1]:8000", "10.0.0.5:80"):
        assert policy.host_allowed(host), host
    assert policy.host_allowed("gate.example:8000")
    assert policy.host_allowed(None)  # HTTP/1.0 without Host: not a browser
    for host in ("rebind.attacker.example:8000", "localhost.attacker.example", "gate.example.x"):
        assert not policy.host_allowed(host), host
    assert SitePolicy(None).host_allowed("anything.example")


async def test_a_rebound_host_name_is_refused(start: Start) -> None:
    url = await start(SitePolicy())
    port = url.rsplit(":", 1)[1]
    status, reply, _ = await send("GET", url + "/read", {"Host": f"rebind.attacker.example:{port}"})
    assert status == 400 and reply["code"] == 400
    assert "rebind.attacker.example" in reply["msg"] and "--allowed-host" in reply["msg"]
    for host in (f"localhost:{port}", f"127.0.0.1:{port}"):
        assert (await send("GET", url + "/read", {"Host": host}))[0] == 200, host
    allowed = await start(SitePolicy(frozenset({"gate.example"})))
    assert (await send("GET", allowed + "/read", {"Host": "gate.example"}))[0] == 200


async def test_cross_site_writes_are_refused(start: Start) -> None:
    url = await start(SitePolicy(lenient_paths=frozenset({"/push"})))
    port = url.rsplit(":", 1)[1]
    foreign = [
        "http://attacker.example",
        f"http://127.0.0.1:{int(port) + 1}",  # same host, another port: another origin
        f"http://localhost:{port}",  # another name for this server: still not its origin
        "null",
        "not a url",
    ]
    for method in ("POST", "PUT", "DELETE"):
        for origin in foreign:
            status, reply, _ = await send(method, url + "/write", {**JSON, "Origin": origin})
            assert status == 403 and reply["code"] == 403, (method, origin)
            assert "refused" in reply["msg"] or "null" in reply["msg"]
    # The push path too: its content type is free, its origin is not.
    plain = {"Content-Type": "text/plain", "Origin": "http://attacker.example"}
    assert (await send("POST", url + "/push", plain))[0] == 403
    # Its own origin, or none (terminals, scripts): accepted.
    for headers in ({**JSON, "Origin": url}, JSON):
        assert (await send("POST", url + "/write", headers))[0] == 200
    # Reads are not writes: a cross-site GET is the browser's same-origin policy's business.
    assert (await send("GET", url + "/read", {"Origin": "http://attacker.example"}))[0] == 200


async def test_writes_must_be_json_except_on_lenient_paths(start: Start) -> None:
    url = await start(SitePolicy(lenient_paths=frozenset({"/push"})))
    for headers in (
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"Content-Type": "multipart/form-data; boundary=x"},
        {},
    ):
        status, reply, _ = await send("POST", url + "/write", headers)
        assert status == 415 and reply["code"] == 415, headers
        assert "Content-Type must be application/json" in reply["msg"]
    assert (await send("POST", url + "/write", {}, None))[0] == 415  # no body, no type
    ok = {"Content-Type": "application/json; charset=utf-8"}
    assert (await send("POST", url + "/write", ok))[0] == 200
    for headers in ({"Content-Type": "text/plain"}, {}):
        assert (await send("POST", url + "/push", headers))[0] == 200  # older firmware


async def test_websocket_handshakes_from_another_origin_are_refused(start: Start) -> None:
    url = await start(SitePolicy())
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(url + "/ws", origin="http://attacker.example")
        assert refused.value.status == 403
        async with session.ws_connect(url + "/ws", origin=url) as ws:
            assert (await ws.receive_str()) == "hello"


async def test_every_response_forbids_sniffing_and_framing(start: Start) -> None:
    url = await start(SitePolicy())
    for method, path, headers in (
        ("GET", "/read", {}),
        ("GET", "/missing", {}),
        ("POST", "/write", {"Content-Type": "text/plain"}),
        ("GET", "/read", {"Host": "attacker.example"}),
    ):
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, url + path, headers=headers) as resp,
        ):
            assert resp.headers["X-Content-Type-Options"] == "nosniff", path
            assert resp.headers["X-Frame-Options"] == "DENY", path
            assert resp.headers["Content-Security-Policy"] == DEFAULT_CSP, path
