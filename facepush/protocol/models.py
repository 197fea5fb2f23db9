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
from facepush.protocol.limits import INT32_MAX, INT32_MIN, MAX_ITEMS, MAX_MS, MAX_TEXT
from facepush.protocol.times import to_ms

# The name under which `extra` is (de)serialised; no terminal sends such a key, so an
# incoming field literally called "extra" stays an ordinary unknown field.
_EXTRA = "$facepush_extra"

# Every integer on the wire must fit a signed 64-bit column (Java's long, SQL's BIGINT);
# what the vendor types `int` is a Java int, 32 bits (and an INTEGER column).
Int = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
Int32 = Annotated[int, msgspec.Meta(ge=INT32_MIN, le=INT32_MAX)]
# A time in ms that is never converted (`guest_time_*`); pushed times that may be seconds
# are checked after the seconds→ms rule, by the decoder (see limits.py).
Ms = Annotated[int, msgspec.Meta(ge=0, le=MAX_MS)]
Text = Annotated[str, msgspec.Meta(max_length=MAX_TEXT)]
# Identities: at most MAX_IDENT bytes of UTF-8, checked by the decoder (limits.check_ident)
# so that the message counts bytes, as the terminal's header rule does.
Ident = str


class Group(msgspec.Struct, kw_only=True):
    id: Text | None = None
    name: Text | None = None
    extra: dict[str, Any] = msgspec.field(default_factory=dict, name=_EXTRA)


class User(msgspec.Struct, kw_only=True):
    name: Text | None = None
    user_id: Ident | None = None
    type: Int32 | None = None
    ic_number: Text | None = None
    job_number: Text | None = None
    id_number: Text | None = None
    guest_time_start: Ms | None = None  # ms since epoch
    guest_time_end: Ms | None = None  # ms since epoch
    remark: Text | None = None
    pin: Text | None = None
    groups: Annotated[list[Group], msgspec.Meta(max_length=MAX_ITEMS)] = msgspec.field(
        default_factory=list
    )
    extra: dict[str, Any] = msgspec.field(default_factory=dict, name=_EXTRA)


class Recognition(msgspec.Struct, kw_only=True):
    """A type 0 record: one face recognition (pass-through event)."""

    uuid: Ident
    deviceSN: Ident | None = None
    recognitionType: Int32 | None = None
    recognizeScore: float | None = None
    mask: Int32 | None = None
    mode: Int32 | None = None
    rgb_image: str | None = None  # base64 JPEG; None when absent or blank
    passed: bool | None = msgspec.field(default=None, name="pass")
    timestamp: Int | None = None  # seconds (ms when above 10**12, see times.to_ms)
    bodyTemperature: float | None = None
    entry_mode: Int32 | None = None
    abnormal_type: Int32 | None = None
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

    trace_id: Ident
    event_time: Int  # ms since epoch (seconds accepted, see times.to_ms)
    status: Int32
    code: Int32 | None = None
    description: Text | None = None
    user_id: Ident | None = None
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
