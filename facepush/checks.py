"""Checks of setting values that both servers use. Each raises ValueError saying what is
wrong, without naming the setting: the caller names it, and where the value came from."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from facepush.protocol.signing import parse_secret
from facepush.web import parse_listen


def at_least(low: float) -> Callable[[float], None]:
    def check(value: float) -> None:
        if value < low:
            raise ValueError(f"must be at least {_number(low)}, got {_number(value)}")

    return check


def above(low: float) -> Callable[[float], None]:
    def check(value: float) -> None:
        if value <= low:
            raise ValueError(f"must be above {_number(low)}, got {_number(value)}")

    return check


def between(low: float, high: float) -> Callable[[float], None]:
    def check(value: float) -> None:
        if not low <= value <= high:
            raise ValueError(
                f"must be from {_number(low)} to {_number(high)}, got {_number(value)}"
            )

    return check


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def listen_address(value: str) -> None:
    parse_listen(value)  # ListenError says what is wrong


def existing_file(value: Path) -> None:
    if not value.is_file():
        raise ValueError(f"no such file: {str(value)!r}")


def signing_secret(value: str) -> None:
    parse_secret(value)  # SignatureError says what a usable secret looks like
