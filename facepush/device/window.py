"""How many records may be in flight at once.

`FixedWindow(n)` keeps n. `AdaptiveWindow` follows Vector's adaptive request concurrency
(ARC): it measures the round-trip time over observation periods of about one RTT, keeps an
EWMA of it as the baseline, and at the end of each period
- shrinks multiplicatively when errors appeared or the RTT rose clearly above the baseline
  (the receiver or the link is queueing: more concurrency would only add latency),
- grows by one when the window was actually full and the RTT stayed near the baseline.
So a fast LAN and a 20 ms link both end up near what they allow, without overrunning a slow
receiver.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque


class FixedWindow:
    """A window of `size` slots, taken by one sender loop."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"window must be at least 1, got {size}")
        self._limit = size
        self.in_flight = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def limit(self) -> int:
        return self._limit

    def has_room(self) -> bool:
        return self.in_flight < self._limit

    async def wait_room(self) -> None:
        """Wait until a slot is free (the caller then `take`s it or not)."""
        while self.in_flight >= self._limit:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

    def take(self) -> None:
        self.in_flight += 1

    def release(self) -> None:
        self.in_flight -= 1
        self._wake()

    def record(self, rtt: float, ok: bool) -> None:
        """The outcome of one request: its round-trip time and whether the receiver coped."""

    def _wake(self) -> None:
        while self._waiters and self.in_flight < self._limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


class AdaptiveWindow(FixedWindow):
    def __init__(
        self,
        initial: int = 2,
        maximum: int = 64,
        *,
        decrease_ratio: float = 0.9,
        ewma_alpha: float = 0.4,
        deviation_scale: float = 2.5,
        min_period: float = 0.02,
    ) -> None:
        super().__init__(initial)
        self.maximum = maximum
        self._ratio = decrease_ratio
        self._alpha = ewma_alpha
        self._scale = deviation_scale
        self._min_period = min_period
        self._baseline: float | None = None  # EWMA of the period mean RTT
        self._deviation = 0.0  # EWMA of |mean - baseline|
        self._start_period()

    def _start_period(self) -> None:
        self._period_start = time.monotonic()
        self._rtt_sum = 0.0
        self._rtt_count = 0
        self._errors = 0
        self._was_full = False

    def take(self) -> None:
        super().take()
        if self.in_flight >= self._limit:
            self._was_full = True  # the window, not the queue, was the limit

    def record(self, rtt: float, ok: bool) -> None:
        if ok:
            self._rtt_sum += rtt
            self._rtt_count += 1
        else:
            self._errors += 1
        now = time.monotonic()
        period = max(self._min_period, self._baseline or 0.0)
        if now - self._period_start >= period:
            self._adjust()
            self._start_period()

    def _adjust(self) -> None:
        if self._errors:
            self._shrink()
            return
        if not self._rtt_count:
            return
        mean = self._rtt_sum / self._rtt_count
        if self._baseline is None:
            self._baseline = mean
            return
        threshold = max(self._deviation * self._scale, self._baseline * 0.05)
        if mean > self._baseline + threshold:
            self._shrink()
        elif self._was_full and self._limit < self.maximum:
            self._limit += 1
            self._wake()
        self._deviation += self._alpha * (abs(mean - self._baseline) - self._deviation)
        self._baseline += self._alpha * (mean - self._baseline)

    def _shrink(self) -> None:
        self._limit = max(1, int(self._limit * self._ratio))
