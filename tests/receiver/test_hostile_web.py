"""The receiver against a hostile web page and a token guesser, on real sockets (backend-
independent: run on SQLite): cross-site pushes, DNS rebinding, JSON-only management
writes, token backoff, the derived session cookie (Secure under TLS), the token's minimum
length, secrets from the environment, private database files, the dashboard's headers."""

from __future__ import annotations

import os
import ssl
import stat
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
import trustme
from aiohttp import web

from facepush.receiver import Store, create_app
from facepush.receiver.app import THROTTLE
from facepush.receiver.auth import COOKIE, session_value
from facepush.receiver.errors import ReceiverConfigError
from tests.support.processes import Process
from tests.support.receiver import Serve, configured
from tests.support.records import body, recognition

TOKEN = "receiver-hostile-token-0123"
ATTACKER = "http://attacker.example"
SERVE = [sys.executable, "-m", "facepush", "receiver", "serve", "--listen", "127.0.0.1:0"]


@pytest.fixture
def backend() -> str:
    return "sqlite"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_web_page_cannot_inject_a_record(serve: Serve, store: Store) -> None:
    rx = await serve()
    page = {"Content-Type": "text/plain;charset=UTF-8", "Origin": ATTACKER}
    for origin in (ATTACKER, "null"):
        status, reply = await rx.push(body(recognition("injected")), {**page, "Origin": origin})
        assert (status, reply["code"]) == (403, 403), origin
    assert "cross-site request refused" in reply["msg"] or "null" in reply["msg"]
    assert store.stats()["recognitions"] == 0 and store.quarantine(None, 10) == []
    # A terminal sends no Origin, and older firmware may send any content type or none.
    for headers in ({"Content-Type": "text/plain"}, {}):
        status, reply = await rx.push(body(recognition(f"firmware-{len(headers)}")), headers)
        assert (status, reply["code"]) == (200, 200)
    assert store.stats()["recognitions"] == 2


async def test_management_writes_must_be_json(serve: Serve) -> None:
    rx = await serve()
    # No management write exists yet; the rule holds for every path but the push path.
    async with rx.session.post(rx.url + "/api/stats", data=b"{}") as resp:
        assert resp.status == 415
        assert "Content-Type must be application/json" in (await resp.json())["msg"]
    json_type = {"Content-Type": "application/json"}
    async with rx.session.put(rx.url + "/api/stats", data=b"{}", headers=json_type) as resp:
        assert resp.status == 405  # past the policy: the route itself has no PUT


async def test_a_rebound_name_is_refused(serve: Serve) -> None:
    rx = await serve(token=TOKEN)
    port = rx.url.rsplit(":", 1)[1]
    rebound = {"Host": f"rebind.attacker.example:{port}"}
    for method, path in (("GET", "/api/events"), ("GET", "/"), ("POST", "/Record")):
        async with rx.session.request(method, rx.url + path, headers=rebound, data=b"{}") as r:
            assert r.status == 400, path
            assert "rebind.attacker.example" in (await r.json())["msg"]
    named = await serve(allowed_host=("rx.example",))
    async with named.session.get(named.url + "/healthz", headers={"Host": "rx.example"}) as r:
        assert r.status == 200


async def test_token_guessing_is_bounded_per_client(serve: Serve) -> None:
    rx = await serve(token=TOKEN)
    clock = Clock()
    rx.app[THROTTLE].clock = clock

    async def stats(token: str) -> tuple[int, dict[str, str]]:
        headers = {"Authorization": f"Bearer {token}"}
        async with rx.session.get(rx.url + "/api/stats", headers=headers) as resp:
            return resp.status, dict(resp.headers)

    for n in range(5):
        assert (await stats(f"guess-{n:020d}"))[0] == 401
    for token in ("guess-5", TOKEN):  # not checked while shut out
        status, headers = await stats(token)
        assert (status, headers["Retry-After"]) == (429, "1")
    assert (await rx.push(recognition("terminals-unaffected")))[0] == 200
    clock.now += 1
    assert (await stats(TOKEN))[0] == 200


async def test_the_cookie_holds_a_session_value_not_the_token(serve: Serve) -> None:
    rx = await serve(token=TOKEN)
    async with rx.session.get(rx.url + "/", params={"token": TOKEN}) as resp:
        cookie = resp.cookies[COOKIE]
    assert cookie.value == session_value(TOKEN) != TOKEN and TOKEN not in resp.headers.get(
        "Set-Cookie", ""
    )
    for value, status in ((session_value(TOKEN), 200), (TOKEN, 401), ("0" * 64, 401)):
        async with rx.session.get(rx.url + "/api/stats", cookies={COOKIE: value}) as resp:
            assert resp.status == status, value
    # The cookie of an earlier version held the token itself: no longer accepted.
    async with rx.session.get(rx.url + "/api/stats", cookies={"facepush_token": TOKEN}) as resp:
        assert resp.status == 401
    # Another token, another session: a cookie ends with the token it came from.
    other = await serve(token="another-token-0123456789")
    cookies = {COOKIE: session_value(TOKEN)}
    async with other.session.get(other.url + "/api/stats", cookies=cookies) as resp:
        assert resp.status == 401 and "session has ended" in (await resp.json())["msg"]


async def test_the_cookie_is_secure_over_tls(store: Store, tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ssl)
    client_ssl = ssl.create_default_context()
    ca.configure_trust(client_ssl)
    runner = web.AppRunner(create_app(configured(store.url, token=TOKEN), store))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ssl)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                f"https://127.0.0.1:{port}/", params={"token": TOKEN}, ssl=client_ssl
            ) as resp,
        ):
            cookie = resp.cookies[COOKIE]
            assert resp.status == 200
            assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Strict"
    finally:
        await runner.cleanup()


def test_a_short_token_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ReceiverConfigError, match="--token: must be at least 16 characters"):
        configured(f"sqlite:///{tmp_path / 'x.sqlite3'}", token="fifteen-chars-x")
    for args, env in (
        (["--token", "s3cret"], {}),
        ([], {"FACEPUSH_TOKEN": "s3cret"}),
    ):
        result = subprocess.run(
            [*SERVE, "--data", str(tmp_path), *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **env},
        )
        assert result.returncode == 1 and "listening" not in result.stdout
        assert "--token: must be at least 16 characters, got 6" in result.stderr


def test_help_names_where_secrets_may_come_from() -> None:
    from click.testing import CliRunner

    from facepush.cli import main

    receiver = CliRunner().invoke(main, ["receiver", "serve", "--help"]).stdout
    device = CliRunner().invoke(main, ["device", "serve", "--help"]).stdout
    for variable in ("FACEPUSH_TOKEN", "FACEPUSH_SIGNING_SECRET"):
        assert variable in receiver, variable
    for variable in ("FACEPUSH_PASSWORD", "FACEPUSH_SIGNING_SECRET"):
        assert variable in device, variable
    assert "--allowed-host" in receiver and "--allowed-host" in device


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_secrets_from_the_environment_and_private_database_files(tmp_path: Path) -> None:
    data = tmp_path / "new" / "receiver"  # missing parents: created 0700 too
    env = {"FACEPUSH_TOKEN": TOKEN, "FACEPUSH_SIGNING_SECRET": "whsec_" + "A" * 32}
    proc = Process(
        ["receiver", "serve", "--listen", "127.0.0.1:0", "--data", str(data)],
        tmp_path / "receiver.log",
        env=env,
        preexec=lambda: os.umask(0o022) and None,
    )
    try:
        url = proc.wait_listening()
        cmdline = Path(f"/proc/{proc.proc.pid}/cmdline").read_bytes()
        assert TOKEN.encode() not in cmdline and b"whsec_" not in cmdline
        async with aiohttp.ClientSession() as session:
            async with session.get(url + "/api/stats") as resp:
                assert resp.status == 401  # the token from the environment is in force
            async with session.post(url + "/Record", data=body(recognition("unsigned"))) as r:
                assert r.status == 401  # and so is the signing secret
            bearer = {"Authorization": f"Bearer {TOKEN}"}
            async with session.get(url + "/api/stats", headers=bearer) as resp:
                assert resp.status == 200
        assert _mode(tmp_path / "new") == 0o700 and _mode(data) == 0o700
        names = {p.name for p in data.iterdir()}
        assert {"receiver.sqlite3", "receiver.sqlite3-wal", "receiver.sqlite3-shm"} <= names
        for path in data.iterdir():
            assert _mode(path) == 0o600, (path.name, oct(_mode(path)))
    finally:
        proc.stop()


async def test_the_dashboard_sends_a_strict_policy(serve: Serve) -> None:
    rx = await serve(token=TOKEN)
    async with rx.session.get(rx.url + "/", params={"token": TOKEN}) as resp:
        csp = resp.headers["Content-Security-Policy"]
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src 'self' 'sha256-" in csp and "unsafe" not in csp
    for path in ("/static/js/main.js", "/static/dashboard.css", "/api/stats", "/nowhere"):
        async with rx.session.get(rx.url + path, params={"token": TOKEN}) as resp:
            assert resp.headers["X-Content-Type-Options"] == "nosniff", path
            assert resp.headers["X-Frame-Options"] == "DENY", path
    # The refusal page for a browser: its own inline style by hash, nothing else.
    html = {"Accept": "text/html"}
    async with rx.session.get(rx.url + "/", headers=html) as resp:
        assert resp.status == 401
        page_csp = resp.headers["Content-Security-Policy"]
    assert page_csp.startswith("default-src 'none'; style-src 'sha256-")
