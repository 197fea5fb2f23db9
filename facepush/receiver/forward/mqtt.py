"""MQTT (`mqtt://`, `mqtts://`; MQTT 3.1.1, or 5 with `?protocol=5`), with aiomqtt.

Each record goes to `{topic}/{device}/recognition|alarm` at QoS 1, not retained, and is
done when the broker's PUBACK arrives. `{topic}/{device}/availability` holds `online`
(retained) once a terminal's record was sent on this connection, and `offline` after a
clean stop; `{topic}/availability` is this receiver's (its last will: `offline`).
All of a window's publishes travel in order on the one connection. With
`homeassistant = true`, also Home Assistant's discovery and entities (homeassistant.py).

A lost connection fails every publish waiting for its PUBACK at once (not after the
timeout): the forwarder reconnects and sends them again.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Awaitable, Sequence
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiomqtt
from aiomqtt.exceptions import MqttConnectError

from facepush.errors import SinkUnavailable
from facepush.receiver.forward import homeassistant as ha
from facepush.receiver.forward.record import Record
from facepush.receiver.forward.settings import ForwardSettings
from facepush.receiver.forward.sink import Sink
from facepush.redact import redact
from facepush.tls import client_context

_PROTOCOLS = {"3.1.1": aiomqtt.ProtocolVersion.V311, "5": aiomqtt.ProtocolVersion.V5}
_REFUSED = {  # CONNACK codes of MQTT 3.1.1 and 5 that mean the credentials
    4: "bad user name or password",
    5: "not authorised",
    134: "bad user name or password",
    135: "not authorised",
}


def client_options(settings: ForwardSettings) -> dict[str, Any]:
    """aiomqtt.Client's arguments for the sink's URL."""
    parts = urlsplit(settings.url)
    tls = parts.scheme == "mqtts"
    protocol = parse_qs(parts.query).get("protocol", ["3.1.1"])[-1]
    if protocol not in _PROTOCOLS:
        raise SinkUnavailable(f"?protocol={protocol}: expected 3.1.1 or 5")
    return {
        "hostname": parts.hostname or "",
        "port": parts.port or (8883 if tls else 1883),
        "username": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
        "protocol": _PROTOCOLS[protocol],
        "tls_context": client_context(settings.ca) if tls else None,
    }


class MqttSink(Sink):
    kind = "mqtt"

    def __init__(self, settings: ForwardSettings, sender: str = "") -> None:
        super().__init__(settings, sender)
        self.wants_images = settings.homeassistant
        self._client: aiomqtt.Client | None = None
        self._broken: asyncio.Future[str] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._announced: dict[str, set[str]] = {}  # device -> kinds announced on this connection
        self._background: set[asyncio.Task[None]] = set()
        self._shown = redact(settings.url)

    async def open(self) -> None:
        await self.close()
        options = client_options(self.settings)
        client = aiomqtt.Client(
            **options,
            identifier=f"facepush-{self.settings.name}-{secrets.token_hex(4)}",
            will=aiomqtt.Will(ha.bridge_topic(self.settings), b"offline", qos=1, retain=True),
            timeout=self.settings.timeout,
            keepalive=30,
            max_inflight_messages=self.settings.window,
        )
        client.pending_calls_threshold = 1 << 30  # a window in flight is the normal case
        try:
            await client.__aenter__()
        except MqttConnectError as exc:
            why = _REFUSED.get(_code(exc.rc))
            if why is None:
                raise SinkUnavailable(f"{self._shown}: the broker refused: {exc}") from None
            raise SinkUnavailable(
                f"{self._shown}: the broker refused the credentials ({why}); check the user "
                "name and password in the url"
            ) from None
        except aiomqtt.MqttError as exc:
            raise SinkUnavailable(f"cannot connect to {self._shown}: {exc}") from None
        self._client = client
        self._broken = asyncio.get_running_loop().create_future()
        self._listener = asyncio.create_task(self._listen(client), name="facepush-mqtt-listen")
        await self._publish(ha.bridge_topic(self.settings), b"online", retain=True)
        if self.settings.homeassistant:
            status = f"{self.settings.discovery_prefix}/status"
            await self._guard(client.subscribe(status, qos=1))

    async def send(self, record: Record) -> None:
        [result] = await self.send_batch([record])
        if result is not None:
            raise result

    async def send_batch(self, records: Sequence[Record]) -> list[BaseException | None]:
        # Every publish of the batch starts here, before the first await: batches start in
        # the order they were dispatched (asyncio runs tasks' first steps in the order they
        # were created), so records reach the broker in order, a terminal's announcement
        # (availability, discovery) before its first record.
        started: list[tuple[int, asyncio.Future[None]]] = []
        try:
            for index, record in enumerate(records):
                for message in self._messages(record):
                    started.append((index, self._start(*message)))
        except SinkUnavailable as exc:
            return [exc] * len(records)
        broken = self._broken
        assert broken is not None
        # The common case (one record, one message) waits on its publish alone.
        single = len(started) == 1
        acks: asyncio.Future[Any] = (
            started[0][1]
            if single
            else asyncio.gather(*(f for _, f in started), return_exceptions=True)
        )
        waited: set[asyncio.Future[Any]] = {acks, broken}
        done, _ = await asyncio.wait(waited, return_when=asyncio.FIRST_COMPLETED)
        if acks not in done:
            acks.cancel()
            lost = SinkUnavailable(f"connection to {self._shown} lost: {broken.result()}")
            return [lost] * len(records)
        outcomes: list[Any] = [acks.exception()] if single else acks.result()
        results: list[BaseException | None] = [None] * len(records)
        for (index, _), outcome in zip(started, outcomes, strict=True):
            if isinstance(outcome, BaseException) and results[index] is None:
                results[index] = SinkUnavailable(f"{self._shown}: publish failed: {outcome}")
        return results

    def _messages(self, record: Record) -> list[tuple[str, bytes, bool]]:
        """What one record publishes: its announcement first (once per connection and
        kind; forgotten with the connection if this fails), the record, Home Assistant's."""
        messages = []
        kinds = self._announced.setdefault(record.device, set())
        if record.kind not in kinds:
            kinds.add(record.kind)
            messages += self._announcement(record.device, record.kind)
        topic = f"{self.settings.topic}/{record.device}/{record.kind}"
        messages.append(ha.Message(topic, record.body))
        if self.settings.homeassistant:
            messages += ha.live_messages(self.settings, record)
        return [(m.topic, m.payload, m.retain) for m in messages]

    async def close(self) -> None:
        for task in self._background:
            task.cancel()
        client = self._client
        if client is not None and self._broken is not None and not self._broken.done():
            # A clean stop says so itself (the last will is only for a lost connection).
            offline = [
                self._publish(ha.availability_topic(self.settings, d), b"offline", True)
                for d in self._announced
            ]
            offline.append(self._publish(ha.bridge_topic(self.settings), b"offline", True))
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.gather(*offline), self.settings.timeout)
        self._client = None
        if self._listener is not None:
            self._listener.cancel()
            self._listener = None
        self._announced.clear()
        if client is not None:
            with contextlib.suppress(Exception):
                await client.__aexit__(None, None, None)

    def _announcement(self, device: str, kind: str) -> list[ha.Message]:
        """A terminal's discovery (Home Assistant) and availability, once per connection
        and kind of record."""
        messages = ha.discovery(self.settings, device, kind) if self.settings.homeassistant else []
        return [
            *messages,
            ha.Message(ha.availability_topic(self.settings, device), b"online", True),
        ]

    async def _rediscover(self) -> None:
        """Home Assistant (re)started: publish every discovery config again."""
        messages = [
            m
            for device, kinds in self._announced.items()
            for kind in kinds
            for m in ha.discovery(self.settings, device, kind)
        ]
        await asyncio.gather(*(self._publish(m.topic, m.payload, m.retain) for m in messages))

    async def _listen(self, client: aiomqtt.Client) -> None:
        reason = "connection closed"
        try:
            async for message in client.messages:
                if message.payload == b"online" and self.settings.homeassistant:
                    task = asyncio.create_task(self._rediscover())
                    self._background.add(task)
                    task.add_done_callback(self._background.discard)
        except aiomqtt.MqttError as exc:
            reason = str(exc.__cause__ or exc)
        finally:
            if self._broken is not None and not self._broken.done():
                self._broken.set_result(reason)

    def _start(self, topic: str, payload: bytes, retain: bool = False) -> asyncio.Future[None]:
        """A QoS 1 publish, started now (its PUBACK awaited by `_guard`)."""
        if self._client is None:
            raise SinkUnavailable("not connected")
        return asyncio.ensure_future(self._client.publish(topic, payload, qos=1, retain=retain))

    async def _publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        await self._guard(self._start(topic, payload, retain))

    async def _guard(self, call: Awaitable[Any]) -> None:
        """`call`, failed at once when the connection is lost meanwhile."""
        broken = self._broken
        task = asyncio.ensure_future(call)
        if broken is None:
            task.cancel()
            raise SinkUnavailable("not connected")
        try:
            done, _ = await asyncio.wait({task, broken}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if task not in done:
            task.cancel()
            raise SinkUnavailable(f"connection to {self._shown} lost: {broken.result()}")
        try:
            task.result()
        except aiomqtt.MqttError as exc:
            raise SinkUnavailable(f"{self._shown}: publish failed: {exc}") from None


def _code(rc: Any) -> int:
    return int(getattr(rc, "value", rc) or 0)
