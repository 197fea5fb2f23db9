"""TerminalClient against the terminal emulator: logins, TLS trust, and every error path."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from facepush.client import TerminalClient
from facepush.errors import (
    AuthenticationError,
    BadResponse,
    TerminalRefused,
    TerminalUnreachable,
    TLSError,
)
from facepush.protocol import Subscription
from tests.support.processes import free_port
from tests.support.terminals import PASSWORD, USERNAME, Terminal

DEST = "http://127.0.0.1:9/Record"


def _client(terminal: Terminal, **kwargs: object) -> TerminalClient:
    options: dict[str, object] = {"username": USERNAME, "password": PASSWORD}
    options.update(kwargs)
    if terminal.ca_file and "insecure" not in kwargs and "ca" not in kwargs:
        options["ca"] = str(terminal.ca_file)
    return TerminalClient(terminal.url, **options)  # type: ignore[arg-type]


async def test_jwt_login_over_https_sets_and_reads_the_configuration(
    secure_terminal: Terminal,
) -> None:
    async with _client(secure_terminal) as terminal:
        config = await terminal.subscribe(DEST, enabled=False)
        assert config == Subscription(event_dest=DEST, enabled=False)
        assert await terminal.subscription() == config
        assert terminal._token is not None  # it logged in for a JWT


async def test_basic_auth_works(secure_terminal: Terminal) -> None:
    async with _client(secure_terminal, auth="basic") as terminal:
        assert (await terminal.subscribe(DEST)).enabled is True
        assert terminal._token is None


async def test_token_is_renewed_before_it_expires(secure_terminal: Terminal) -> None:
    async with _client(secure_terminal) as terminal:
        first = await terminal.login(valid_minutes=1)
        terminal._token_expires = time.monotonic() + 5  # within the renewal margin
        time.sleep(1.1)  # a new token has a new iat
        await terminal.subscription()
        assert terminal._token is not None and terminal._token != first


async def test_a_revoked_token_is_replaced_once(secure_terminal: Terminal) -> None:
    async with _client(secure_terminal) as terminal:
        terminal._token, terminal._token_expires = "not-a-jwt", time.monotonic() + 3600
        assert await terminal.subscription() is not None
        assert terminal._token != "not-a-jwt"


@pytest.mark.parametrize(
    ("username", "password", "code", "message"),
    [
        ("nobody", PASSWORD, 1000, "account 'nobody' does not exist on the terminal"),
        (USERNAME, "wrong", 1001, "wrong password for account 'admin'"),
        (None, None, 401, "the terminal requires a login; pass --username and --password"),
    ],
)
async def test_refused_credentials_are_named(
    secure_terminal: Terminal, username: str | None, password: str | None, code: int, message: str
) -> None:
    for auth in ("jwt", "basic"):
        async with _client(secure_terminal, username=username, password=password, auth=auth) as t:
            with pytest.raises(AuthenticationError) as err:
                await t.subscription()
        assert err.value.code == code
        assert message in str(err.value)


async def test_untrusted_certificate_says_what_to_do(secure_terminal: Terminal) -> None:
    async with TerminalClient(secure_terminal.url, username=USERNAME, password=PASSWORD) as t:
        with pytest.raises(TLSError, match="pass --ca FILE .* or --insecure"):
            await t.subscription()
    async with _client(secure_terminal, insecure=True) as t:
        assert await t.subscription() is not None


async def test_https_to_a_plain_http_terminal_is_a_tls_error(plain_terminal: Terminal) -> None:
    url = plain_terminal.url.replace("http://", "https://")
    async with TerminalClient(url, insecure=True) as t:
        with pytest.raises((TLSError, TerminalUnreachable)):
            await t.subscription()


async def test_unreachable_terminal() -> None:
    async with TerminalClient(f"http://127.0.0.1:{free_port()}", timeout=2) as t:
        with pytest.raises(TerminalUnreachable, match="no answer .* check the address and port"):
            await t.subscription()


async def test_the_terminals_refusal_carries_its_code_and_msg(plain_terminal: Terminal) -> None:
    async with TerminalClient(plain_terminal.url) as t:
        before = await t.subscription()
        with pytest.raises(TerminalRefused) as err:
            await t.subscribe("file:///etc/passwd")
        assert "event_dest" in err.value.msg
        assert err.value.code != 200
        assert await t.subscription() == before  # nothing changed


@pytest.fixture
async def not_a_terminal() -> AsyncIterator[str]:
    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<html>router login</html>", content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", page)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_something_that_is_not_a_terminal(not_a_terminal: str) -> None:
    async with TerminalClient(not_a_terminal) as t:
        with pytest.raises(BadResponse, match=r"not the terminal's \{code, msg, data\} envelope"):
            await t.subscription()
