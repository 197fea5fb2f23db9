"""The one small interface every kind of sink implements, and its errors.

A sink is opened, sent records (several at once: a window), and closed. `send` returns
when the sink acknowledged the record (MQTT PUBACK, JetStream PubAck, HTTP 2xx) and raises
`SinkUnavailable` (the forwarder backs off, reconnects and sends it again) or
`RecordRefused` (this record, for good: set aside for this sink, the rest go on).
"""

from __future__ import annotations

import abc
import importlib
from typing import ClassVar

from facepush.receiver.errors import ReceiverError
from facepush.receiver.forward.record import Record
from facepush.receiver.forward.settings import ForwardSettings


class SinkError(ReceiverError):
    """Base class of what a sink raises; the message says what happened, in words."""


class SinkUnavailable(SinkError):
    """The sink is down, slow, or refuses the connection (or the credentials): try later."""


class RecordRefused(SinkError):
    """The sink refused this one record for good (e.g. HTTP 422): set it aside."""


class Sink(abc.ABC):
    kind: ClassVar[str]
    # True: records travel over one ordered connection, so a window of them in flight
    # keeps their order. False (webhooks: several connections): one record of a terminal
    # in flight at a time, several terminals at once.
    ordered: ClassVar[bool] = True
    # Whether `Record.image` should be loaded for it (Home Assistant's snapshot entity).
    wants_images: bool = False

    def __init__(self, settings: ForwardSettings, sender: str = "") -> None:
        self.settings = settings
        self.sender = sender  # which receiver process sends (host:pid), where a sink shows it

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect (and prepare: a stream, discovery); raises SinkUnavailable."""

    @abc.abstractmethod
    async def send(self, record: Record) -> None:
        """Deliver one record; returns once the sink acknowledged it."""

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
