"""Where a terminal stands: `in`, `out` or `both` (the default).

Two sources: `[attendance.direction]` in the configuration, and `PUT /api/devices/{serial}`
(stored in the database). The stored value wins; the configuration gives the direction of
every terminal without one, so that a site can be described in its file and corrected on
the running receiver. `PUT` with `{"direction": null}` removes the stored value and the
configured one (or `both`) applies again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from facepush.receiver.attendance.rules import Direction, parse_direction
from facepush.receiver.store import Store


class DirectionBook:
    def __init__(self, store: Store, configured: Mapping[str, str]) -> None:
        self.store = store
        self.configured: dict[str, Direction] = {
            serial: parse_direction(value, f"attendance.direction.{serial}")
            for serial, value in configured.items()
        }

    def effective(self) -> dict[str, Direction]:
        """The direction of every terminal that has one set (the others: `both`)."""
        return {**self.configured, **self.store.directions()}

    def of(self, serial: str, stored: Mapping[str, Direction] | None = None) -> dict[str, Any]:
        """`direction` and `direction_from` (`api`, `config` or `default`) of one terminal."""
        stored = self.store.directions() if stored is None else stored
        if serial in stored:
            return {"direction": stored[serial], "direction_from": "api"}
        if serial in self.configured:
            return {"direction": self.configured[serial], "direction_from": "config"}
        return {"direction": "both", "direction_from": "default"}

    def annotate(self, devices: list[dict[str, Any]]) -> None:
        """Add `direction` and `direction_from` to each item of /api/devices."""
        stored = self.store.directions()
        for device in devices:
            device.update(self.of(device["serial"], stored))
