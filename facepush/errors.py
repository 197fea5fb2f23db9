"""Every error facepush raises on purpose, in one tree (httpx's `_exceptions.py` is the model).

    FacepushError
    ├── SettingsError ........... a setting that cannot be used (flag, environment, file)
    │   ├── SetupError .......... one of the terminal's push service (also a DeviceError)
    │   ├── ReceiverConfigError . one of the receiver, or its database (also a ReceiverError)
    │   │   ├── ForwardConfigError  a [[forward]] table or --forward URL
    │   │   └── WorkersUnsupported  --workers N with a part one process must own
    │   ├── ListenError ......... a --listen value or bind choice
    │   ├── TLSConfigError ...... a certificate, key or CA file
    │   └── ChaosSpecError ...... a --chaos SPEC
    ├── ProtocolError ........... input that does not follow the push protocol
    │   ├── DecodeError ......... a body, or one field of it, that cannot be decoded
    │   ├── ConfigError ......... a push configuration (/v1/event/subscribe body) refused
    │   ├── ImageError .......... a snapshot or photo that is not a base64 JPEG
    │   └── SignatureError ...... a Standard Webhooks signature missing, stale or wrong
    ├── ClientError ............. talking to a terminal failed
    │   ├── TerminalUnreachable
    │   ├── TLSError
    │   ├── AuthenticationError
    │   ├── TerminalRefused
    │   ├── BadResponse
    │   └── StreamClosed
    ├── DeviceError ............. the terminal's push service
    │   ├── CacheFullError
    │   ├── BatchTooLargeError
    │   ├── DataDirError
    │   ├── NotRunningError
    │   ├── AuthError
    │   ├── TooManyFailures
    │   └── SetupError (above)
    ├── ReceiverError ........... the receiver
    │   ├── ReceiverConfigError (above)
    │   ├── StoreUnavailable
    │   ├── BadQuery
    │   ├── RecordRejected
    │   ├── Busy
    │   ├── WorkerFailed
    │   ├── SinkError ........... a forwarding sink (MQTT, NATS, webhook) failed
    │   │   ├── SinkUnavailable
    │   │   └── RecordRefused
    │   └── UnknownSink ......... no sink by that name (also a LookupError)
    └── DemoError ............... a part of `facepush demo` could not start

A settings error is never a DecodeError: a bad flag is not bad input from the network.
Each message says what happened and, where it can, what to do about it. The modules that
raise these errors export them under the names they always had (`facepush.device.errors`,
`facepush.receiver.errors`, `facepush.tls`, `facepush.web`, ...).
"""

from __future__ import annotations

from collections.abc import Sequence

from facepush.throttle import too_many_message

# ---- the root --------------------------------------------------------------------------


class FacepushError(Exception):
    """Base class of every error facepush raises on purpose."""


# ---- settings --------------------------------------------------------------------------


class SettingsError(FacepushError):
    """A server setting that cannot be used, from the command line, the environment or the
    config file; the message names the option or key and where it came from
    (`config.toml: cache_limit: must be at least 1`)."""


class ListenError(SettingsError):
    """A `--listen` value or bind choice that cannot be used."""


class TLSConfigError(SettingsError):
    """A certificate, key or CA file that cannot be used."""


class ChaosSpecError(SettingsError):
    """A `--chaos` SPEC that cannot be used; the message names the part."""


# ---- the protocol ----------------------------------------------------------------------


class ProtocolError(FacepushError):
    """Input that does not follow the push protocol."""


class _FieldProblem(ProtocolError):
    """A refusal that names the field: `path` in dotted form, `problem` what is wrong."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class DecodeError(_FieldProblem):
    """A push body (or part of one, or another request body) could not be decoded.

    `path` names the field, in dotted form (`data.user.guest_time_end`, `[3].data.uuid`,
    or `body` for the whole document); `problem` says what is wrong with it.
    """


class ConfigError(_FieldProblem):
    """A push configuration (`/v1/event/subscribe` body) was refused; `path` names the field.

    Not a DecodeError: the body may decode fine and still ask for what a terminal refuses
    (a destination it cannot push to)."""


class ImageError(ProtocolError):
    """A snapshot or alarm photo is not a usable base64 JPEG."""


class SignatureError(ProtocolError):
    """A push's Standard Webhooks signature is missing, malformed, stale or wrong; `reason`
    says which in one word (`missing`, `malformed`, `stale`, `mismatch`; `secret` for an
    unusable secret), for counting."""

    def __init__(self, message: str, reason: str = "secret") -> None:
        self.reason = reason
        super().__init__(message)


# ---- the terminal client ---------------------------------------------------------------


class ClientError(FacepushError):
    """Talking to a terminal failed; the message says why and what to try."""


class TerminalUnreachable(ClientError):
    """No HTTP answer from the terminal: wrong address, terminal off, or a firewall."""


class TLSError(ClientError):
    """The terminal's certificate could not be verified (or it does not speak TLS)."""


class AuthenticationError(ClientError):
    """The terminal refused the credentials (vendor codes 401, 1000, 1001)."""

    def __init__(self, message: str, code: int) -> None:
        self.code = code
        super().__init__(message)


class TerminalRefused(ClientError):
    """The terminal answered with a non-200 code; `code` and `msg` are the terminal's own."""

    def __init__(self, message: str, code: int, msg: str) -> None:
        self.code = code
        self.msg = msg
        super().__init__(message)


class BadResponse(ClientError):
    """The terminal answered with something that is not the vendor's reply envelope."""


class StreamClosed(ClientError):
    """The terminal ended the live stream: it went away, or dropped this client for falling
    behind. `code` is the WebSocket close code (None when the connection just broke)."""

    def __init__(self, message: str, code: int | None) -> None:
        self.code = code
        super().__init__(message)


# ---- the terminal's push service (facepush.device) -------------------------------------


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


# ---- the receiver (facepush.receiver) --------------------------------------------------


class ReceiverError(FacepushError):
    """Base class of the receiver's errors."""


class ReceiverConfigError(ReceiverError, SettingsError):
    """A receiver setting that cannot be used (bad `--db` URL, unsafe `--listen`, ...), or
    a database this receiver cannot use (a newer schema)."""


class StoreUnavailable(ReceiverError):
    """The database cannot be reached or cannot write (disk full, server down, ...).

    The push handler answers 503 so that the terminal keeps the record and retries.
    """


class BadQuery(ReceiverError):
    """A query parameter of the API that cannot be used; the message names the parameter."""

    def __init__(self, param: str, problem: str) -> None:
        self.param = param
        self.problem = problem
        super().__init__(f"{param}: {problem}")


class RecordRejected(ReceiverError):
    """The database refused one record's content (not the database being down).

    The writer then commits the batch's halves on their own (and theirs), so that one bad
    record cannot fail the others; the record that fails alone is refused with this
    message and quarantined. Any other unexpected error of a batch is isolated the same
    way and becomes this error for its culprit.
    """


class Busy(ReceiverError):
    """No budget for this body within the wait: the push is answered 503 (push again)."""


class WorkerFailed(ReceiverError):
    """A worker of `--workers N` could not start (it exited, or did not bind in time); its
    log lines above say why."""


class WorkersUnsupported(ReceiverConfigError):
    """`--workers N` (N > 1) with a store or feature that one process must own."""


class ForwardConfigError(ReceiverConfigError):
    """A `[[forward]]` table or `--forward URL` that cannot be used; names the key."""


class SinkError(ReceiverError):
    """Base class of what a sink raises; the message says what happened, in words."""


class SinkUnavailable(SinkError):
    """The sink is down, slow, or refuses the connection (or the credentials): try later."""


class RecordRefused(SinkError):
    """The sink refused this one record for good (e.g. HTTP 422): set it aside."""


class UnknownSink(ReceiverError, LookupError):
    """No forwarding sink has this name; the message lists the configured ones."""

    def __init__(self, name: str, known: Sequence[str]) -> None:
        names = ", ".join(repr(n) for n in known) or "none is configured"
        super().__init__(f"no sink named {name!r} (sinks: {names})")


# ---- tools -----------------------------------------------------------------------------


class DemoError(FacepushError):
    """A part of the demo could not start; the message names it and quotes its log."""
