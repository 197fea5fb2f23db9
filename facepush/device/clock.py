"""The terminal's clock: the host's clock plus an offset, so that an emulated terminal can
have a wrong clock the way real ones do (ruling T1).

Records the terminal makes carry this clock's time (a record handed over without
`timestamp` gets it; `facepush simulate` stamps its records by it), `GET /v1/device/time`
reports it, and `POST /v1/device/time` with `manual_mode: true` and `local_time` sets it.
`manual_mode: false` stands for NTP, which in the emulator is the host's clock: the offset
goes back to 0. The state is kept in `clock.json` in the data directory.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from facepush.errors import DataDirError
from facepush.files import write_atomically
from facepush.protocol.device import DEFAULT_ZONE, DeviceTime, TimeUpdate
from facepush.protocol.times import now_ms

CLOCK_FILE = "clock.json"
DEFAULT_NTP = "pool.ntp.org"


class ClockState(msgspec.Struct, kw_only=True):
    offset_ms: int = 0  # terminal clock minus host clock
    manual_mode: bool = False
    time_zone: int = DEFAULT_ZONE
    server_address: str = DEFAULT_NTP


class TerminalClock:
    """`offset_ms` given (e.g. `--clock-offset`) sets the clock by hand to host + offset."""

    def __init__(self, data_dir: Path | None = None, offset_ms: int | None = None) -> None:
        self._path = data_dir / CLOCK_FILE if data_dir is not None else None
        self.state = self._load()
        if offset_ms is not None:
            self.state = msgspec.structs.replace(self.state, offset_ms=offset_ms, manual_mode=True)
            self._save()

    @property
    def offset_ms(self) -> int:
        return self.state.offset_ms

    def now_ms(self) -> int:
        """The terminal's time, ms since the epoch."""
        return now_ms() + self.state.offset_ms

    def read(self) -> DeviceTime:
        s = self.state
        return DeviceTime(
            local_time=self.now_ms(),
            manual_mode=s.manual_mode,
            time_zone=s.time_zone,
            server_address=s.server_address,
        )

    def apply(self, update: TimeUpdate) -> bool:
        """Apply a checked update and persist it (blocking: the file is fsynced).

        Returns False when a `local_time` was given but ignored (manual_mode is false)."""
        s = self.state
        manual = s.manual_mode if update.manual_mode is None else update.manual_mode
        offset = s.offset_ms
        if not manual:
            offset = 0  # NTP: the host's clock
        elif update.local_time is not None:
            offset = update.local_time - now_ms()
        self.state = ClockState(
            offset_ms=offset,
            manual_mode=manual,
            time_zone=s.time_zone if update.time_zone is None else update.time_zone,
            server_address=s.server_address
            if update.server_address is None
            else update.server_address,
        )
        self._save()
        return update.local_time is None or manual

    def _load(self) -> ClockState:
        if self._path is None:
            return ClockState()
        try:
            return msgspec.json.decode(self._path.read_bytes(), type=ClockState)
        except FileNotFoundError:
            return ClockState()
        except (OSError, msgspec.DecodeError) as exc:
            raise DataDirError(
                f"cannot read the clock settings {self._path}: {exc}; fix or delete the file "
                "(the clock then follows the host's)"
            ) from None

    def _save(self) -> None:
        if self._path is None:
            return
        try:
            write_atomically(self._path, msgspec.json.encode(self.state))
        except OSError as exc:
            raise DataDirError(
                f"cannot save the clock settings {self._path}: {exc.strerror or exc}; check "
                "that the --data directory is writable"
            ) from None
