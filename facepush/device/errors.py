"""The push service's errors, under the names this module always exported; they are
defined, with the whole tree, in facepush.errors."""

from __future__ import annotations

from facepush.errors import (
    AuthError,
    BatchTooLargeError,
    CacheFullError,
    DataDirError,
    DeviceError,
    NotRunningError,
    SetupError,
    TooManyFailures,
)

__all__ = [
    "AuthError",
    "BatchTooLargeError",
    "CacheFullError",
    "DataDirError",
    "DeviceError",
    "NotRunningError",
    "SetupError",
    "TooManyFailures",
]
