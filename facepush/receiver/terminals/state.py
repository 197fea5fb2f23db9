"""What the receiver knows of one managed terminal right now, and its `/api/terminals` item.

The item never holds a credential: no password, and an `event_dest` with userinfo is shown
redacted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from facepush.terminal_types import offset_words


@dataclass(slots=True)
class LastRun:
    """How the most recent reconciliation went (times in ms by the receiver's clock)."""

    started_at: int
    finished_at: int | None = None
    pages: int = 0
    read: int = 0  # history items read
    stored: int = 0  # of them stored (the receiver did not have them)
    duplicates: int = 0  # of them already stored
    refused: int = 0  # of them refused (quarantined, with the reason)
    error: str | None = None

    def item(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "pages": self.pages,
            "read": self.read,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "refused": self.refused,
            "error": self.error,
        }


@dataclass(slots=True)
class TerminalState:
    url: str
    serial: str | None = None
    model: str | None = None
    online: bool = False
    last_ping_at: int | None = None  # ms, the receiver's clock: the latest answered ping
    offline_since: int | None = None  # ms: the first unanswered ping since it last answered
    pings: int = 0  # rounds since the receiver started, answered or not
    clock_offset_ms: int | None = None  # terminal's clock minus the receiver's (ruling T1)
    event_dest: str | None = None  # where it pushes (redacted), as it last said
    subscribed: bool | None = None  # pushes to public_url; None without a public_url
    reconciled_until: int | None = None  # ms by the terminal's clock: the mark
    repaired: int = 0
    refused: int = 0  # history items refused since the receiver started
    reconciling: bool = False
    reconciliations: int = 0  # runs finished since the receiver started
    last_run: LastRun | None = None
    # The latest failure of the watch (ping, info, time, subscription) and of the
    # reconciliation, each cleared by its next success; `last_error` shows the first.
    watch_error: str | None = None
    reconcile_error: str | None = None

    @property
    def last_error(self) -> str | None:
        return self.watch_error or self.reconcile_error

    def item(self) -> dict[str, Any]:
        """The `/api/terminals` item."""
        return {
            "url": self.url,
            "serial": self.serial,
            "model": self.model,
            "online": self.online,
            "last_ping_at": self.last_ping_at,
            "offline_since": self.offline_since,
            "pings": self.pings,
            "clock_offset_ms": self.clock_offset_ms,
            "clock_offset_words": offset_words(self.clock_offset_ms),
            "event_dest": self.event_dest,
            "subscribed": self.subscribed,
            "reconciled_until": self.reconciled_until,
            "repaired": self.repaired,
            "refused": self.refused,
            "reconciling": self.reconciling,
            "reconciliations": self.reconciliations,
            "last_reconcile": self.last_run.item() if self.last_run else None,
            "last_error": self.last_error,
        }
