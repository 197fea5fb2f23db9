"""`TerminalClient`: talk to a terminal's Web API the way the real terminal wants.

It logs in with `POST /v1/auth/login` and renews the JWT before it expires (or uses HTTP
Basic with `auth="basic"`), trusts a private CA with `ca=` or skips verification only with
`insecure=True`, and turns every failure into a `ClientError` a person can act on.

    async with TerminalClient("https://10.0.0.5:8000", username="admin", password="...",
                              ca="terminal-ca.pem") as terminal:
        await terminal.subscribe("http://10.0.0.2:8080/Record")
        print(await terminal.subscription())
"""

from __future__ import annotations

import base64
import ssl
import time
from types import TracebackType
from typing import Any, Literal

import aiohttp
import msgspec

from facepush.errors import (
    AuthenticationError,
    BadResponse,
    TerminalRefused,
    TerminalUnreachable,
    TLSError,
)
from facepush.protocol import Subscription
from facepush.protocol.jsontext import dump_json
from facepush.tls import client_context

TOKEN_MINUTES = 60  # what we ask for (the vendor allows 1-1440)
RENEW_BEFORE_S = 60  # renew a token this long before it expires
_AUTH_CODES = {401, 1000, 1001}


class TerminalClient:
    """An async client for one terminal (`base_url` like `http://127.0.0.1:8000`)."""

    def __init__(
        self,
        base_url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        auth: Literal["jwt", "basic"] = "jwt",
        ca: str | None = None,
        insecure: bool = False,
        timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self.auth = auth
        self._ssl: ssl.SSLContext | None = (
            client_context(ca, insecure) if self.base_url.startswith("https:") else None
        )
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._token_expires = 0.0

    async def __aenter__(self) -> TerminalClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- the vendor's API -------------------------------------------------------------

    async def login(self, valid_minutes: int = TOKEN_MINUTES) -> str:
        """Log in and keep the JWT; returns it. Raises AuthenticationError on refusal."""
        if not self.username:
            raise AuthenticationError(
                f"{self.base_url}: a login needs --username and --password", 401
            )
        body = {
            "username": self.username,
            "password": self.password or "",
            "validTime": valid_minutes,
        }
        data = await self._call("POST", "/v1/auth/login", body, authenticate=False)
        token = data.get("token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise BadResponse(f"{self.base_url}: login reply has no data.token")
        self._token = token
        self._token_expires = time.monotonic() + valid_minutes * 60
        return token

    async def subscription(self) -> Subscription | None:
        """The push configuration, or None when the terminal was never configured."""
        data = await self._call("GET", "/v1/event/subscribe")
        if data is None:
            return None
        try:
            return msgspec.convert(data, Subscription)
        except msgspec.ValidationError as exc:
            raise BadResponse(
                f"{self.base_url}: unexpected configuration {data!r}: {exc}"
            ) from None

    async def subscribe(self, dest: str, enabled: bool = True) -> Subscription:
        """Set the push configuration; returns it as the terminal now reports it."""
        await self._call("POST", "/v1/event/subscribe", {"event_dest": dest, "enabled": enabled})
        current = await self.subscription()
        if current is None:
            raise BadResponse(f"{self.base_url}: configuration was accepted but reads back empty")
        return current

    # --- facepush's own terminal endpoints ------------------------------------------------

    async def push_records(self, envelopes: list[dict[str, Any]]) -> dict[str, Any]:
        """Hand records to the terminal's push service (`POST /push/records`)."""
        data = await self._call("POST", "/push/records", envelopes)
        return data if isinstance(data, dict) else {}

    async def status(self) -> dict[str, Any]:
        data = await self._call("GET", "/push/status")
        return data if isinstance(data, dict) else {}

    # --- plumbing -----------------------------------------------------------------------

    async def _call(
        self, method: str, path: str, body: Any = None, *, authenticate: bool = True
    ) -> Any:
        reply = await self._request(method, path, body, authenticate)
        if authenticate and reply.get("code") == 401 and self.auth == "jwt" and self._token:
            self._token = None  # expired or revoked: log in again once
            reply = await self._request(method, path, body, authenticate)
        raw_code, msg = reply.get("code"), str(reply.get("msg") or reply.get("message") or "")
        code = raw_code if isinstance(raw_code, int) else -1
        if code == 200:
            return reply.get("data")
        if code in _AUTH_CODES:
            raise AuthenticationError(self._auth_message(code, msg), code)
        raise TerminalRefused(
            f"{self.base_url}{path}: refused with code {raw_code}: {msg}", code, msg
        )

    async def _request(
        self, method: str, path: str, body: Any, authenticate: bool
    ) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if authenticate:
            headers.update(await self._auth_headers())
        url = self.base_url + path
        data = None if body is None else dump_json(body)
        try:
            async with self._client().request(method, url, data=data, headers=headers) as resp:
                raw = await resp.read()
                status = resp.status
        except aiohttp.ClientConnectorCertificateError as exc:
            raise TLSError(
                f"{url}: the terminal's certificate is not trusted ({exc.certificate_error}); "
                "pass --ca FILE with the CA that signed it, or --insecure to skip the check"
            ) from None
        except aiohttp.ClientSSLError as exc:
            raise TLSError(f"{url}: TLS handshake failed ({exc}); is it really https?") from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise TerminalUnreachable(
                f"{url}: no answer ({type(exc).__name__}: {exc or 'timed out'}); "
                "check the address and port and that the terminal is on"
            ) from None
        try:
            reply = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            reply = None
        if not isinstance(reply, dict) or "code" not in reply:
            raise BadResponse(
                f"{url}: HTTP {status} with a reply that is not the terminal's "
                f"{{code, msg, data}} envelope: {raw[:120]!r}"
            )
        return reply

    async def _auth_headers(self) -> dict[str, str]:
        if not self.username:
            return {}
        if self.auth == "basic":
            pair = f"{self.username}:{self.password or ''}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
        if self._token is None or time.monotonic() > self._token_expires - RENEW_BEFORE_S:
            await self.login()
        return {"Authorization": f"Bearer {self._token}"}

    def _auth_message(self, code: int, msg: str) -> str:
        who = self.username or "(no username)"
        if code == 1000:
            return f"{self.base_url}: account {who!r} does not exist on the terminal ({msg})"
        if code == 1001:
            return f"{self.base_url}: wrong password for account {who!r} ({msg})"
        if not self.username:
            return f"{self.base_url}: the terminal requires a login; pass --username and --password"
        return f"{self.base_url}: not authorised as {who!r} ({msg})"

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(ssl=self._ssl if self._ssl is not None else True)
            self._session = aiohttp.ClientSession(timeout=self._timeout, connector=connector)
        return self._session
