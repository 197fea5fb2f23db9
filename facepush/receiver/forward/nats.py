"""NATS JetStream (`nats://`), with nats-py.

Each record is published to `{topic}.{device}.recognition|alarm` with the header
`Nats-Msg-Id` = its key, and is done when the stream's PubAck arrives: the stream drops
a repeat of a key within its duplicate window (2 minutes by default), so a record sent
again after a crash is stored once. The stream (`stream`, default FACEPUSH) is created
with subjects `{topic}.>` when it is missing. A window of publishes is in flight at once
(`publish_async`) on the one connection, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client

from facepush.receiver.forward.record import Record
from facepush.receiver.forward.settings import ForwardSettings
from facepush.receiver.forward.sink import RecordRefused, Sink, SinkUnavailable
from facepush.redact import redact


class NatsSink(Sink):
    kind = "nats"

    def __init__(self, settings: ForwardSettings, sender: str = "") -> None:
        super().__init__(settings, sender)
        self._nc: Client | None = None
        self._js: Any = None
        self._broken: asyncio.Future[str] | None = None
        self._ordered = asyncio.Lock()
        self._shown = redact(settings.url)

    async def open(self) -> None:
        await self.close()
        loop = asyncio.get_running_loop()
        broken: asyncio.Future[str] = loop.create_future()
        last_error: list[str] = []

        async def on_error(exc: Exception) -> None:
            last_error.append(f"{type(exc).__name__}: {exc}".rstrip(": "))

        async def on_disconnect() -> None:
            if not broken.done():
                broken.set_result(last_error[-1] if last_error else "disconnected")

        try:
            nc = await asyncio.wait_for(
                nats.connect(
                    self.settings.url,
                    name=f"facepush-{self.settings.name}",
                    connect_timeout=max(1, int(self.settings.timeout)),
                    # The forwarder reconnects (from its position, with its backoff): the
                    # client gives up after one attempt (0 would mean: try forever).
                    allow_reconnect=False,
                    max_reconnect_attempts=1,
                    reconnect_time_wait=0.1,
                    error_cb=on_error,
                    disconnected_cb=on_disconnect,
                    closed_cb=on_disconnect,
                ),
                self.settings.timeout + 5,
            )
        except Exception as exc:  # nats-py raises many kinds, all "cannot connect"
            raise SinkUnavailable(_connect_error(self._shown, exc, last_error)) from None
        self._nc, self._broken = nc, broken
        self._js = nc.jetstream(timeout=self.settings.timeout)
        await self._ensure_stream()

    async def _ensure_stream(self) -> None:
        stream, subjects = self.settings.stream, [f"{self.settings.topic}.>"]
        try:
            try:
                await self._js.stream_info(stream)
            except nats.js.errors.NotFoundError:
                await self._js.add_stream(name=stream, subjects=subjects)
        except nats.js.errors.APIError as exc:
            raise SinkUnavailable(
                f"JetStream stream {stream!r} with subjects {subjects}: {exc.description}"
            ) from None
        except (nats.errors.Error, TimeoutError) as exc:
            raise SinkUnavailable(
                f"{self._shown}: no JetStream answer ({type(exc).__name__}); is the server "
                "running with JetStream enabled (-js)?"
            ) from None

    async def send(self, record: Record) -> None:
        if self._js is None or self._broken is None:
            raise SinkUnavailable("not connected")
        subject = f"{self.settings.topic}.{record.device}.{record.kind}"
        try:
            # publish_async awaits before it writes (a semaphore, a reply subscription);
            # the lock, taken in the order the window's sends start (FIFO), keeps the
            # writes, and so the stream, in that order. Only the PubAck is awaited outside.
            async with self._ordered:
                future = await self._js.publish_async(
                    subject, record.body, headers={"Nats-Msg-Id": record.key}
                )
        except nats.errors.MaxPayloadError:
            raise RecordRefused(
                f"{len(record.body)} bytes is more than the server's max_payload"
            ) from None
        except nats.errors.Error as exc:
            raise SinkUnavailable(f"{self._shown}: publish failed: {type(exc).__name__}") from None
        done, _ = await asyncio.wait(
            {future, self._broken},
            timeout=self.settings.timeout,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if future not in done:
            future.cancel()
            if self._broken.done():
                raise SinkUnavailable(f"connection to {self._shown} lost: {self._broken.result()}")
            raise SinkUnavailable(f"no PubAck within {self.settings.timeout:g} s from {subject}")
        try:
            future.result()
        except nats.js.errors.NoStreamResponseError:
            raise SinkUnavailable(
                f"no stream takes subject {subject!r}; does stream {self.settings.stream!r} "
                f"have subjects {self.settings.topic}.> ?"
            ) from None
        except nats.js.errors.APIError as exc:
            raise SinkUnavailable(f"JetStream refused {subject}: {exc.description}") from None

    async def close(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.close(), self.settings.timeout)


def _connect_error(shown: str, exc: BaseException, errors: list[str]) -> str:
    said = " ".join(errors[-1:]) or f"{type(exc).__name__}: {exc}".rstrip(": ")
    if "authorization" in said.lower() or isinstance(exc, nats.errors.AuthorizationError):
        return (
            f"{shown}: the server refused the credentials ({said}); "
            "check the user and password (or token) in the url"
        )
    return f"cannot connect to {shown}: {said}"
