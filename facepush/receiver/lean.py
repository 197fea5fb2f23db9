"""The lean HTTP/1.1 path of the push endpoint: plain pushes answered without aiohttp.

aiohttp's request path (request and response objects, middlewares, signals, the writer)
took about 100 µs of the receiver's ~220 µs of CPU per stored push, on the one thread that
holds the GIL (profile in docs/benchmarks.md); a protocol that parses the head itself
takes a few. So every connection starts here, and a request is taken here only when it is
a *plain push*:

- `POST <push path> HTTP/1.1`, then `token: value` lines of printable ASCII ending in
  CRLF (_PLAIN_HEAD): no control byte, no bare CR or LF, no folded or overlong line;
- exactly one Content-Length, at most SMALL_BODY and `--max-body`; no Transfer-Encoding,
  Content-Encoding, Expect, Upgrade or Origin (a browser's request gets the site policy's
  whole check);
- a Host the site policy accepts on sight, at most one; `Connection` absent, keep-alive or
  close;
- room in the small body budget right now; no `--signing-secret` and no fault injection.

Anything else hands the connection, from the first byte of that request on, to aiohttp for
good, which answers it and whatever follows with all of its rules. So the lean path never
answers a request differently from aiohttp: it only takes the common case faster. What a
push is answered (stored, refused, quarantined) is PushHandler.accept's either way.

Time bounds are the guard's: its header timer runs until a head is complete; one sweep a
second ends a lean request still unanswered after `request_timeout` (408), closes a
connection whose next head (begun while the last push was answered) is not whole after
`header_timeout`, and one idle for `keepalive_s` after its last answer (as aiohttp does
after 75 s). A client that does not read its answers is not read from (pause_writing), and
`drain()` lets the pushes being stored be answered before a shutdown closes connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from facepush.guard import ConnectionGuard
from facepush.metrics import metric
from facepush.protocol import failure_reply
from facepush.protocol.times import now_ms
from facepush.receiver.budget import SMALL_BODY
from facepush.receiver.push import Answer, Arrival, PushHandler
from facepush.sitepolicy import DEFAULT_CSP, SitePolicy

log = logging.getLogger("facepush.receiver")

MAX_HEAD = 16 * 1024  # a push's head is a few hundred bytes; past this aiohttp decides
KEEPALIVE_S = 75.0  # aiohttp's keepalive_timeout (Tuning.lean_keepalive_s)
SWEEP_S = 1.0
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 408: "Request Timeout"}
_REASONS |= {413: "Payload Too Large", 500: "Internal Server Error", 503: "Service Unavailable"}
_REFUSED_NAMES = frozenset(
    {b"transfer-encoding", b"content-encoding", b"expect", b"upgrade", b"origin"}
)
# The only heads taken here: the request line, then `token: value` lines of printable ASCII
# and tabs. A control byte (a bare CR or LF, NUL), a byte above 0x7e or a name that is not
# a token makes aiohttp the judge: it refuses what it must, so that no proxy in front can
# frame a request differently from us.
_PLAIN_HEAD = re.compile(
    rb"POST [\x21-\x7e]+ HTTP/1\.1(?:\r\n[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e]*)*"
)
_MAX_LINE = 8190  # aiohttp's max_line_size and max_field_size
_MAX_LENGTH_DIGITS = 18
_BARE_LF = re.compile(rb"(?<!\r)\n")
_NO_HEADERS: dict[str, str] = {}
Factory = Callable[[], Any]


@dataclass(frozen=True, slots=True)
class Head:
    """A plain push's head: its body length, and whether to close after the answer."""

    length: int
    close: bool


def plain_push(head: bytes, path: bytes, policy: SitePolicy, max_body: int) -> Head | None:
    """The head (without its blank line) of a plain push to `path`, or None when the request
    is anything else (aiohttp then takes it)."""
    if not _PLAIN_HEAD.fullmatch(head):
        return None
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or parts[0] != b"POST" or parts[2] != b"HTTP/1.1":
        return None
    if parts[1].partition(b"?")[0] != path:
        return None
    length: int | None = None
    host: str | None = None
    close = False
    for line in lines[1:]:
        if len(line) > _MAX_LINE:
            return None
        name, _colon, value = line.partition(b":")
        name = name.lower()
        value = value.strip(b" \t")
        if name == b"content-length":
            if length is not None or not value.isdigit() or len(value) > _MAX_LENGTH_DIGITS:
                return None
            length = int(value)
        elif name == b"host":
            if host is not None:
                return None
            host = value.decode("latin-1")
        elif name == b"connection":
            token = value.lower()
            if token not in (b"close", b"keep-alive"):
                return None
            close = close or token == b"close"  # any `close` closes, as in aiohttp
        elif name in _REFUSED_NAMES:
            return None
    if length is None or length > SMALL_BODY or length > max_body:
        return None
    if not policy.host_allowed(host):
        return None
    return Head(length, close)


class LeanPush:
    """The lean path of one receiver app: `front(guard)` wraps aiohttp's protocol factory
    (pass it to guard.listen); `start` and `stop` run the sweep."""

    def __init__(
        self,
        push: PushHandler,
        path: str,
        policy: SitePolicy,
        extra_headers: list[tuple[str, str]],
        keepalive_s: float = KEEPALIVE_S,
    ) -> None:
        self.push = push
        self.path = path.encode()
        self.policy = policy
        self.keepalive_s = keepalive_s
        self.guard: ConnectionGuard | None = None
        self.connections: set[LeanConnection] = set()
        self.answering: set[asyncio.Task[None]] = set()  # pushes being stored now
        self.taken = 0  # requests answered on the lean path
        self.handed = 0  # connections handed to aiohttp
        push.metrics.sections.append(self._metrics)
        self._sweeper: asyncio.Task[None] | None = None
        fixed = [
            ("Content-Type", "application/json"),
            ("X-Content-Type-Options", "nosniff"),
            ("X-Frame-Options", "DENY"),
            ("Content-Security-Policy", DEFAULT_CSP),
            *extra_headers,
        ]
        self._fixed = "".join(f"{k}: {v}\r\n" for k, v in fixed).encode("latin-1")
        self._date = (0, b"")

    def front(self, guard: ConnectionGuard) -> Callable[[Factory], Factory]:
        self.guard = guard
        return lambda inner: lambda: LeanConnection(inner(), self)

    def start(self) -> None:
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait (at most `timeout` s) for the pushes being stored to be answered: run it
        before the runner's cleanup, which closes the connections it sees as idle."""
        if self.answering:
            await asyncio.wait(set(self.answering), timeout=timeout)

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper

    def reply(self, answer: Answer, close: bool) -> bytes:
        head = f"HTTP/1.1 {answer.status} {_REASONS.get(answer.status, 'Error')}\r\n"
        return b"".join(
            (
                head.encode(),
                self._fixed,
                b"Date: %s\r\nContent-Length: %d\r\n" % (self._now(), len(answer.body)),
                b"Connection: close\r\n\r\n" if close else b"\r\n",
                answer.body,
            )
        )

    def _metrics(self) -> str:
        return metric(
            "facepush_receiver_lean_pushes_total",
            "counter",
            "Pushes answered on the lean HTTP path (receiver/lean.py); the rest by aiohttp.",
            self.taken,
        ) + metric(
            "facepush_receiver_lean_handovers_total",
            "counter",
            "Connections handed to aiohttp by a request that is not a plain push.",
            self.handed,
        )

    def _now(self) -> bytes:
        second = int(time.time())
        if self._date[0] != second:
            self._date = (second, formatdate(second, usegmt=True).encode())
        return self._date[1]

    async def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(SWEEP_S)
            now = loop.time()
            guard = self.guard or ConnectionGuard()
            limits = (guard.request_timeout, guard.header_timeout, self.keepalive_s)
            for connection in list(self.connections):
                connection.check(now, limits)


class LeanConnection(asyncio.Protocol):
    """One connection: plain pushes answered here, one at a time, until a request that is
    not one hands the connection (and that request's bytes) to aiohttp's protocol."""

    def __init__(self, inner: Any, lean: LeanPush) -> None:
        self.inner = inner
        self.lean = lean
        self.transport: asyncio.Transport | None = None
        self.source: str | None = None
        self.buffer = bytearray()
        self.writing = True  # False while the client does not read its answers
        self.scanned = 0  # bytes of the buffer known to hold no end of a head
        self.handed = False
        self.head: Head | None = None  # of the request being received or answered
        self.task: asyncio.Task[None] | None = None
        self.started = 0.0  # loop time its head was complete; or of the last answer
        self.received_at = 0
        self.guarded: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.source = str(peer[0]) if isinstance(peer, tuple) and peer else None
        guard = self.lean.guard
        self.guarded = guard.connections.get(transport) if guard else None
        self.started = asyncio.get_running_loop().time()
        self.lean.connections.add(self)
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self.handed:
            self.inner.data_received(data)
            return
        if not self.buffer and self.head is None and self.task is None:
            self.started = asyncio.get_running_loop().time()  # a head begins: its time runs
        self.buffer += data
        if self.task is None and self.writing:
            self._next()
        elif len(self.buffer) > SMALL_BODY + MAX_HEAD and self.transport is not None:
            self.transport.pause_reading()  # a client far ahead of its answers waits

    def eof_received(self) -> bool | None:
        return bool(self.inner.eof_received())

    def connection_lost(self, exc: Exception | None) -> None:
        self.lean.connections.discard(self)
        self.transport = None
        if self.head is not None and self.task is None:  # gone in the middle of a body
            self.lean.push.budget.small.release(self.head.length)
            self.head = None
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        # The client does not read its answers: take no more requests until it does (as
        # aiohttp, waiting in drain()), so that answers cannot pile up in memory.
        self.writing = False
        if not self.handed and self.transport is not None:
            self.transport.pause_reading()
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.writing = True
        self.inner.resume_writing()
        if not self.handed and self.transport is not None:
            self.transport.resume_reading()
            if self.task is None:
                self._next()

    def _next(self) -> None:
        """Take the next request in the buffer, if its head (and body) are here."""
        buffer = self.buffer
        if self.head is None:
            end = buffer.find(b"\r\n\r\n", self.scanned)
            if end < 0:
                # A line not ended by CRLF is aiohttp's to judge. (A head trickled in byte
                # by byte is searched once, not once a byte.)
                if len(buffer) > MAX_HEAD or _BARE_LF.search(buffer, max(0, self.scanned - 1)):
                    self._hand_over()
                self.scanned = max(0, len(buffer) - 3)
                return
            if end > MAX_HEAD:
                self._hand_over()
                return
            lean = self.lean
            head = plain_push(
                bytes(buffer[:end]), lean.path, lean.policy, lean.push.settings.max_body
            )
            if head is None or not lean.push.budget.small.try_take(head.length):
                self._hand_over()
                return
            self.head, self.scanned = head, 0
            del buffer[: end + 4]
            self.received_at = now_ms()
            self.started = asyncio.get_running_loop().time()
            self.lean.push.metrics.received += 1
            if self.guarded is not None:
                self.guarded.request_started()
        length = self.head.length
        if len(buffer) < length:
            return  # the rest of the body comes later
        body = bytes(buffer[:length])
        del buffer[:length]
        self.task = asyncio.get_running_loop().create_task(self._answer(body, self.head))
        self.lean.answering.add(self.task)
        self.task.add_done_callback(self.lean.answering.discard)

    async def _answer(self, body: bytes, head: Head) -> None:
        push = self.lean.push
        try:
            arrival = Arrival(self.received_at, self.source)
            answer = await push.accept([body], len(body), arrival, _NO_HEADERS)
        except Exception as exc:  # a bug: answered 500 as aiohttp would, and logged
            log.exception("the lean push path failed")
            answer = Answer(500, failure_reply(500, f"internal error: {type(exc).__name__}"))
        finally:
            push.budget.small.release(head.length)
        self._send(answer, head.close)

    def _send(self, answer: Answer, close: bool) -> None:
        loop = asyncio.get_running_loop()
        self.lean.push.metrics.ack_latency.observe(loop.time() - self.started)
        self.lean.taken += 1
        self.head, self.task, self.started = None, None, loop.time()
        if self.guarded is not None:
            self.guarded.request_finished()
        transport = self.transport
        if transport is None:
            return  # the client went away; the record is stored all the same
        transport.write(self.lean.reply(answer, close))
        if close:
            transport.close()
            return
        if self.writing:  # (write() may just have paused writing: then resume_writing goes on)
            transport.resume_reading()
            if self.buffer:
                self._next()

    def _hand_over(self) -> None:
        self.handed = True
        self.lean.handed += 1
        self.lean.connections.discard(self)
        data, self.buffer = bytes(self.buffer), bytearray()
        if data:
            self.inner.data_received(data)

    def check(self, now: float, limits: tuple[float, float, float]) -> None:
        """The sweep, with (request, header, keep-alive) limits in seconds: a request
        unanswered too long gets 408 and the connection is closed; so is one idle too long,
        and one whose next head, begun while the last push was answered, is still not
        whole (the guard's header timer does not run while a request is in hand)."""
        request_s, header_s, keepalive_s = limits
        transport = self.transport
        if transport is None or self.handed:
            return
        if self.head is not None and now - self.started > request_s:
            if self.task is not None:
                self.task.cancel()  # (its record may still be committed; sent again: a duplicate)
            else:
                self.lean.push.budget.small.release(self.head.length)
                self.head = None
            text = f"request not completed within {request_s:g} s"
            self.transport = None
            transport.write(self.lean.reply(Answer(408, failure_reply(408, text)), close=True))
            transport.close()
        elif (
            self.head is None
            and self.task is None
            and now - self.started > (header_s if self.buffer else keepalive_s)
        ):
            transport.close()
