"""The push endpoint (`POST /Record`): read, verify, decode, store, acknowledge.

The reply comes only after the record is committed durably (ruling 2 of
docs/protocol-rulings.md). Whatever is refused is kept in the quarantine table with its raw
body before the refusal is sent, so that not even a malformed push is silently lost. When
the store cannot write, the answer is 503: the terminal keeps the record and retries.

The handler is one plain aiohttp handler, so that a middleware (e.g. fault injection) can
wrap it by path.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from aiohttp import web

from facepush.errors import DecodeError
from facepush.protocol import decode_push, failure_reply, success_reply
from facepush.protocol.signing import SignatureError, verify
from facepush.protocol.times import now_ms
from facepush.receiver.errors import RecordRejected, StoreUnavailable
from facepush.receiver.ingest import Writer
from facepush.receiver.metrics import ReceiverMetrics
from facepush.receiver.records import incoming
from facepush.receiver.store import Outcome, Refused

_JSON = "application/json"
_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class PushSettings:
    max_body: int
    late_after_ms: int
    signing_key: bytes | None


class PushHandler:
    def __init__(self, writer: Writer, metrics: ReceiverMetrics, settings: PushSettings) -> None:
        self.writer = writer
        self.metrics = metrics
        self.settings = settings

    async def handle(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        self.metrics.received += 1
        try:
            return await self._handle(request)
        finally:
            self.metrics.ack_latency.observe(time.perf_counter() - started)

    async def _handle(self, request: web.Request) -> web.Response:
        received_at = now_ms()
        source = request.remote
        body, complete = await _read_body(request, self.settings.max_body)
        if not complete:
            limit = self.settings.max_body
            text = f"body: larger than the limit of {limit} bytes (--max-body)"
            response = await self._refuse(
                413, "too_large", text, body, received_at, source, truncated=True
            )
            # The rest of the body was not read: the connection cannot be reused.
            response.force_close()
            return response
        if self.settings.signing_key is not None:
            try:
                verify(self.settings.signing_key, request.headers, body)
            except SignatureError as exc:
                text = f"signature: {exc}"
                return await self._refuse(401, "signature", text, body, received_at, source)
        try:
            push = decode_push(body)
        except DecodeError as exc:
            return await self._refuse(400, "bad_request", str(exc), body, received_at, source)
        item = incoming(
            push,
            source=source,
            received_at=received_at,
            late_after_ms=self.settings.late_after_ms,
        )
        try:
            outcome = await self.writer.submit(item)
        except StoreUnavailable as exc:
            return self._unavailable(exc)
        except RecordRejected as exc:
            return await self._refuse(400, "rejected", str(exc), body, received_at, source)
        if outcome is Outcome.DUPLICATE:
            self.metrics.duplicates += 1
        else:
            self.metrics.stored += 1
        return web.Response(body=success_reply(), content_type=_JSON)

    async def _refuse(
        self,
        status: int,
        reason: str,
        text: str,
        body: bytes,
        received_at: int,
        source: str | None,
        *,
        truncated: bool = False,
    ) -> web.Response:
        self.metrics.refused[reason] += 1
        error = text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\0")
        kept = Refused(received_at, source, error, body, truncated)
        try:
            await self.writer.submit(kept)
        except (StoreUnavailable, RecordRejected) as exc:
            # Not kept: answer 503 so that the terminal keeps the push and sends it again.
            return self._unavailable(exc)
        self.metrics.quarantined += 1
        return web.Response(body=failure_reply(status, text), status=status, content_type=_JSON)

    def _unavailable(self, exc: Exception) -> web.Response:
        self.metrics.unavailable += 1
        text = f"storage unavailable, push again later: {exc}"
        return web.Response(body=failure_reply(503, text), status=503, content_type=_JSON)


async def _read_body(request: web.Request, limit: int) -> tuple[bytes, bool]:
    """The body, and whether it is complete; past `limit` only its first `limit` bytes."""
    length = request.content_length
    if length is not None and length <= limit:
        return await request.read(), True
    parts: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = await request.content.read(min(_CHUNK, limit + 1 - size))
        if not chunk:
            return b"".join(parts), True
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)[:limit], False
