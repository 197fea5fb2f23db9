"""`TerminalClient`: talk to a terminal's Web API the way the real terminal wants.

It logs in with `POST /v1/auth/login` and renews the JWT before it expires (or uses HTTP
Basic with `auth="basic"`), trusts a private CA with `ca=` or skips verification only with
`insecure=True`, and turns every failure into a `ClientError` a person can act on.

    async with TerminalClient("https://10.0.0.5:8000", username="admin", password="...",
                              ca="terminal-ca.pem") as terminal:
        await terminal.subscribe("http://10.0.0.2:8080/Record")
        print(await terminal.subscription())
        async for item in terminal.history(since=1714521600):   # pages past 200 for you
            print(item["uuid"])
        clock = await terminal.time()                             # clock.offset_ms: its error
        async for event in terminal.events():                     # the live stream
            print(event["data"]["uuid"])
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
import time
from collections.abc import AsyncGenerator, Callable
from types import TracebackType
from typing import Any, Literal, TypeVar

import aiohttp
import msgspec

from facepush.errors import (
    AuthenticationError,
    BadResponse,
    TerminalRefused,
)
from facepush.live_client import open_stream
from facepush.protocol import Subscription
from facepush.protocol.device import DeviceInfo, DeviceTime
from facepush.protocol.history import MAX_LIMIT, HistoryQuery
from facepush.protocol.jsontext import dump_json
from facepush.terminal_types import HistoryPage, TerminalTime, history_batches, history_pages
from facepush.tls import client_context
from facepush.transport import connection_error

M = TypeVar("M", bound=msgspec.Struct)
TOKEN_MINUTES = 60  # what we ask for (the vendor allows 1-1440)
RENEW_BEFORE_S = 60  # renew a token this long before it expires
_AUTH_CODES = {401, 1000, 1001}
PING_PATH = "/v2/datasync/ping"
# A reply larger than this is refused: a history page of 200 records with 40 KB snapshots
# is about 8 MB, and a terminal must not make its client hold gigabytes.
MAX_REPLY_BYTES = 64 * 1024 * 1024
# A reply larger than this is parsed on a worker thread, not on the caller's event loop.
_THREAD_DECODE_BYTES = 256 * 1024


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

    async def history_page(self, query: HistoryQuery | None = None) -> HistoryPage:
        """One page of the terminal's history (`POST /v1/event/records`)."""
        data = await self._call("POST", "/v1/event/records", (query or HistoryQuery()).to_body())
        return HistoryPage.from_data(data, self.base_url)

    def history(
        self,
        *,
        since: int | None = None,
        until: int | None = None,
        user_id: str | None = None,
        job_number: str | None = None,
        ic_number: str | None = None,
        descending: bool = False,
        page_size: int = MAX_LIMIT,
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Every history item from `since` to `until` (Unix seconds, inclusive), oldest
        first (or newest first), paging past 200 items for you; one identity filter."""
        filters = {"user_id": user_id, "job_number": job_number, "ic_number": ic_number}
        field = next((name for name, value in filters.items() if value), None)
        first = HistoryQuery(
            begin_time=since,
            end_time=until,
            filter_field=field,
            filter_value=filters[field] if field else None,
            limit=page_size,
            descending=descending,
        )
        return history_pages(self.history_page, first)

    def history_batches(
        self, *, since: int | None = None, page_size: int = MAX_LIMIT
    ) -> AsyncGenerator[list[dict[str, Any]], None]:
        """Like `history` (oldest first, from `since`), one list of items per page: for a
        consumer that stores a page at a time (the receiver's reconciliation)."""
        return history_batches(self.history_page, HistoryQuery(begin_time=since, limit=page_size))

    async def info(self) -> DeviceInfo:
        """`GET /v1/device/info`: model, serial, addresses, versions."""
        return _convert(await self._call("GET", "/v1/device/info"), DeviceInfo, self.base_url)

    async def time(self, samples: int = 1) -> TerminalTime:
        """The terminal's clock and its offset from this machine's (ruling T1).

        The offset is `local_time` against this machine's clock at the moment of the
        reply, less half the round trip; with `samples` > 1 the request with the shortest
        round trip counts (as NTP does)."""
        await self._auth_headers()  # a login first, so it is not part of the round trip
        best: TerminalTime | None = None
        for _ in range(max(1, samples)):
            sent_at, started = time.time(), time.perf_counter()
            data = await self._call("GET", "/v1/device/time")
            rtt = time.perf_counter() - started
            clock = _convert(data, DeviceTime, self.base_url)
            midpoint_ms = (sent_at + rtt / 2) * 1000  # this machine's clock mid-way
            measured = TerminalTime.measured(clock, round(clock.local_time - midpoint_ms), rtt)
            if best is None or measured.rtt_ms < best.rtt_ms:
                best = measured
        assert best is not None
        return best

    async def set_time(
        self,
        *,
        local_time: int | None = None,
        manual_mode: bool | None = None,
        time_zone: int | None = None,
        server_address: str | None = None,
    ) -> TerminalTime:
        """`POST /v1/device/time` with the fields given (`local_time` in ms sets the clock
        with `manual_mode=True`); returns the clock as measured afterwards."""
        body = {
            name: value
            for name, value in [
                ("local_time", local_time),
                ("manual_mode", manual_mode),
                ("time_zone", time_zone),
                ("server_address", server_address),
            ]
            if value is not None
        }
        await self._call("POST", "/v1/device/time", body)
        return await self.time()

    async def ping(self) -> float:
        """`GET /v2/datasync/ping`; returns the round trip in seconds, raises ClientError
        when the terminal does not answer.

        It sends the credentials it has (HTTP Basic, or a JWT from an earlier call; ruling
        P1) but never logs in just to ping, so a wrong password does not make a terminal
        look down; only a terminal that refuses an unauthenticated ping gets a login."""
        ready = bool(self.username) and (self.auth == "basic" or self._token is not None)
        started = time.perf_counter()
        try:
            await self._call("GET", PING_PATH, authenticate=ready)
        except AuthenticationError:
            if ready or not self.username:
                raise
            await self._auth_headers()
            started = time.perf_counter()
            await self._call("GET", PING_PATH)
        return time.perf_counter() - started

    async def events(
        self, *, on_open: Callable[[], None] | None = None, heartbeat: float = 20.0
    ) -> AsyncGenerator[dict[str, Any], None]:
        """The live stream (`GET /v1/event` as WebSocket): each message `{"type": 0,
        "data": {...}}` as it happens; `on_open` is called once connected. Raises
        StreamClosed when the terminal ends it (it went away, or dropped this client for
        falling behind); events meanwhile are not replayed (page `history` for them)."""
        headers = await self._auth_headers()
        timeout = self._timeout.total or 10.0
        stream = open_stream(self.base_url, headers, self._ssl, timeout, heartbeat, on_open)
        async with contextlib.aclosing(stream):  # closed with this generator, not by GC
            async for message in stream:
                yield message

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
                raw = await _read_bounded(resp, url)
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise connection_error(url, exc) from None
        if len(raw) > _THREAD_DECODE_BYTES:
            reply = await asyncio.to_thread(_decode, raw)
        else:
            reply = _decode(raw)
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


async def _read_bounded(resp: aiohttp.ClientResponse, url: str) -> bytes:
    if resp.content_length is not None and resp.content_length > MAX_REPLY_BYTES:
        raise BadResponse(
            f"{url}: a reply of {resp.content_length} bytes; at most {MAX_REPLY_BYTES}"
        )
    parts: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(1024 * 1024):
        size += len(chunk)
        if size > MAX_REPLY_BYTES:
            raise BadResponse(f"{url}: a reply of more than {MAX_REPLY_BYTES} bytes")
        parts.append(chunk)
    return b"".join(parts)


def _decode(raw: bytes) -> Any:
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None


def _convert(data: Any, model: type[M], where: str) -> M:
    try:
        return msgspec.convert(data, model)
    except msgspec.ValidationError as exc:
        raise BadResponse(f"{where}: unexpected {model.__name__} {data!r:.200}: {exc}") from None
