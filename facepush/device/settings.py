"""The terminal's settings: everything `facepush device serve` (and an embedded
`PushService`) can be told, with its default, its help and its check, in one place.

`facepush device serve --help` is generated from this class; docs/configuration.md shows
every key in a file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from facepush.checks import at_least, between, existing_file, listen_address, signing_secret
from facepush.device.history import HISTORY_IMAGES, HISTORY_LIMIT
from facepush.device.outbox import WhenFull
from facepush.errors import SetupError
from facepush.protocol.limits import CACHE_LIMIT
from facepush.settings import Option, Settings

LISTEN = "127.0.0.1:8000"  # the vendor's port, on loopback unless asked otherwise
DATA = Path("var/device")
TIMEOUT_S = 10.0
MAX_WINDOW = 1024
_PASSWORD_HELP = (
    "Its password. Prefer the environment variable: the command line shows in `ps`. From "
    "the environment it is used only together with a username."
)
_ALLOWED_HOST_HELP = (
    "Also answer requests for this Host name (repeatable). Bound to loopback, only loopback "
    "names and IP addresses are answered otherwise (DNS-rebinding defence); bound beyond "
    "loopback, any name unless this is given."
)


class DeviceSettings(Settings, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One terminal's push service. `data=None` (embedding only) keeps the outbox in
    memory and the push configuration nowhere."""

    error = SetupError

    listen: Annotated[str, Option("HOST:PORT of the API.", "HOST:PORT", check=listen_address)] = (
        LISTEN
    )
    data: Annotated[
        Path | None, Option("Durable state: configuration, outbox, history, clock.", "DIRECTORY")
    ] = DATA
    sn: Annotated[
        str | None, Option("Terminal serial number (fills a missing deviceSN).", "SERIAL")
    ] = None
    cache_limit: Annotated[int, Option("Records cached at most.", "N", check=at_least(1))] = (
        CACHE_LIMIT
    )
    when_full: Annotated[
        WhenFull,
        Option(
            "With the cache full: evict the oldest recognition, or refuse the new record.",
            "[drop-oldest|refuse-newest]",
        ),
    ] = WhenFull.DROP_OLDEST
    window: Annotated[
        int | None,
        Option(
            f"Records in flight at once, 1 to {MAX_WINDOW} (1 = strict order).",
            "N",
            check=between(1, MAX_WINDOW),
            shown_default="adaptive",
        ),
    ] = None
    username: Annotated[str | None, Option("The terminal's admin account.", "NAME")] = None
    password: Annotated[str | None, Option(_PASSWORD_HELP, "PASSWORD", env="FACEPUSH_PASSWORD")] = (
        None
    )
    tls_cert: Annotated[
        Path | None,
        Option(
            "Serve the API over HTTPS with this certificate (PEM, chain included).",
            "FILE",
            check=existing_file,
        ),
    ] = None
    tls_key: Annotated[Path | None, Option("Its key.", "FILE", check=existing_file)] = None
    ca: Annotated[
        Path | None,
        Option(
            "Trust this CA for an https destination.",
            "FILE",
            check=existing_file,
            shown_default="system trust",
        ),
    ] = None
    insecure: Annotated[bool, Option("Do not verify an https destination.")] = False
    signing_secret: Annotated[
        str | None,
        Option(
            "whsec_... : sign pushes (Standard Webhooks). Prefer the environment variable: "
            "the command line shows in `ps`.",
            "SECRET",
            env="FACEPUSH_SIGNING_SECRET",
            check=signing_secret,
        ),
    ] = None
    timeout: Annotated[
        float,
        Option(
            "Seconds to wait for the receiver's reply to one push.",
            "SECONDS",
            check=at_least(0.1),
        ),
    ] = TIMEOUT_S
    history_limit: Annotated[
        int,
        Option(
            "Recognition records kept in history (the oldest dropped first).",
            "N",
            check=at_least(1),
        ),
    ] = HISTORY_LIMIT
    history_images: Annotated[
        int,
        Option(
            'Newest history records whose snapshot is kept (older ones list rgb_image "").',
            "N",
            check=at_least(0),
        ),
    ] = HISTORY_IMAGES
    clock_offset: Annotated[
        float | None,
        Option(
            "Set the terminal's clock this many seconds ahead of the host's (negative: "
            "behind); kept in --data.",
            "SECONDS",
            check=between(-(10**9), 10**9),
            shown_default="the clock kept in --data",
        ),
    ] = None
    allow_remote_unauthenticated: Annotated[
        bool,
        Option(
            "Serve beyond loopback without an account (anyone on the network can configure it)."
        ),
    ] = False
    allowed_host: Annotated[tuple[str, ...], Option(_ALLOWED_HOST_HELP, "NAME")] = ()

    @classmethod
    def resolve(cls, values: dict[str, Any], sources: dict[str, str]) -> dict[str, Any]:
        # FACEPUSH_PASSWORD exported for the client commands must not half-configure an
        # account here: from the environment it counts only beside a username.
        if values.get("username") is None and sources.get("password") == "env":
            return {k: v for k, v in values.items() if k != "password"}
        return values
