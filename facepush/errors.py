"""The exception hierarchy: every error facepush raises on purpose derives from FacepushError.

Each error says what happened and, where it can, what to do about it.
"""

from __future__ import annotations


class FacepushError(Exception):
    """Base class of every error facepush raises on purpose."""


class SettingsError(FacepushError):
    """A server setting that cannot be used, from the command line, the environment or the
    config file; the message names the option or key and where it came from
    (`config.toml: cache_limit: must be at least 1`)."""


class ProtocolError(FacepushError):
    """Input that does not follow the push protocol."""


class DecodeError(ProtocolError):
    """A push body (or part of one) could not be decoded.

    `path` names the field, in dotted form (`data.user.guest_time_end`, `[3].data.uuid`,
    or `body` for the whole document); `problem` says what is wrong with it.
    """

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class ConfigError(DecodeError):
    """A push configuration (`/v1/event/subscribe` body) was refused; `path` names the field."""


class ImageError(ProtocolError):
    """A snapshot or alarm photo is not a usable base64 JPEG."""


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
