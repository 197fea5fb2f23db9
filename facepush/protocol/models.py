"""Typed wire models of the push protocol (Part 1 of the spec).

Field names are the wire names, so that code reads like the vendor's document; the one
exception is `pass`, a Python keyword, exposed as `passed`. Every model keeps the fields a
terminal sent that the protocol does not name in `extra`, so that nothing is lost.
Decode with `facepush.protocol.decode`, never with msgspec directly: the decoder applies
the lenient rules and names the field of every error.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from facepush.protocol.codes import EventType
from facepush.protocol.identity import alarm_key, recognition_key
from facepush.protocol.times import to_ms

# The name under which `extra` is (de)serialised; no terminal sends such a key, so an
# incoming field literally called "extra" stays an ordinary unknown field.
_EXTRA = "$facepush_extra"

# Every integer on the wire must fit a signed 64-bit column (Java's long, SQL's BIGINT).
Int = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


class Group(msgspec.Struct, kw_only=True):
    id: str | None = None
    name: str | None = None
    extra: dict[str, Any] = msgspec.field(default_factory=dict, name=_EXTRA)


class User(msgspec.Struct, kw_only=True):
    name: str | None = None
    user_id: str | None = None
    type: Int | None = None
    ic_number: str | None = None
    job_number: str | None = None
    id_number: str | None = None
    guest_time_start: Int | None = None  # ms since epoch
    guest_time_end: Int | None = None  # ms since epoch
    remark: str | None = None
    pin: str | None = None
    groups: list[Group] = msgspec.field(default_factory=list)
    extra: dict[str, Any] = msgspec.field(default_factory=dict, name=_EXTRA)


class Recognition(msgspec.Struct, kw_only=True):
    """A type 0 record: one face recognition (pass-through event)."""

    uuid: str
    deviceSN: str | None = None
    recognitionType: Int | None = None
    recognizeScore: float | None = None
    mask: Int | None = None
    mode: Int | None = None
    rgb_image: str | None = None  # base64 JPEG; None when absent or blank
    passed: bool | None = msgspec.field(default=None, name="pass")
    timestamp: Int | None = None  # seconds (ms when above 10**12, see times.to_ms)
    bodyTemperature: float | None = None
    entry_mode: Int | None = None
    abnormal_type: Int | None = None
    user: User | None = None
    extra: dict[str, Any] = msgspec.field(default_factory=dict, name=_EXTRA)

    @property
    def key(self) -> str:
        return recognition_key(self.uuid)

    @property
    def occurred_at(self) -> int | None:
        return None if self.timestamp is None else to_ms(self.timestamp)

    @property
    def image(self) -> str | None:
        return self.rgb_image


class Alarm(msgspec.Struct, kw_only=True):
    """A type 1 record: one report in the life of a device alarm."""

    trace_id: str
    event_time: Int  # ms since epoch
    status: Int
    code: Int | None = None
    description: str | None = None
    user_id: str | None = None
    alarm_photo: str | None = None  # base64 JPEG; None when absent or blank
    extra: dict[str, Any] = msgspec.field(default_factory=dict, name=_EXTRA)

    @property
    def key(self) -> str:
        return alarm_key(self.trace_id, self.status, self.event_time)

    @property
    def occurred_at(self) -> int | None:
        return to_ms(self.event_time)

    @property
    def image(self) -> str | None:
        return self.alarm_photo


Event = Recognition | Alarm


class Push(msgspec.Struct, kw_only=True):
    """One pushed envelope: `{"type": 0|1, "data": {...}}`."""

    type: EventType
    data: Event
    extra: dict[str, Any] = msgspec.field(default_factory=dict, name=_EXTRA)

    @property
    def key(self) -> str:
        """The identity of the record (ruling 6): the de-duplication key."""
        return self.data.key

    @property
    def occurred_at(self) -> int | None:
        """When it happened, ms since epoch, normalised (ruling 5)."""
        return self.data.occurred_at

    @property
    def is_alarm(self) -> bool:
        return self.type is EventType.ALARM


class Reply(msgspec.Struct, kw_only=True):
    """The receiver's answer to a push. The spec's table says `message`, its example `msg`."""

    code: Int
    msg: str | None = None
    message: str | None = None
    data: Any = None

    @property
    def text(self) -> str:
        return self.msg or self.message or ""


class Subscription(msgspec.Struct, kw_only=True):
    """A terminal's push configuration (`/v1/event/subscribe`)."""

    event_dest: str
    enabled: bool
