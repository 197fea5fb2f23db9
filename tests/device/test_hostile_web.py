"""The terminal's API against a hostile web page and a password guesser, on real sockets:
cross-site writes, DNS rebinding, login backoff, tokens that end with the password,
secrets kept out of `ps`, private data files, credentials redacted from status and logs."""

from __future__ import annotations

import base64
import json
import logging
import os
import stat
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from facepush.device.api import make_app
from facepush.device.auth import Accounts
from facepush.device.service import PushService
from facepush.sitepolicy import SitePolicy
from facepush.throttle import FailureThrottle
from tests.support.device import ServiceFactory, eventually, start_device
from tests.support.processes import LOOPBACK
from tests.support.records import recognition

ATTACKER = "http://attacker.example"
PASSWORD = "terminal-test-password"
Api = Callable[..., Awaitable[tuple[str, PushService]]]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def api(make_service: ServiceFactory, tmp_path: Path) -> AsyncIterator[Api]:
    runners: list[web.AppRunner] = []

    async def start(
        username: str | None = None,
        policy: SitePolicy | None = None,
        throttle: FailureThrottle | None = None,
    ) -> tuple[str, PushService]:
        service = await make_service(tmp_path / f"device-{len(runners)}")
        accounts = Accounts(username, PASSWORD if username else None, service.jwt_key or b"")
        runner = web.AppRunner(make_app(service, accounts, policy, throttle))
        await runner.setup()
        site = web.TCPSite(runner, LOOPBACK, 0)
        await site.start()
        runners.append(runner)
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://{LOOPBACK}:{port}", service

    yield start
    for runner in runners:
        await runner.cleanup()


async def call(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, data=body, headers=headers) as resp,
    ):
        return resp.status, json.loads(await resp.read()), dict(resp.headers)


def as_json(value: Any) -> bytes:
    return json.dumps(value).encode()


JSON = {"Content-Type": "application/json"}
# What a web page can send without a CORS preflight: fetch(url, {mode: "no-cors",
# method: "POST", body}) or an HTML form.
PAGE_WRITE = {"Content-Type": "text/plain;charset=UTF-8", "Origin": ATTACKER}
WRITES = [
    ("/v1/event/subscribe", {"event_dest": ATTACKER + "/Record", "enabled": True}),
    ("/v1/auth/login", {"username": "admin", "password": "x"}),
    ("/push/records", recognition(1)),
    ("/push/set-aside/replay", {}),
]


async def test_a_web_page_cannot_configure_the_terminal(api: Api) -> None:
    url, service = await api()  # no account: the loopback default
    for path, body in WRITES:
        status, reply, _ = await call("POST", url + path, as_json(body), PAGE_WRITE)
        assert (status, reply["code"]) == (403, 403), path
        assert reply["msg"] == (
            f"cross-site request refused: Origin {ATTACKER} is not this server's own origin"
        )
        # Also when the browser sends no Origin (older ones on some requests): 415.
        plain = {"Content-Type": "text/plain"}
        status, reply, _ = await call("POST", url + path, as_json(body), plain)
        assert (status, reply["code"]) == (415, 415), path
        assert reply["msg"] == "Content-Type must be application/json (got 'text/plain')"
    for origin in ("null", "http://127.0.0.1:1"):
        headers = {**JSON, "Origin": origin}
        assert (await call("POST", url + WRITES[0][0], as_json(WRITES[0][1]), headers))[0] == 403
    assert service.subscription is None and service.status()["queued"] == 0
    # The terminal's own clients send JSON and no Origin (or the terminal's own origin).
    good = {"event_dest": "http://127.0.0.1:9/Record", "enabled": False}
    for headers in (JSON, {**JSON, "Origin": url}):
        status, reply, _ = await call("POST", url + "/v1/event/subscribe", as_json(good), headers)
        assert (status, reply["code"]) == (200, 200)


async def test_a_rebound_name_cannot_read_or_configure_the_terminal(api: Api) -> None:
    url, _ = await api()
    port = url.rsplit(":", 1)[1]
    rebound = {"Host": f"rebind.attacker.example:{port}"}
    status, reply, headers = await call("GET", url + "/push/status", headers=rebound)
    assert (status, reply["code"]) == (400, 400) and "--allowed-host" in reply["msg"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    # --allowed-host NAME: that name is answered.
    named, _ = await api(policy=SitePolicy(frozenset({"gate.example"})))
    status, _, headers = await call("GET", named + "/push/status", headers={"Host": "gate.example"})
    assert status == 200 and headers["X-Frame-Options"] == "DENY"


async def test_password_guessing_is_bounded_per_client(api: Api) -> None:
    clock = Clock()
    url, _ = await api(username="admin", throttle=FailureThrottle(clock=clock))
    login = url + "/v1/auth/login"
    for n in range(5):
        body = as_json({"username": "admin", "password": f"guess-{n}"})
        assert (await call("POST", login, body, JSON))[1]["code"] == 1001
    # The sixth guess is not checked, and neither is the right password now.
    for password in ("guess-5", PASSWORD):
        body = as_json({"username": "admin", "password": password})
        status, reply, headers = await call("POST", login, body, JSON)
        assert (status, reply["code"], headers["Retry-After"]) == (429, 429, "1")
        assert "too many failed logins" in reply["msg"]
    # HTTP Basic guesses are bounded by the same table.
    pair = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
    assert (await call("GET", url + "/push/status", headers={"Authorization": "Basic " + pair}))[
        0
    ] == 429
    clock.now += 1
    good = as_json({"username": "admin", "password": PASSWORD})
    status, reply, _ = await call("POST", login, good, JSON)
    assert (status, reply["code"]) == (200, 200)
    # A success starts the client afresh: four wrong guesses do not shut it out.
    for n in range(4):
        body = as_json({"username": "admin", "password": f"again-{n}"})
        assert (await call("POST", login, body, JSON))[1]["code"] == 1001
    assert (await call("POST", login, good, JSON))[1]["code"] == 200


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


async def test_password_from_the_environment_tokens_end_with_it_files_private(
    tmp_path: Path,
) -> None:
    """`FACEPUSH_PASSWORD` keeps the password out of `ps`; a token issued under one password
    is refused after a restart with another; the data files are 0600 in a 0700 directory
    although the service runs under umask 022."""
    data = tmp_path / "data"
    args = ["--data", str(data), "--username", "admin"]
    umask = lambda: os.umask(0o022)  # noqa: E731 - the most common default
    first, url = start_device(tmp_path, *args, env={"FACEPUSH_PASSWORD": "first-pw"}, preexec=umask)
    async with aiohttp.ClientSession() as session:
        try:
            assert "first-pw" not in _cmdline(first.proc.pid)
            login = {"username": "admin", "password": "first-pw"}
            async with session.post(url + "/v1/auth/login", json=login) as resp:
                token = (await resp.json())["data"]["token"]
            bearer = {"Authorization": f"Bearer {token}", **JSON}
            dest = {"event_dest": "http://127.0.0.1:9/Record", "enabled": True}
            async with session.post(url + "/v1/event/subscribe", json=dest, headers=bearer) as r:
                assert (await r.json())["code"] == 200
            one = recognition(1)
            async with session.post(url + "/push/records", json=one, headers=bearer) as r:
                assert (await r.json())["data"]["accepted"] == 1
            assert _mode(data) == 0o700
            files = sorted(p.name for p in data.iterdir())
            assert {"outbox.sqlite3-wal", "outbox.sqlite3-shm", "jwt.key"} <= set(files), files
            for path in data.iterdir():
                assert _mode(path) == 0o600, (path.name, oct(_mode(path)))
        finally:
            first.stop()
        second, url = start_device(
            tmp_path, *args, env={"FACEPUSH_PASSWORD": "second-pw"}, preexec=umask
        )
        try:
            async with session.get(url + "/push/status", headers=bearer) as resp:
                reply = await resp.json()
            assert resp.status == 401 and "password changed" in reply["msg"]
            login = {"username": "admin", "password": "second-pw"}
            async with session.post(url + "/v1/auth/login", json=login) as resp:
                assert (await resp.json())["code"] == 200
        finally:
            second.stop()


async def test_destination_credentials_are_redacted_in_status_and_logs(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    url, service = await api()
    dest = "http://integrator:hunter2-secret@127.0.0.1:9/Record"
    caplog.set_level(logging.INFO, logger="facepush.device")
    body = as_json({"event_dest": dest, "enabled": True})
    assert (await call("POST", url + "/v1/event/subscribe", body, JSON))[1]["code"] == 200
    assert (await call("POST", url + "/push/records", as_json(recognition(1)), JSON))[0] == 200
    await eventually(lambda: service.status()["last_error"] is not None, what="a failed attempt")
    _, reply, _ = await call("GET", url + "/push/status")
    status = reply["data"]
    assert status["event_dest"] == "http://integrator:***@127.0.0.1:9/Record"
    assert "hunter2" not in json.dumps(status) and "127.0.0.1:9" in status["last_error"]
    assert "hunter2" not in caplog.text and "integrator:***@127.0.0.1:9" in caplog.text
    # The configuration endpoint answers what was set, as the vendor's API does.
    _, reply, _ = await call("GET", url + "/v1/event/subscribe")
    assert reply["data"]["event_dest"] == dest
