"""Errors of the terminal's push service. Each says what happened and what to do."""

from __future__ import annotations

from facepush.errors import FacepushError, SettingsError
from facepush.throttle import too_many_message


class DeviceError(FacepushError):
    """Base class of the push service's own errors."""


class CacheFullError(DeviceError):
    """The outbox is full and the policy is `refuse-newest`: the records were not stored."""

    def __init__(self, cached: int, limit: int, offered: int) -> None:
        self.cached = cached
        self.limit = limit
        self.offered = offered
        super().__init__(
            f"cache full: {cached} of {limit} records cached, {offered} offered; none was "
            "cached for push (the terminal's history keeps them). Retry once the receiver has "
            "taken some records, or raise --cache-limit (or use --when-full drop-oldest)."
        )


class BatchTooLargeError(DeviceError):
    """A batch holds more records than the whole cache can."""

    def __init__(self, offered: int, limit: int) -> None:
        super().__init__(
            f"a batch of {offered} records cannot fit a cache of {limit}; nothing was stored. "
            "Hand records over in smaller batches."
        )


class DataDirError(DeviceError):
    """The data directory cannot be used (unwritable, corrupt, or in use by another service)."""


class NotRunningError(DeviceError):
    """The service was used before `await service.start()` or after `stop()`."""

    def __init__(self) -> None:
        super().__init__("the push service is not running: call `await service.start()` first")


class AuthError(DeviceError):
    """A request to the terminal's API without valid credentials.

    `code` is the vendor code: 401 Unauthorized, 1000 Account Not Exist, 1001 Password Wrong.
    """

    def __init__(self, code: int, msg: str) -> None:
        self.code = code
        super().__init__(msg)


class TooManyFailures(DeviceError):
    """A client made too many wrong guesses: its credentials are not checked for a while.

    `retry_after` is the wait in whole seconds (the reply's `Retry-After`)."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(too_many_message(retry_after))


class SetupError(DeviceError, SettingsError):
    """A setting of the service that cannot work (a bad value, or a public --listen
    without an account); the message names the option or key and where it came from."""
