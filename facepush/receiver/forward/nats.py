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
from collections.abc import Sequence
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client

from facepush.errors import RecordRefused, SinkUnavailable
from facepush.receiver.forward.record import Record
from facepush.receiver.forward.settings import ForwardSettings
from facepush.receiver.forward.sink import Sink
from facepush.redact import redact


class NatsSink(Sink):
    kind = "nats"
    batch_share = 0.25  # a quarter of the window per batch

    def __init__(self, settings: ForwardSettings, sender: str = "") -> None:
        super().__init__(settings, sender)
        self._nc: Client | None = None
        self._js: Any = None
        self._broken: asyncio.Future[str] | None = None
        self._ordered = asyncio.Lock()
        self._inflight: set[asyncio.Future[Any]] = set()
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
            for future in list(self._inflight):  # their PubAcks will never come
                future.cancel()

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
        [result] = await self.send_batch([record])
        if result is not None:
            raise result

    async def send_batch(self, records: Sequence[Record]) -> list[BaseException | None]:
        """Publish them all (in order, under the lock), then wait for each PubAck."""
        if self._js is None or self._broken is None:
            return [SinkUnavailable("not connected")] * len(records)
        results: list[BaseException | None] = [None] * len(records)
        futures: list[tuple[int, asyncio.Future[Any]]] = []
        # publish_async awaits before it writes (a semaphore, a reply subscription); the
        # lock, taken in the order the window's sends start (FIFO), keeps the writes, and
        # so the stream, in that order. Only the PubAcks are awaited outside it.
        async with self._ordered:
            for index, record in enumerate(records):
                try:
                    future = await self._js.publish_async(
                        self._subject(record), record.body, headers={"Nats-Msg-Id": record.key}
                    )
                except nats.errors.MaxPayloadError:
                    size = len(record.body)
                    results[index] = RecordRefused(f"{size} bytes is more than max_payload")
                except nats.errors.Error as exc:
                    results[index] = SinkUnavailable(
                        f"{self._shown}: publish failed: {type(exc).__name__}"
                    )
                else:
                    futures.append((index, future))
        for index, future in futures:
            results[index] = await self._settle(future, self._subject(records[index]))
        return results

    def _subject(self, record: Record) -> str:
        return f"{self.settings.topic}.{record.device}.{record.kind}"

    async def _settle(self, future: asyncio.Future[Any], subject: str) -> BaseException | None:
        """The PubAck's verdict. One timer per record and a set of those in flight (failed
        all at once when the connection is lost): far cheaper than asyncio.wait."""
        broken = self._broken
        assert broken is not None
        if broken.done():
            future.cancel()
            return SinkUnavailable(f"connection to {self._shown} lost: {broken.result()}")
        expiry = asyncio.get_running_loop().call_later(self.settings.timeout, _expire, future)
        self._inflight.add(future)
        try:
            await future
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():  # the forwarder's own cancellation
                raise
            if broken.done():
                return SinkUnavailable(f"connection to {self._shown} lost: {broken.result()}")
            return SinkUnavailable(f"no PubAck within {self.settings.timeout:g} s from {subject}")
        except nats.js.errors.NoStreamResponseError:
            return SinkUnavailable(
                f"no stream takes subject {subject!r}; does stream {self.settings.stream!r} "
                f"have subjects {self.settings.topic}.> ?"
            )
        except nats.js.errors.APIError as exc:
            return SinkUnavailable(f"JetStream refused {subject}: {exc.description}")
        finally:
            expiry.cancel()
            self._inflight.discard(future)
        return None

    async def close(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.close(), self.settings.timeout)


def _expire(future: asyncio.Future[Any]) -> None:
    future.cancel()


def _connect_error(shown: str, exc: BaseException, errors: list[str]) -> str:
    said = " ".join(errors[-1:]) or f"{type(exc).__name__}: {exc}".rstrip(": ")
    if "authorization" in said.lower() or isinstance(exc, nats.errors.AuthorizationError):
        return (
            f"{shown}: the server refused the credentials ({said}); "
            "check the user and password (or token) in the url"
        )
    return f"cannot connect to {shown}: {said}"
