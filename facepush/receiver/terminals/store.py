"""The durable part of managed terminals, in portable SQL (`?` placeholders) run through
the store's two primitives: `SqlStore.query` (a reader thread) and `SqlStore.execute`
(one transaction on the writer thread). The tables are schema version 4's.

- `terminals`: per terminal URL, the reconciliation mark (`reconciled_until`, ms by the
  terminal's clock: the newest history record read) and its serial and model.
- `history_pushed`: the history records a push delivered after all. A terminal's
  `repaired` is the records stored from its history (origin 'history', its serial) less
  these: what only the history had. Counting from the stored rows, not keeping a counter,
  makes it exact whichever came first, the push or the reconciliation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from facepush.protocol.times import now_ms
from facepush.receiver.sql import SqlStore
from facepush.receiver.store import Incoming

_CHUNK = 500  # keys per statement: far below either database's parameter limit

_SAVE = """
INSERT INTO terminals (url, serial, model, reconciled_until, updated_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (url) DO UPDATE SET
    serial = COALESCE(excluded.serial, terminals.serial),
    model = COALESCE(excluded.model, terminals.model),
    reconciled_until = COALESCE(excluded.reconciled_until, terminals.reconciled_until),
    updated_at = excluded.updated_at
"""


@dataclass(frozen=True, slots=True)
class Saved:
    """What the store holds of one terminal."""

    serial: str | None
    model: str | None
    reconciled_until: int | None


class TerminalStore:
    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def load(self) -> dict[str, Saved]:
        """Every terminal the store knows, by URL."""
        rows = self.store.query("SELECT url, serial, model, reconciled_until FROM terminals")
        return {url: Saved(serial, model, until) for url, serial, model, until in rows}

    def save(
        self, url: str, serial: str | None, model: str | None, reconciled_until: int | None
    ) -> None:
        """Keep what is given (None keeps the stored value). On the writer thread."""
        self.store.execute([(_SAVE, [url, serial, model, reconciled_until, now_ms()])])

    def repaired(self, serials: Sequence[str]) -> dict[str, int]:
        """Per serial: records stored from history that no push delivered afterwards."""
        if not serials:
            return {}
        marks = ", ".join("?" * len(serials))
        stored = self.store.query(
            "SELECT device, COUNT(*) FROM events WHERE origin = 'history' "
            f"AND device IN ({marks}) GROUP BY device",
            list(serials),
        )
        pushed = self.store.query(
            f"SELECT device, COUNT(*) FROM history_pushed WHERE device IN ({marks}) "
            "GROUP BY device",
            list(serials),
        )
        later = {device: int(n) for device, n in pushed}
        counts = dict.fromkeys(serials, 0)
        for device, n in stored:
            counts[device] = int(n) - later.get(device, 0)
        return counts

    def note_pushed(self, duplicates: Sequence[Incoming]) -> set[str]:
        """Note the pushes among `duplicates` whose record was stored from history; returns
        the serials whose `repaired` thereby fell. On the writer thread."""
        keys = [item.key for item in duplicates if item.origin == "push"]
        affected: set[str] = set()
        at = now_ms()
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            # SQLite needs the WHERE in INSERT ... SELECT to read ON CONFLICT as the upsert.
            statement = (
                "INSERT INTO history_pushed (key, device, pushed_at) "
                f"SELECT key, device, ? FROM events WHERE origin = 'history' AND key IN ({marks}) "
                "ON CONFLICT (key) DO NOTHING RETURNING device"
            )
            (rows,) = self.store.execute([(statement, [at, *chunk])])
            affected.update(device for (device,) in rows if device is not None)
        return affected
