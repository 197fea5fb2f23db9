"""A sink's settings: one `[[forward]]` table, or one `--forward URL` with the defaults.

Each field carries its check (the settings run them and name the place:
`config.toml: forward[2].url: ...`, counted from 1 as a reader counts the tables of a
file); checks across a table's fields run when it is made, across sinks in the
`forward` setting's own check. `check_sinks` runs all of them for sinks made in code.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import msgspec

from facepush.errors import (
    ForwardConfigError as ForwardConfigError,  # defined in facepush.errors; exported here as before
)
from facepush.errors import SignatureError
from facepush.protocol.signing import parse_secret
from facepush.redact import redact
from facepush.settings import Option

Kind = Literal["mqtt", "nats", "webhook"]
RecordType = Literal["recognition", "alarm"]
SCHEMES: dict[str, Kind] = {
    "mqtt": "mqtt",
    "mqtts": "mqtt",
    "nats": "nats",
    "http": "webhook",
    "https": "webhook",
}
TYPE_CODES: dict[str, int] = {"recognition": 0, "alarm": 1}
MAX_WINDOW = 1024
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# A prefix that is a valid MQTT topic and NATS subject start: no wildcards, no spaces.
_TOPIC = re.compile(r"[A-Za-z0-9_-]+(?:[/.][A-Za-z0-9_-]+)*")
_STREAM = re.compile(r"[A-Za-z0-9_-]{1,64}")


def check_name(value: str) -> None:
    if not _NAME.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a sink name: use 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit (the position is kept under it)"
        )


def check_url(value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in SCHEMES:
        known = ", ".join(f"{s}://" for s in SCHEMES)
        raise ValueError(f"unknown scheme in {redact(value)!r}: expected one of {known}")
    if not parts.hostname:
        raise ValueError(f"{redact(value)!r} has no host")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise ValueError(f"{redact(value)!r} has a port that is not a number") from None


def check_topic(value: str) -> None:
    if not _TOPIC.fullmatch(value):
        raise ValueError(
            f"{value!r}: use letters, digits, '_' and '-', in parts joined by '/' or '.' "
            "(no wildcards, no spaces, no empty parts)"
        )


def check_stream(value: str) -> None:
    if not _STREAM.fullmatch(value):
        raise ValueError(f"{value!r}: a JetStream stream name is 1-64 letters, digits, '_', '-'")


def check_types(value: Sequence[str]) -> None:
    if not value:
        raise ValueError("name at least one of 'recognition', 'alarm'")
    if len(set(value)) != len(value):
        raise ValueError("each type at most once")


def check_window(value: int) -> None:
    if not 1 <= value <= MAX_WINDOW:
        raise ValueError(f"must be between 1 and {MAX_WINDOW}, got {value}")


def check_timeout(value: float) -> None:
    if not value > 0:
        raise ValueError(f"must be above 0 seconds, got {value}")


def check_ca(value: str) -> None:
    if not Path(value).is_file():
        raise ValueError(f"{value!r} is not a file (a CA bundle in PEM)")


def check_secret(value: str) -> None:
    try:
        parse_secret(value)
    except SignatureError as exc:
        raise ValueError(str(exc)) from None


class ForwardSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One sink (a `[[forward]]` table). Its position is kept under `name`: renaming a sink
    starts it afresh, from the first stored record."""

    name: Annotated[str, Option("Unique; the sink's position is kept under it.", check=check_name)]
    url: Annotated[
        str,
        Option(
            "mqtt://, mqtts://, nats://, http:// or https://; userinfo = credentials.",
            check=check_url,
        ),
    ]
    topic: Annotated[str, Option("MQTT topic prefix / NATS subject prefix.", check=check_topic)] = (
        "facepush"
    )
    types: Annotated[
        tuple[RecordType, ...], Option("The kinds of record sent here.", check=check_types)
    ] = ("recognition", "alarm")
    late: Annotated[
        Literal["forward", "skip"],
        Option('"skip": records marked late (a replayed backlog) are not sent here.'),
    ] = "forward"
    homeassistant: Annotated[
        bool, Option("MQTT: Home Assistant MQTT discovery for every terminal.")
    ] = False
    discovery_prefix: Annotated[
        str, Option("MQTT: Home Assistant's discovery prefix.", check=check_topic)
    ] = "homeassistant"
    secret: Annotated[
        str | None,
        Option("http(s): whsec_... to sign each delivery (Standard Webhooks).", check=check_secret),
    ] = None
    stream: Annotated[
        str, Option("NATS: the JetStream stream, created when missing.", check=check_stream)
    ] = "FACEPUSH"
    window: Annotated[int, Option("Records in flight at once.", check=check_window)] = 64
    timeout: Annotated[
        float, Option("Seconds to wait for one acknowledgement.", check=check_timeout)
    ] = 10.0
    ca: Annotated[
        str | None,
        Option("mqtts/https: a CA bundle (PEM) to trust for the sink.", check=check_ca),
    ] = None

    def __post_init__(self) -> None:
        # Checks across this table's fields (msgspec names the table: `forward[2]`).
        problem = _across_fields(self)
        if problem:
            raise ValueError(problem)

    @property
    def kind(self) -> Kind:
        return SCHEMES[urlsplit(self.url).scheme]

    @property
    def type_codes(self) -> tuple[int, ...]:
        return tuple(TYPE_CODES[t] for t in self.types)

    @classmethod
    def from_url(cls, url: str) -> ForwardSettings:
        """`--forward URL`: the defaults, named after the URL (without its credentials)."""
        check_url(url)
        return cls(name=name_for(url), url=url)


def name_for(url: str) -> str:
    """A sink name from a URL: `mqtt-127.0.0.1-1883`, `webhook-example.com-hooks-in`."""
    parts = urlsplit(url)
    words = [SCHEMES.get(parts.scheme, parts.scheme), parts.hostname or "", str(parts.port or "")]
    words += [w for w in re.split(r"[^A-Za-z0-9_.-]+", parts.path) if w]
    name = "-".join(w for w in words if w)
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:64]


def check_names(sinks: Sequence[ForwardSettings]) -> None:
    """Each sink needs a name of its own (the `forward` setting's check)."""
    first: dict[str, int] = {}
    for index, sink in enumerate(sinks, start=1):
        if sink.name in first:
            raise ValueError(
                f"[[forward]] tables {first[sink.name]} and {index} are both named "
                f"{sink.name!r}; each sink needs a name of its own (its position is kept "
                "under it)"
            )
        first[sink.name] = index


def check_sinks(sinks: Sequence[ForwardSettings]) -> None:
    """Every check of every sink, as the settings run them; raises ForwardConfigError
    naming the place (`forward[1].url: ...`). For sinks made in code."""
    hints = typing.get_type_hints(ForwardSettings, include_extras=True)
    for index, sink in enumerate(sinks, start=1):
        for key, hint in hints.items():
            option = next(
                (m for m in getattr(hint, "__metadata__", ()) if isinstance(m, Option)), None
            )
            value = getattr(sink, key)
            if option is None or option.check is None or value is None:
                continue
            try:
                option.check(value)
            except ValueError as exc:
                raise ForwardConfigError(f"forward[{index}].{key}: {exc}") from None
    try:
        check_names(sinks)
    except ValueError as exc:
        raise ForwardConfigError(f"forward: {exc}") from None


def _across_fields(sink: ForwardSettings) -> str | None:
    scheme = urlsplit(sink.url).scheme
    kind = SCHEMES.get(scheme)
    if kind is None:
        return None  # the url's own check says so
    if sink.homeassistant and kind != "mqtt":
        return (
            f"homeassistant: Home Assistant discovery needs an mqtt:// or mqtts:// sink, not {kind}"
        )
    if sink.secret is not None and kind != "webhook":
        return f"secret: signing is for http(s):// webhooks, not {kind}"
    if sink.ca is not None and scheme not in {"mqtts", "https"}:
        return "ca: a CA is for mqtts:// or https:// only"
    return None
