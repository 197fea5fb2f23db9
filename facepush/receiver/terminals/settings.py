"""The `[[terminal]]` table of the receiver's settings, and a terminal's credentials.

A password comes from the table (`password`), from the variable it names
(`password_env`), or from `FACEPUSH_PASSWORD`, in that order; it is never logged and
never shown by the API.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import msgspec

from facepush.checks import existing_file
from facepush.errors import ReceiverConfigError
from facepush.settings import Option

PASSWORD_ENV = "FACEPUSH_PASSWORD"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def terminal_url(value: str) -> None:
    """The base URL of a terminal's API: http(s), a host, no credentials, no query."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise ValueError(
            f"expected an http:// or https:// URL like https://10.0.0.21:8000, got {value!r}"
        )
    try:
        host, _port = parts.hostname, parts.port
    except ValueError as exc:
        raise ValueError(f"has an invalid host or port: {exc}") from None
    if not host:
        raise ValueError(f"names no host: {value!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry credentials: give username, and password or password_env")
    if parts.query or parts.fragment:
        raise ValueError(f"must not have a query or fragment: {value!r}")


def env_name(value: str) -> None:
    if not _ENV_NAME.fullmatch(value):
        raise ValueError(f"is not an environment variable name: {value!r}")


class TerminalSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One managed terminal (`[[terminal]]`)."""

    url: Annotated[
        str, Option("The terminal's API, e.g. https://10.0.0.21:8000.", "URL", check=terminal_url)
    ]
    username: Annotated[str | None, Option("Its account.", "NAME")] = None
    password: Annotated[
        str | None,
        Option(f"Its password; better password_env, or {PASSWORD_ENV}.", "PASSWORD"),
    ] = None
    password_env: Annotated[
        str | None,
        Option("The environment variable that holds its password.", "NAME", check=env_name),
    ] = None
    ca: Annotated[
        Path | None, Option("Trust this CA for its certificate.", "FILE", check=existing_file)
    ] = None
    insecure: Annotated[bool, Option("Do not verify its certificate.")] = False
    subscribe: Annotated[
        bool | None,
        Option("Point its push at public_url (default: true when public_url is set)."),
    ] = None

    def __post_init__(self) -> None:
        # Raised as ValueError: the loader names the table ("terminal[2]: ...").
        if self.password is not None and self.password_env is not None:
            raise ValueError("give password or password_env, not both")
        if self.ca is not None and self.insecure:
            raise ValueError("give ca or insecure = true, not both")
        if self.username is None and (self.password is not None or self.password_env is not None):
            raise ValueError("a password needs a username")

    @property
    def base_url(self) -> str:
        return self.url.rstrip("/")

    def password_from(self, env: Mapping[str, str], where: str) -> str | None:
        """The password: from the table, the variable `password_env` names, or
        FACEPUSH_PASSWORD (for an account without either); None without an account.
        Raises ReceiverConfigError when `password_env` names a variable that is not set."""
        if self.username is None:
            return None
        if self.password is not None:
            return self.password
        if self.password_env is not None:
            if self.password_env not in env:
                raise ReceiverConfigError(
                    f"{where}.password_env: the environment variable {self.password_env} is "
                    "not set; export it before starting the receiver"
                )
            return env[self.password_env]
        return env.get(PASSWORD_ENV)


def check_terminals(terminals: tuple[TerminalSettings, ...], public_url: str | None) -> None:
    """What the tables cannot check alone: one table per terminal, and `subscribe = true`
    only with a URL to subscribe to."""
    seen: dict[str, int] = {}
    for index, terminal in enumerate(terminals, start=1):
        first = seen.setdefault(terminal.base_url, index)
        if first != index:
            raise ReceiverConfigError(
                f"terminal[{index}].url: {terminal.base_url} is terminal[{first}] already; "
                "list each terminal once"
            )
        if terminal.subscribe and public_url is None:
            raise ReceiverConfigError(
                f"terminal[{index}].subscribe: true needs public_url (--public-url), the "
                "push URL the terminal reaches this receiver at"
            )
