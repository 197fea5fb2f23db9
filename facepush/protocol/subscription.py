"""The push configuration and its validation (rulings 3 and 4, docs/protocol-rulings.md)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from facepush.errors import ConfigError
from facepush.protocol.models import Subscription

MAX_DEST_LENGTH = 1024
_SCHEMES = {"http", "https"}


def validate_dest(value: Any) -> str:
    """An `event_dest` the terminal can push to; raises ConfigError naming the problem."""
    field = "event_dest"
    if not isinstance(value, str):
        raise ConfigError(field, f"must be a string URL, got {type(value).__name__}")
    if len(value) > MAX_DEST_LENGTH:
        raise ConfigError(field, f"is {len(value)} characters long; at most {MAX_DEST_LENGTH}")
    if not value or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        raise ConfigError(field, "must be a URL without spaces or control characters")
    parts = urlsplit(value)
    if parts.scheme.lower() not in _SCHEMES:
        shown = f"{parts.scheme}:" if parts.scheme else "none"
        raise ConfigError(field, f"must be an http or https URL (scheme is {shown})")
    try:
        host, _port = parts.hostname, parts.port
    except ValueError as exc:
        raise ConfigError(field, f"has an invalid port or host: {exc}") from None
    if not host:
        raise ConfigError(field, "must name a host, e.g. http://192.0.2.10:8080/Record")
    return value


def apply_update(current: Subscription | None, body: Any) -> Subscription:
    """The configuration after a `POST /v1/event/subscribe` with `body`.

    A field left out keeps its stored value; with nothing stored both are required.
    Raises ConfigError (naming the field) and then nothing changes.
    """
    if not isinstance(body, dict):
        raise ConfigError("body", "expected a JSON object with event_dest and enabled")
    unknown = sorted(set(body) - {"event_dest", "enabled"})
    if unknown:
        raise ConfigError(unknown[0], "is not a push configuration field")
    if "event_dest" in body:
        dest = validate_dest(body["event_dest"])
    elif current is not None:
        dest = current.event_dest
    else:
        raise ConfigError("event_dest", "is required (no destination is configured yet)")
    if "enabled" in body:
        if type(body["enabled"]) is not bool:
            raise ConfigError("enabled", f"must be a JSON boolean, got {body['enabled']!r}")
        enabled = body["enabled"]
    elif current is not None:
        enabled = current.enabled
    else:
        raise ConfigError("enabled", "is required (true or false)")
    return Subscription(event_dest=dest, enabled=enabled)
