"""Device information and time (Part 4.3): `GET /v1/device/info`, `GET`/`POST
/v1/device/time`, and the validation of a time update.

`local_time` is milliseconds since the epoch. With `manual_mode` true the clock is set by
hand (`local_time`); with it false the terminal follows its NTP server, and a `local_time`
sent along (as the vendor's own example does) does not change the clock. `time_zone` is
whole hours from -11 to 12 (the vendor documents it as a string, its example sends 8).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from facepush.errors import DecodeError
from facepush.protocol.times import MS_THRESHOLD

MIN_ZONE, MAX_ZONE, DEFAULT_ZONE = -11, 12, 8
MAX_LOCAL_TIME = 10**13  # ms: the year 2286; above it a value is not a time
MAX_SERVER_ADDRESS = 256
TIME_FIELDS = ("local_time", "manual_mode", "time_zone", "server_address")


class DeviceInfo(msgspec.Struct, kw_only=True):
    """`GET /v1/device/info` data: product model, serial, addresses and versions."""

    model: str = ""
    device_sn: str = ""
    mac_wired: str = ""
    mac_wlan: str = ""
    sw_ver: str = ""  # ROM version
    hw_ver: str = ""
    app_ver: str = ""
    api_ver: str = ""  # the integration API's version
    model_ver: dict[str, str] = msgspec.field(default_factory=dict)  # algorithm versions


class DeviceTime(msgspec.Struct, kw_only=True):
    """`GET /v1/device/time` data."""

    local_time: int  # ms since the epoch, by the terminal's clock
    manual_mode: bool = False
    time_zone: int = DEFAULT_ZONE
    server_address: str = ""


@dataclass(frozen=True, slots=True)
class TimeUpdate:
    """A `POST /v1/device/time` body, checked; None = leave as it is."""

    local_time: int | None = None
    manual_mode: bool | None = None
    time_zone: int | None = None
    server_address: str | None = None


def parse_time_update(body: Any) -> TimeUpdate:
    """Check a time update; raises DecodeError naming the field (and then nothing changes)."""
    if not isinstance(body, dict):
        raise DecodeError("body", f"expected a JSON object with some of {', '.join(TIME_FIELDS)}")
    unknown = sorted(set(body) - set(TIME_FIELDS))
    if unknown:
        raise DecodeError(unknown[0], f"unknown field; expected some of {', '.join(TIME_FIELDS)}")
    local_time = body.get("local_time")
    if local_time is not None and (
        type(local_time) is not int or not MS_THRESHOLD <= local_time < MAX_LOCAL_TIME
    ):
        raise DecodeError(
            "local_time", f"must be Unix time in milliseconds (13 digits), got {local_time!r}"
        )
    manual = body.get("manual_mode")
    if manual is not None and type(manual) is not bool:
        raise DecodeError("manual_mode", f"must be true or false, got {manual!r}")
    address = body.get("server_address")
    if address is not None and (not isinstance(address, str) or len(address) > MAX_SERVER_ADDRESS):
        raise DecodeError(
            "server_address",
            f"must be a host name or URL of at most {MAX_SERVER_ADDRESS} characters",
        )
    return TimeUpdate(local_time, manual, _zone(body.get("time_zone")), address)


def _zone(value: Any) -> int | None:
    if value is None:
        return None
    zone: int | None = None
    if type(value) is int:
        zone = value
    elif isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        zone = int(value.strip())
    if zone is None or not MIN_ZONE <= zone <= MAX_ZONE:
        raise DecodeError(
            "time_zone", f"must be whole hours from {MIN_ZONE} to {MAX_ZONE}, got {value!r}"
        )
    return zone
