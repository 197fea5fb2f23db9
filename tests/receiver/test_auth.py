"""The token, the loopback default and Standard Webhooks signatures (backend-independent:
run on SQLite)."""

from __future__ import annotations

import base64
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from standardwebhooks.webhooks import Webhook

from facepush.receiver import Store
from facepush.receiver.auth import session_value
from facepush.receiver.errors import ReceiverConfigError
from facepush.receiver.settings import check_bind
from tests.support.receiver import Serve
from tests.support.records import body, recognition

TOKEN = "receiver-test-token-0123"  # at least 16 characters (--token refuses fewer)
SECRET = "whsec_" + base64.b64encode(b"receiver-test-secret-0123456789ab").decode()
PROTECTED = [
    "/api/events",
    "/api/events/r:x",
    "/api/stats",
    "/api/devices",
    "/api/alarms",
    "/api/quarantine",
    "/api/export.csv",
    "/api/images/" + "0" * 64,
    "/api/stream",
    "/metrics",
    "/openapi.yaml",
    "/",
]


@pytest.fixture
def backend() -> str:
    return "sqlite"


async def test_token_protects_everything_but_push_and_health(serve: Serve) -> None:
    rx = await serve(token=TOKEN)
    for path in PROTECTED:
        async with rx.session.get(rx.url + path) as resp:
            assert resp.status == 401, path
            reply = await resp.json()
            assert reply["code"] == 401 and "token" in reply["msg"]
        async with rx.session.get(rx.url + path, headers={"Authorization": "Bearer nope"}) as r:
            assert r.status == 401, path
    assert (await rx.push(recognition("open")))[0] == 200  # the terminal needs no token
    async with rx.session.get(rx.url + "/healthz") as resp:
        assert resp.status == 200
    good = {"Authorization": "Bearer " + TOKEN}
    async with rx.session.get(rx.url + "/api/events/r:open", headers=good) as resp:
        assert resp.status == 200 and (await resp.json())["data"]["uuid"] == "open"
    async with rx.session.get(rx.url + "/api/stats", params={"token": TOKEN}) as resp:
        assert resp.status == 200
        # The cookie holds a value derived from the token, never the token itself.
        cookie = resp.cookies["facepush_session"]
        assert cookie.value == session_value(TOKEN) and TOKEN not in cookie.value
        assert cookie["httponly"] and cookie["samesite"] == "Strict" and not cookie["secure"]


async def test_query_token_sets_a_cookie_for_the_browser(serve: Serve) -> None:
    rx = await serve(token=TOKEN)
    # Like a browser: a cookie jar that also keeps cookies of an IP address.
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        async with browser.get(rx.url + "/", params={"token": TOKEN}) as resp:
            assert resp.status == 200
        for path in ("/api/stats", "/api/events"):
            async with browser.get(rx.url + path) as resp:
                assert resp.status == 200, path


async def test_without_token_the_api_is_open_on_loopback(serve: Serve) -> None:
    rx = await serve()
    for path in ("/api/stats", "/metrics", "/openapi.yaml"):
        async with rx.session.get(rx.url + path) as resp:
            assert resp.status == 200, path


def test_non_loopback_needs_a_token_or_an_explicit_flag() -> None:
    for host in ("127.0.0.1", "::1", "localhost"):
        check_bind(host, None, False)
    with pytest.raises(ReceiverConfigError, match="without --token"):
        check_bind("0.0.0.0", None, False)
    with pytest.raises(ReceiverConfigError, match="without --token"):
        check_bind("192.0.2.10", None, False)
    check_bind("0.0.0.0", "t", False)
    check_bind("0.0.0.0", None, True)


def test_cli_refuses_a_public_address_without_token(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "facepush",
            "receiver",
            "serve",
            "--listen",
            "0.0.0.0:0",
            "--data",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "refusing to listen on 0.0.0.0 without --token" in result.stderr
    assert "listening" not in result.stdout


async def test_reference_library_signatures_are_accepted(serve: Serve, store: Store) -> None:
    rx = await serve(signing_secret=SECRET)
    raw = body(recognition("signed"))
    now = datetime.now(tz=UTC)
    headers = {
        "webhook-id": "r:signed",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(SECRET).sign("r:signed", now, raw.decode()),
    }
    status, reply = await rx.push(raw, headers)
    assert (status, reply["code"]) == (200, 200)

    unsigned = body(recognition("unsigned"))
    status, reply = await rx.push(unsigned)
    assert status == 401 and reply["code"] == 401
    assert reply["msg"] == "signature: missing webhook-id header (the push is not signed)"

    forged = {**headers, "webhook-id": "r:other"}
    other = body(recognition("other"))
    status, reply = await rx.push(other, forged)
    assert status == 401 and "does not match" in reply["msg"]

    wrong = Webhook("whsec_" + base64.b64encode(b"another-secret-0123456789abcdef").decode())
    headers_wrong = {**headers, "webhook-signature": wrong.sign("r:signed", now, raw.decode())}
    status, reply = await rx.push(raw, headers_wrong)
    assert status == 401 and "does not match" in reply["msg"]

    # Not from a terminal of this site: counted by reason, never stored (issue 10).
    assert store.quarantine(None, 10) == []
    assert store.stats()["recognitions"] == 1
    async with rx.session.get(rx.url + "/metrics") as resp:
        text = await resp.text()
    assert 'facepush_receiver_signature_failures_total{reason="missing"} 1' in text
    assert 'facepush_receiver_signature_failures_total{reason="mismatch"} 2' in text


async def test_an_unusable_signing_secret_is_refused_at_start(store: Store) -> None:
    from facepush.receiver import create_app
    from tests.support.receiver import configured

    with pytest.raises(ReceiverConfigError, match="--signing-secret"):
        create_app(configured(store.url, signing_secret="whsec_"), store)


async def test_a_browser_opening_the_dashboard_gets_a_page(serve: Serve) -> None:
    """GET / from a browser without the right token: the same 401, as a page a person can
    read; API endpoints (and clients that do not ask for HTML) keep the JSON envelope."""
    rx = await serve(token=TOKEN)
    browser = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    for params, reason in (({}, "a token is required"), ({"token": "nope"}, "the token is wrong")):
        async with rx.session.get(rx.url + "/", params=params, headers=browser) as resp:
            assert resp.status == 401 and resp.content_type == "text/html"
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
            page = await resp.text()
        assert "Access refused: open <code>/?token=…</code> with the receiver's token" in page
        assert reason in page and TOKEN not in page
    for path, headers in (
        ("/", {"Accept": "application/json"}),
        ("/", {"Accept": "text/html;q=0"}),
        ("/", {}),
        ("/api/events", browser),
        ("/static/js/main.js", browser),
    ):
        async with rx.session.get(rx.url + path, headers=headers) as resp:
            assert resp.status == 401 and resp.content_type == "application/json", path
            assert (await resp.json())["code"] == 401
    async with rx.session.get(rx.url + "/", params={"token": TOKEN}, headers=browser) as resp:
        assert resp.status == 200 and "<title>Access refused" not in await resp.text()
