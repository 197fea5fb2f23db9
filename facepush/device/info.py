"""What `GET /v1/device/info` says about an emulated terminal: plausible values, its
serial from `--sn`, a locally administered MAC address derived from the serial."""

from __future__ import annotations

import hashlib

from facepush import __version__
from facepush.protocol.device import DeviceInfo

MODEL = "facepush-emulator"
API_VERSION = "1.3.0"  # the vendor API document the emulator follows
_ALGORITHMS = (
    "hunter",
    "august",
    "aligner",
    "headpose",
    "blur",
    "liveness",
    "feature",
    "attribute",
)


def device_info(sn: str | None) -> DeviceInfo:
    digest = hashlib.sha256((sn or "").encode()).digest()
    mac = ":".join(f"{b:02X}" for b in (0x02, *digest[:5]))  # 02: locally administered
    return DeviceInfo(
        model=MODEL,
        device_sn=sn or "",
        mac_wired=mac,
        mac_wlan="",
        sw_ver="V1.3.0",
        hw_ver="V1",
        app_ver=f"facepush {__version__}",
        api_ver=API_VERSION,
        model_ver={name: f"EMU_{name.capitalize()}" for name in _ALGORITHMS},
    )
