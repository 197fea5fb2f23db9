"""The one small interface every kind of sink implements, and its errors.

A sink is opened, sent records (several at once: a window; an ordered sink gets parts of
it as batches), and closed. `send` returns
when the sink acknowledged the record (MQTT PUBACK, JetStream PubAck, HTTP 2xx) and raises
`SinkUnavailable` (the forwarder backs off, reconnects and sends it again) or
`RecordRefused` (this record, for good: set aside for this sink, the rest go on).
"""

from __future__ import annotations

import abc
import asyncio
import importlib
from collections.abc import Sequence
from typing import ClassVar

from facepush.errors import (
    RecordRefused as RecordRefused,  # defined in facepush.errors; exported here as before
)
from facepush.errors import (
    SinkError as SinkError,  # defined in facepush.errors; exported here as before
)
from facepush.errors import (
    SinkUnavailable as SinkUnavailable,  # defined in facepush.errors; exported here as before
)
from facepush.receiver.forward.record import Record
from facepush.receiver.forward.settings import ForwardSettings


class Sink(abc.ABC):
    kind: ClassVar[str]
    # True: records travel over one ordered connection, so a window of them in flight
    # keeps their order. False (webhooks: several connections): one record of a terminal
    # in flight at a time, several terminals at once.
    ordered: ClassVar[bool] = True
    # Whether `Record.image` should be loaded for it (Home Assistant's snapshot entity).
    wants_images: bool = False
    # How many records one send_batch gets (of an ordered sink's window; 1: one by one).
    # Less asyncio work per record, but a batch is done only with its last ack: a broker
    # whose acks wait on TCP's delayed ACK while nothing more is sent (Mosquitto, Nagle on)
    # is faster one by one.
    batch_share: ClassVar[float] = 0.0

    def __init__(self, settings: ForwardSettings, sender: str = "") -> None:
        self.settings = settings
        self.sender = sender  # which receiver process sends (host:pid), where a sink shows it

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect (and prepare: a stream, discovery); raises SinkUnavailable."""

    @abc.abstractmethod
    async def send(self, record: Record) -> None:
        """Deliver one record; returns once the sink acknowledged it."""

    async def send_batch(self, records: Sequence[Record]) -> list[BaseException | None]:
        """Deliver several (in this order); each one's error, or None once acknowledged.
        The forwarder hands an ordered sink a part of its window at a time."""
        if len(records) == 1:
            try:
                await self.send(records[0])
            except Exception as exc:  # the forwarder judges it
                return [exc]
            return [None]
        # gather starts the sends in this order (each to its first await in turn).
        done = await asyncio.gather(*(self.send(r) for r in records), return_exceptions=True)
        return [r if isinstance(r, BaseException) else None for r in done]

    @abc.abstractmethod
    async def close(self) -> None:
        """Disconnect; never raises."""


_MODULES = {
    "mqtt": ("facepush.receiver.forward.mqtt", "MqttSink"),
    "nats": ("facepush.receiver.forward.nats", "NatsSink"),
    "webhook": ("facepush.receiver.forward.webhook", "WebhookSink"),
}


def make_sink(settings: ForwardSettings, sender: str = "") -> Sink:
    """The sink for `settings.url`'s scheme (its client library imported only when used)."""
    module, name = _MODULES[settings.kind]
    cls: type[Sink] = getattr(importlib.import_module(module), name)
    return cls(settings, sender)
