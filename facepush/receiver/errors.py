"""The receiver's errors, under the names this module always exported; they are defined,
with the whole tree, in facepush.errors."""

from __future__ import annotations

from facepush.errors import (
    BadQuery,
    Busy,
    ReceiverConfigError,
    ReceiverError,
    RecordRejected,
    StoreUnavailable,
    WorkersUnsupported,
)

__all__ = [
    "BadQuery",
    "Busy",
    "ReceiverConfigError",
    "ReceiverError",
    "RecordRejected",
    "StoreUnavailable",
    "WorkersUnsupported",
]
