"""Time normalisation (ruling 5, docs/protocol-rulings.md).

`timestamp` is documented in seconds and `event_time` in milliseconds, but firmware mixes
them up. Every value from after September 2001 is above 10**12 in milliseconds and below it
in seconds (until the year 33658), so the magnitude tells the unit unambiguously.
"""

from __future__ import annotations

import time

MS_THRESHOLD = 10**12


def to_ms(value: int) -> int:
    """Milliseconds since the epoch, from a value in seconds or milliseconds."""
    return value if value >= MS_THRESHOLD else value * 1000


def now_ms() -> int:
    return time.time_ns() // 1_000_000
