"""The receiver's settings, as one value the CLI builds and `create_app` takes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from facepush.receiver.errors import ReceiverConfigError
from facepush.web import is_loopback

DEFAULT_LISTEN = "127.0.0.1:8080"
DEFAULT_DATA = Path("var/receiver")
DEFAULT_PATH = "/Record"
DEFAULT_LATE_AFTER_S = 300
# Real snapshots are tens of KB; 16 MiB leaves room for large alarm photos, and bounds
# what one request can make the server hold in memory.
DEFAULT_MAX_BODY = 16 * 1024 * 1024
SQLITE_FILE = "receiver.sqlite3"
# A token is the only thing between the network and the snapshots: long enough that
# guessing it (at most a few per minute, see facepush.throttle) is hopeless.
MIN_TOKEN_LENGTH = 16
# A page of /api/events, /api/devices or /api/alarms and a chunk of the CSV export stop
# at about this many bytes of stored text (a larger record comes alone), and a client of
# /api/stream has at most this much waiting for it: memory bounded by bytes, not rows.
DEFAULT_PAGE_BYTES = 4 * 1024 * 1024
DEFAULT_STREAM_BUFFER_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ReceiverConfig:
    """Everything `facepush receiver serve` can be told; defaults are the CLI's defaults."""

    db_url: str = f"sqlite:///{DEFAULT_DATA / SQLITE_FILE}"
    push_path: str = DEFAULT_PATH
    token: str | None = None
    signing_secret: str | None = None
    late_after_s: float = DEFAULT_LATE_AFTER_S
    keep_images_days: float | None = None
    max_body: int = DEFAULT_MAX_BODY
    # Host names answered besides loopback names and IP literals; None: every name
    # (facepush.sitepolicy; the CLI derives it from --listen and --allowed-host).
    allowed_hosts: frozenset[str] | None = frozenset()
    # How often the image retention runs (seconds); tests shorten it.
    purge_interval_s: float = 3600.0
    # Seconds between SSE keep-alive comments on /api/stream.
    keepalive_s: float = 15.0
    # A device counts as replaying a backlog while it sent a late record this recently (ms).
    replay_window_ms: int = 60_000
    # Byte bounds of API pages and export chunks, and of each stream client's buffer.
    page_bytes: int = DEFAULT_PAGE_BYTES
    stream_buffer_bytes: int = DEFAULT_STREAM_BUFFER_BYTES

    def __post_init__(self) -> None:
        if not self.push_path.startswith("/"):
            raise ReceiverConfigError(f"--path {self.push_path!r}: must start with '/'")
        if self.push_path.startswith("/api/") or self.push_path in {"/healthz", "/metrics", "/"}:
            raise ReceiverConfigError(
                f"--path {self.push_path!r}: collides with the receiver's API"
            )
        if self.max_body < 1024:
            raise ReceiverConfigError(f"--max-body {self.max_body}: must be at least 1024 bytes")
        if self.late_after_s < 0:
            raise ReceiverConfigError(f"--late-after {self.late_after_s}: must not be negative")
        if self.keep_images_days is not None and self.keep_images_days <= 0:
            raise ReceiverConfigError(f"--keep-images {self.keep_images_days}: must be above 0")
        if self.token is not None and len(self.token.strip()) < MIN_TOKEN_LENGTH:
            raise ReceiverConfigError(
                f"--token: must be at least {MIN_TOKEN_LENGTH} characters, got "
                f"{len(self.token.strip())}; make one with: python3 -c "
                "'import secrets; print(secrets.token_urlsafe(24))'"
            )


def default_db_url(data: Path) -> str:
    """The SQLite database under `--data` (`sqlite:///` + the path, absolute or relative)."""
    return f"sqlite:///{data / SQLITE_FILE}"


def check_bind(host: str, token: str | None, allow_remote_unauthenticated: bool) -> None:
    """Refuse to expose the query API without a token on a non-loopback address."""
    if token is None and not is_loopback(host) and not allow_remote_unauthenticated:
        raise ReceiverConfigError(
            f"refusing to listen on {host} without --token: the query API and the snapshots "
            "would be open to the network; set --token T, listen on 127.0.0.1, or pass "
            "--allow-remote-unauthenticated"
        )
