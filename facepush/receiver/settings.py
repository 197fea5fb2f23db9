"""The receiver's settings: everything `facepush receiver serve` (and `create_app`) can be
told, with its default, its help and its check, in one place.

`facepush receiver serve --help` is generated from this class; docs/configuration.md
shows every key in a file. A table is a field here typed by its own Struct
(`[attendance]`: AttendanceSettings; `[[terminal]]`: a tuple of TerminalSettings); one a
later version adds (`[[forward]]`) is in `planned` until then: a "not supported yet" error
rather than an unknown key.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import Annotated, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import msgspec

from facepush.checks import above, at_least, listen_address, signing_secret
from facepush.errors import ConfigError, ReceiverConfigError, WorkersUnsupported
from facepush.protocol.subscription import validate_dest
from facepush.receiver.attendance.rules import AttendanceSettings
from facepush.receiver.chaos import ChaosSpec
from facepush.receiver.forward.settings import ForwardSettings, check_names
from facepush.receiver.forward.tuning import Tuning as ForwardTuning
from facepush.receiver.store import check_url
from facepush.receiver.terminals.settings import TerminalSettings, check_terminals
from facepush.settings import Option, Settings
from facepush.web import is_loopback

LISTEN = "127.0.0.1:8080"
DATA = Path("var/receiver")
PUSH_PATH = "/Record"
LATE_AFTER_S = 300.0
TERMINAL_POLL_S = 30.0
RECONCILE_EVERY_S = 3600.0
# Real snapshots are tens of KB; 16 MiB leaves room for large alarm photos, and bounds
# what one request can make the server hold in memory.
MAX_BODY = 16 * 1024 * 1024
SQLITE_FILE = "receiver.sqlite3"
# A token is the only thing between the network and the snapshots: long enough that
# guessing it (at most a few per minute, see facepush.throttle) is hopeless.
MIN_TOKEN_LENGTH = 16
# A page of /api/events, /api/devices or /api/alarms and a chunk of the CSV export stop
# at about this many bytes of stored text (a larger record comes alone), and a client of
# /api/stream has at most this much waiting for it: memory bounded by bytes, not rows.
PAGE_BYTES = 4 * 1024 * 1024
STREAM_BUFFER_BYTES = 4 * 1024 * 1024
_OWN_PATHS = {"/healthz", "/metrics", "/"}


def push_path(value: str) -> None:
    if not value.startswith("/"):
        raise ValueError(f"must start with '/', got {value!r}")
    if value.startswith("/api/") or value in _OWN_PATHS:
        raise ValueError(f"{value!r} collides with the receiver's API")


def token(value: str) -> None:
    if len(value.strip()) < MIN_TOKEN_LENGTH:
        raise ValueError(
            f"must be at least {MIN_TOKEN_LENGTH} characters, got {len(value.strip())}; make "
            "one with: python3 -c 'import secrets; print(secrets.token_urlsafe(24))'"
        )


def database_url(value: str) -> None:
    check_url(value)  # the backends' own rules


def time_zone(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        names = sorted(available_timezones())
        same = [n for n in names if n.lower() == value.lower()]
        close = same or difflib.get_close_matches(value, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(
            f"unknown time zone {value!r}{hint}; give an IANA name such as Europe/Berlin, "
            "Asia/Shanghai or UTC"
        ) from None


def chaos_spec(value: str) -> None:
    ChaosSpec.parse(value)  # ChaosSpecError names the part


def push_url(value: str) -> None:
    """A URL a terminal accepts as its `event_dest` (ruling 4)."""
    try:
        validate_dest(value)
    except ConfigError as exc:
        raise ValueError(exc.problem) from None


class ReceiverSettings(Settings, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The integrator's receiver."""

    error = ReceiverConfigError
    planned: ClassVar[Mapping[str, str]] = {}

    listen: Annotated[str, Option("HOST:PORT to bind.", "HOST:PORT", check=listen_address)] = LISTEN
    workers: Annotated[
        int,
        Option(
            "Processes serving the one port (SO_REUSEPORT) on the one store, supervised by "
            "this one. See docs/receiver.md.",
            "N",
            check=at_least(1),
        ),
    ] = 1
    data: Annotated[Path, Option("Directory of the default SQLite database.", "DIRECTORY")] = DATA
    db: Annotated[
        str | None,
        Option(
            "sqlite:///PATH or postgresql://USER@HOST:PORT/DB.",
            "URL",
            check=database_url,
            shown_default=f"sqlite:///DATA/{SQLITE_FILE}",
        ),
    ] = None
    path: Annotated[str, Option("Where pushes are accepted.", "PATH", check=push_path)] = PUSH_PATH
    token: Annotated[
        str | None,
        Option(
            f"Protects everything but the push path and /healthz; at least {MIN_TOKEN_LENGTH} "
            "characters. Prefer the environment variable: the command line shows in `ps`.",
            "TOKEN",
            env="FACEPUSH_TOKEN",
            check=token,
        ),
    ] = None
    signing_secret: Annotated[
        str | None,
        Option(
            "whsec_...: verify Standard Webhooks signatures. Prefer the environment "
            "variable: the command line shows in `ps`.",
            "SECRET",
            env="FACEPUSH_SIGNING_SECRET",
            check=signing_secret,
        ),
    ] = None
    late_after: Annotated[
        float,
        Option(
            "Seconds after which an arriving record is marked late.",
            "SECONDS",
            check=at_least(0),
        ),
    ] = LATE_AFTER_S
    keep_images: Annotated[
        float | None,
        Option(
            "Days to keep snapshots; older ones are purged, records stay.",
            "DAYS",
            check=above(0),
            shown_default="forever",
        ),
    ] = None
    max_body: Annotated[
        int,
        Option(
            "Largest push body in bytes; larger ones get 413 and are quarantined.",
            "BYTES",
            check=at_least(1024),
        ),
    ] = MAX_BODY
    timezone: Annotated[
        str | None,
        Option(
            "IANA time zone (e.g. Europe/Berlin) of the local days: `today` on /api/devices "
            "and attendance.",
            "ZONE",
            check=time_zone,
            shown_default="the machine's zone",
        ),
    ] = None
    allow_remote_unauthenticated: Annotated[
        bool, Option("Allow a non-loopback --listen without --token.")
    ] = False
    allowed_host: Annotated[
        tuple[str, ...],
        Option(
            "Also answer requests for this Host name (repeatable). Bound to loopback, only "
            "loopback names and IP addresses are answered otherwise (DNS-rebinding "
            "defence); bound beyond loopback, any name unless this is given.",
            "NAME",
        ),
    ] = ()
    # [attendance] (docs/attendance.md): a table, written in the file only.
    attendance: AttendanceSettings = msgspec.field(default_factory=AttendanceSettings)
    forward: Annotated[
        tuple[ForwardSettings, ...],
        Option(
            "Forward every stored record to this sink (mqtt://, mqtts://, nats://, http://, "
            "https://), with the defaults; see docs/forwarding.md.",
            "URL",
            check=check_names,
            from_text=ForwardSettings.from_url,
        ),
    ] = ()
    public_url: Annotated[
        str | None,
        Option(
            "The push URL terminals reach this receiver at, e.g. http://10.0.0.2:8080/Record: "
            "managed terminals ([[terminal]]) are subscribed to it.",
            "URL",
            check=push_url,
        ),
    ] = None
    terminal_poll: Annotated[
        float,
        Option("Seconds between pings of each managed terminal.", "SECONDS", check=at_least(0.1)),
    ] = TERMINAL_POLL_S
    reconcile_every: Annotated[
        float,
        Option(
            "Seconds between reconciliations of each managed terminal's history.",
            "SECONDS",
            check=at_least(1),
        ),
    ] = RECONCILE_EVERY_S
    terminal: Annotated[
        tuple[TerminalSettings, ...],
        Option("Managed terminals: [[terminal]] tables (the file only)."),
    ] = ()
    chaos: Annotated[
        str | None,
        Option(
            "Fault injection on the push path, e.g. reset=0.05,http500=0.05,seed=7 (faults: "
            "late hang reset http500 garbage code drop-after-store; see "
            "docs/reliability.md).",
            "SPEC",
            check=chaos_spec,
        ),
    ] = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_terminals(self.terminal, self.public_url)
        check_workers(self.workers, bool(self.terminal))

    @property
    def db_url(self) -> str:
        """`db`, or the SQLite database under `data`."""
        return self.db or default_db_url(self.data)

    @property
    def zone(self) -> tzinfo | None:
        """The time zone of local days; None: the machine's (the process's `TZ`)."""
        return ZoneInfo(self.timezone) if self.timezone else None


@dataclass(frozen=True, slots=True)
class Tuning:
    """Intervals and byte bounds of the receiver's own work: not settings (no option, no
    key), but tests shorten them."""

    # How often the image retention runs (seconds).
    purge_interval_s: float = 3600.0
    # Seconds between SSE keep-alive comments on /api/stream.
    keepalive_s: float = 15.0
    # A device counts as replaying a backlog while it sent a late record this recently (ms).
    replay_window_ms: int = 60_000
    # Byte bounds of API pages and export chunks, and of each stream client's buffer.
    page_bytes: int = PAGE_BYTES
    stream_buffer_bytes: int = STREAM_BUFFER_BYTES
    # With --workers N: how often the stream reads what other workers stored (seconds).
    stream_poll_s: float = 0.25
    # Forwarding's intervals (save, poll, lease, backoff).
    forward: ForwardTuning = field(default_factory=ForwardTuning)
    # The quarantine's bounds (see receiver/quarantine.py): rows, and bytes of prefixes and
    # errors; the oldest are dropped first.
    quarantine_rows: int = 10_000
    quarantine_bytes: int = 32 * 1024 * 1024
    # Bytes of bodies larger than 256 KiB held at once (at least --max-body), the rate at
    # which such bodies are taken in (bytes/s), and how long a push waits for room before
    # it gets 503 (see receiver/budget.py).
    body_budget: int = 64 * 1024 * 1024
    large_body_rate: float = 32 * 1024 * 1024
    budget_wait_s: float = 10.0
    # The lean push path (receiver/lean.py) closes a connection idle this long after its
    # last answer (seconds; aiohttp's keep-alive timeout).
    lean_keepalive_s: float = 75.0
    # A reconciliation reads a terminal's history from its mark less this (seconds):
    # records of the mark's second made after the last run, and a clock set back a little.
    reconcile_overlap_s: float = 300.0


def default_db_url(data: Path) -> str:
    """The SQLite database under `--data` (`sqlite:///` + the path, absolute or relative)."""
    return f"sqlite:///{data / SQLITE_FILE}"


def check_workers(workers: int, managed: bool) -> None:
    """More than one worker cannot manage terminals (docs/receiver.md)."""
    if workers > 1 and managed:
        raise WorkersUnsupported(
            f"--workers {workers} cannot manage terminals ([[terminal]]): their state lives "
            "in one process; run managed terminals with --workers 1"
        )


def check_bind(host: str, token: str | None, allow_remote_unauthenticated: bool) -> None:
    """Refuse to expose the query API without a token on a non-loopback address."""
    if token is None and not is_loopback(host) and not allow_remote_unauthenticated:
        raise ReceiverConfigError(
            f"refusing to listen on {host} without --token: the query API and the snapshots "
            "would be open to the network; set --token T, listen on 127.0.0.1, or pass "
            "--allow-remote-unauthenticated"
        )
