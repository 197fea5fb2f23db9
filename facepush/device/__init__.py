"""The device side of the push protocol: a terminal's durable outbox and delivery.

`PushService` is the whole service (embed it, or run `facepush device serve`), made from
`DeviceSettings`, with the terminal's history (`SQLiteHistory`, `MemoryHistory`), live
stream and clock;
`Deliverer` is the delivery loop on its own, for tools that emulate many terminals.
"""

from facepush.backoff import Backoff
from facepush.device.clock import TerminalClock
from facepush.device.delivery import Deliverer, DeliveryStats
from facepush.device.history import AsyncHistory, History, HistoryEntry
from facepush.device.live import LiveHub
from facepush.device.memory_history import MemoryHistory
from facepush.device.memory_outbox import MemoryOutbox
from facepush.device.outbox import CachedRecord, NewRecord, Outbox, WhenFull
from facepush.device.sender import Destination
from facepush.device.service import PushService, RecordResult
from facepush.device.settings import DeviceSettings
from facepush.device.sqlite_history import SQLiteHistory
from facepush.device.sqlite_outbox import SQLiteOutbox
from facepush.device.window import AdaptiveWindow, FixedWindow
from facepush.errors import (
    AuthError,
    BatchTooLargeError,
    CacheFullError,
    DataDirError,
    DeviceError,
    NotRunningError,
    SetupError,
)

__all__ = [
    "AdaptiveWindow",
    "AsyncHistory",
    "AuthError",
    "Backoff",
    "BatchTooLargeError",
    "CacheFullError",
    "CachedRecord",
    "DataDirError",
    "Deliverer",
    "DeliveryStats",
    "Destination",
    "DeviceError",
    "DeviceSettings",
    "FixedWindow",
    "History",
    "HistoryEntry",
    "LiveHub",
    "MemoryHistory",
    "MemoryOutbox",
    "NewRecord",
    "NotRunningError",
    "Outbox",
    "PushService",
    "RecordResult",
    "SQLiteHistory",
    "SQLiteOutbox",
    "SetupError",
    "TerminalClock",
    "WhenFull",
]
