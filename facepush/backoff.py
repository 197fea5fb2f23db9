"""Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And
Jitter"): a fleet of terminals coming back at once spreads out instead of retrying in
lockstep. The delay is uniform in [0, min(cap, base * 2**n)].

Shared by both sides (a terminal's push service, the receiver's forwarding), which never
import each other: it lives here, beside them."""

from __future__ import annotations

import random


class Backoff:
    def __init__(
        self, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None
    ) -> None:
        if base <= 0 or cap < base:
            raise ValueError(f"backoff needs 0 < base <= cap, got base={base} cap={cap}")
        self.base = base
        self.cap = cap
        self.failures = 0
        self._rng = rng or random.Random()

    def ceiling(self, failures: int) -> float:
        """The largest delay after `failures` consecutive failures."""
        return min(self.cap, self.base * 2.0 ** min(failures - 1, 62)) if failures > 0 else 0.0

    def delay_for(self, failures: int) -> float:
        return self._rng.uniform(0.0, self.ceiling(failures))

    def next_delay(self) -> float:
        """Count one more failure and return how long to wait before trying again."""
        self.failures += 1
        return self.delay_for(self.failures)

    def reset(self) -> None:
        self.failures = 0
