"""The push endpoint (`POST /Record`): read, verify, decode, store, acknowledge.

The reply comes only after the record is committed durably (ruling 2 of
docs/protocol-rulings.md). Whatever is refused is kept in the quarantine (a prefix of its
body, its size and sha256) before the refusal is sent, so that not even a malformed push is
silently lost; a push with a missing or wrong signature is only counted (with
`--signing-secret` it is not from a terminal of this site). When the store cannot write,
the answer is 503: the terminal keeps the record and retries.

One push never holds up the others: its body takes budget (budget.py) before it is read, and
a body above OFF_LOOP_BYTES is verified, decoded and hashed on a thread of its own, so that
the event loop keeps serving every other push meanwhile.

The handler is one plain aiohttp handler, so that a middleware (e.g. fault injection) can
wrap it by path.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web

from facepush.errors import Busy, DecodeError, RecordRejected, SignatureError, StoreUnavailable
from facepush.protocol import decode_push, failure_reply, success_reply
from facepush.protocol.signing import check_headers, verify
from facepush.protocol.times import now_ms
from facepush.receiver import quarantine
from facepush.receiver.budget import BodyBudget, Grant
from facepush.receiver.ingest import Writer
from facepush.receiver.metrics import ReceiverMetrics
from facepush.receiver.records import incoming
from facepush.receiver.store import Incoming, Refused, StoreOutcome

T = TypeVar("T")
_JSON = "application/json"
# Above this a body is verified, decoded and hashed off the event loop (a 256 KiB body
# decodes in well under a millisecond; a 15 MiB one takes tens of them).
OFF_LOOP_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class PushSettings:
    max_body: int
    late_after_ms: int
    signing_key: bytes | None
    quarantine_prefix: int = 4096


@dataclass(frozen=True, slots=True)
class Arrival:
    received_at: int
    source: str | None


@dataclass(frozen=True, slots=True)
class Answer:
    """What a push is answered: the HTTP status and the JSON body (whichever HTTP path,
    aiohttp's or the lean one of lean.py, writes it)."""

    status: int
    body: bytes


_STORED = Answer(200, success_reply())


class PushHandler:
    def __init__(
        self,
        writer: Writer,
        metrics: ReceiverMetrics,
        settings: PushSettings,
        budget: BodyBudget | None = None,
    ) -> None:
        self.writer = writer
        self.metrics = metrics
        self.settings = settings
        self.budget = budget or BodyBudget()
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="facepush-decode")
        metrics.body_bytes = lambda: self.budget.in_use

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    async def handle(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        self.metrics.received += 1
        try:
            return await self._handle(request)
        finally:
            self.metrics.ack_latency.observe(time.perf_counter() - started)

    async def _handle(self, request: web.Request) -> web.Response:
        arrival = Arrival(now_ms(), request.remote)
        if self.settings.signing_key is not None:
            try:  # an unsigned or stale push is refused before its body is read
                check_headers(request.headers)
            except SignatureError as exc:
                response = _response(self._unsigned(exc))
                response.force_close()  # the body was not read
                return response
        length = request.content_length
        if length is not None and length > self.settings.max_body:
            length = self.settings.quarantine_prefix  # only the prefix is read
        grant = self.budget.grant(length)
        try:
            if length:
                await grant.extend(length)
            return await self._receive(request, arrival, grant)
        except Busy as exc:
            self.metrics.busy += 1
            response = _response(self._unavailable(exc))
            response.force_close()  # the body was not (all) read
            return response
        finally:
            grant.release()

    async def _receive(self, request: web.Request, arrival: Arrival, grant: Grant) -> web.Response:
        parts, size, complete = await _read_body(request, self.settings, grant)
        if not complete:
            body = b"".join(parts)
            limit = self.settings.max_body
            text = f"body: larger than the limit of {limit} bytes (--max-body)"
            kept = quarantine.refused(
                body,
                reason="too_large",
                error=text,
                received_at=arrival.received_at,
                source=arrival.source,
                prefix=self.settings.quarantine_prefix,
                truncated_at=size,
            )
            response = _response(await self._keep(413, text, kept))
            # The rest of the body was not read: the connection cannot be reused.
            response.force_close()
            return response
        return _response(await self.accept(parts, size, arrival, request.headers))

    async def accept(
        self, parts: list[bytes], size: int, arrival: Arrival, headers: Mapping[str, str]
    ) -> Answer:
        """A whole body (as the chunks it came in, `size` bytes): verified, decoded,
        stored; the answer to send. Whatever refusal it gets is quarantined first."""
        large = size > OFF_LOOP_BYTES
        body, item = await self._off_loop(large, lambda: self._prepare(headers, parts, arrival))
        if isinstance(item, SignatureError):
            return self._unsigned(item)
        if isinstance(item, DecodeError):
            return await self._refuse(400, "bad_request", str(item), body, arrival, large)
        try:
            outcome = await self.writer.submit(item)
        except StoreUnavailable as exc:
            return self._unavailable(exc)
        except RecordRejected as exc:
            return await self._refuse(400, "rejected", str(exc), body, arrival, large)
        if outcome is StoreOutcome.STORED:
            self.metrics.stored += 1
            return _STORED
        self.metrics.duplicates += 1
        if outcome is StoreOutcome.CONFLICT:
            return await self._conflict(item, body, arrival, large)
        return _STORED

    def _prepare(
        self, headers: Mapping[str, str], parts: list[bytes], arrival: Arrival
    ) -> tuple[bytes, Incoming | SignatureError | DecodeError]:
        """Join, verify and decode (on a thread for a large body): the body, and its row
        or why not.

        The error is returned, not raised, and without its traceback and context: those
        hold the decoder's frames and with them the body and its parsed value, which would
        then live until the cyclic garbage collector runs (15 MiB bodies piled up to 800 MB
        that way)."""
        body = b"".join(parts)
        try:
            if self.settings.signing_key is not None:
                verify(self.settings.signing_key, headers, body)
            push = decode_push(body)
        except (SignatureError, DecodeError) as exc:
            exc.__traceback__ = exc.__context__ = exc.__cause__ = None
            return body, exc
        item = incoming(
            push,
            source=arrival.source,
            received_at=arrival.received_at,
            late_after_ms=self.settings.late_after_ms,
        )
        return body, item

    async def _off_loop(self, large: bool, func: Callable[[], T]) -> T:
        if not large:
            return func()
        return await asyncio.get_running_loop().run_in_executor(self.pool, func)

    async def _conflict(self, item: Incoming, body: bytes, arrival: Arrival, large: bool) -> Answer:
        """A repeat of a stored key with other content: acknowledged, so that the terminal
        stops sending it, and kept in the quarantine so that it is seen."""
        self.metrics.conflicts += 1
        text = (
            f"{item.key}: already stored with other content; the stored record is kept "
            "and this push was acknowledged without storing it"
        )
        kept = await self._off_loop(large, lambda: self._refused(body, "conflict", text, arrival))
        try:
            await self.writer.submit(kept)
        except (StoreUnavailable, RecordRejected) as exc:
            return self._unavailable(exc)  # not kept: the terminal sends it again
        return _STORED

    async def _refuse(
        self, status: int, reason: str, text: str, body: bytes, arrival: Arrival, large: bool
    ) -> Answer:
        kept = await self._off_loop(large, lambda: self._refused(body, reason, text, arrival))
        return await self._keep(status, text, kept)

    def _refused(self, body: bytes, reason: str, text: str, arrival: Arrival) -> Refused:
        return quarantine.refused(
            body,
            reason=reason,
            error=text,
            received_at=arrival.received_at,
            source=arrival.source,
            prefix=self.settings.quarantine_prefix,
        )

    async def _keep(self, status: int, text: str, kept: Refused) -> Answer:
        self.metrics.refused[kept.reason] += 1
        try:
            await self.writer.submit(kept)
        except (StoreUnavailable, RecordRejected) as exc:
            # Not kept: answer 503 so that the terminal keeps the push and sends it again.
            return self._unavailable(exc)
        self.metrics.quarantined += 1
        return Answer(status, failure_reply(status, text))

    def _unsigned(self, exc: SignatureError) -> Answer:
        """Not from a terminal of this site: counted by reason, not kept (anyone could fill
        the quarantine otherwise)."""
        self.metrics.refused["signature"] += 1
        self.metrics.signature_failures[exc.reason] += 1
        text = f"signature: {exc}"
        return Answer(401, failure_reply(401, text))

    def _unavailable(self, exc: Exception) -> Answer:
        self.metrics.unavailable += 1
        text = f"storage unavailable, push again later: {exc}"
        if isinstance(exc, Busy):
            text = str(exc)
        return Answer(503, failure_reply(503, text))


def _response(answer: Answer) -> web.Response:
    return web.Response(body=answer.body, status=answer.status, content_type=_JSON)


async def _read_body(
    request: web.Request, settings: PushSettings, grant: Grant
) -> tuple[list[bytes], int, bool]:
    """The body as the chunks it arrived in (joined later, off the loop when large), its
    size, and whether it is complete. A body declared larger than `max_body` is read no
    further than its prefix (its size is the declared one); one without a declared length
    takes budget as it arrives, and past `max_body` only its prefix is kept (its size: what
    was read). Not request.read(): that caches the body on the request, which aiohttp keeps
    while the connection stays open, so that idle keep-alive connections held on to the
    bodies of their last pushes (800 MB of them, measured)."""
    limit = settings.max_body
    length = request.content_length
    if request.body_exists and not request.can_read_body:
        body = await request.read()  # a middleware read it already (fault injection)
        return [body], len(body), True
    if length is not None and length > limit:
        return [await _prefix(request, settings.quarantine_prefix)], length, False
    parts: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = await request.content.readany()
        if not chunk:
            return parts, size, True  # (shorter than declared: the client went away)
        if length is None:
            await grant.extend(len(chunk))
        parts.append(chunk)
        size += len(chunk)
    return [_head(parts, settings.quarantine_prefix)], size, False


def _head(parts: list[bytes], n: int) -> bytes:
    """The first `n` bytes of the chunks, without joining all of them."""
    taken: list[bytes] = []
    size = 0
    for part in parts:
        if size >= n:
            break
        taken.append(part[: n - size])
        size += len(taken[-1])
    return b"".join(taken)


async def _prefix(request: web.Request, n: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    while size < n:
        chunk = await request.content.read(n - size)
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)
