"""A bound on the bytes of push bodies held at once (read, decoded, waiting for a commit),
and on the rate at which large ones are taken in.

Without it, 48 pushes of 15 MiB arriving together made the receiver hold all of them: 1.6 GB.
A push takes budget for its body before reading it (its Content-Length; a body without one
takes budget as its chunks arrive) and gives it back when its reply is ready. A push that
cannot get budget waits, first come first served, at most `wait_s` seconds; then it gets 503
and the terminal retries later, keeping the record. Small bodies have a budget of their own,
so that a flood of large ones never holds up ordinary pushes.

Large bodies are also paced (LARGE_RATE bytes a second on average, bursts of the whole
budget): reading, hashing and parsing a body costs CPU in proportion to its size, so clients
pushing 15 MiB bodies as fast as they are taken would otherwise take the CPU from everyone
else. Real snapshots are tens of KB (the small budget, never paced); a paced push waits
before it is read, holding nothing but its connection.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass

from facepush.errors import Busy as Busy  # defined in facepush.errors; exported here as before

MIB = 1024 * 1024
SMALL_BODY = 256 * 1024  # up to this a body counts against the small budget
LARGE_BUDGET = 64 * MIB
SMALL_BUDGET = 16 * MIB
LARGE_RATE = 32 * MIB  # bytes a second of large bodies, on average
WAIT_S = 10.0


class Pace:
    """A token bucket: `rate` bytes a second on average, bursts up to `burst` bytes. A taker
    may run into debt; it then waits until the debt would have been paid."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.at = time.monotonic()

    def take(self, n: int) -> float:
        """Take `n` bytes; returns how many seconds to wait before using them."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate) - n
        self.at = now
        return max(0.0, -self.tokens / self.rate)

    def give_back(self, n: int) -> None:
        self.tokens += n


class ByteBudget:
    """A FIFO semaphore counted in bytes, on one event loop; optionally paced."""

    def __init__(self, total: int, wait_s: float, rate: float | None = None) -> None:
        self.total = total
        self.wait_s = wait_s
        self.free = total
        self.pace = Pace(rate, total) if rate else None
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    @property
    def in_use(self) -> int:
        return self.total - self.free

    async def acquire(self, n: int) -> int:
        """Take `n` bytes (at most all of the budget); returns what was taken."""
        n = min(n, self.total)
        wait_s = self.wait_s
        if self.pace is not None:
            delay = self.pace.take(n)
            if delay > wait_s:
                self.pace.give_back(n)
                raise Busy(
                    f"the receiver is taking in large pushes at its rate of "
                    f"{self.pace.rate / MIB:g} MiB/s; push again later"
                )
            if delay:
                await asyncio.sleep(delay)
                wait_s -= delay
        if not self._waiters and n <= self.free:
            self.free -= n
            return n
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((n, future))
        try:
            async with asyncio.timeout(wait_s):
                await future
        except BaseException as exc:
            if future.done() and not future.cancelled():
                self.release(n)  # granted just as the wait ended: give it back
            else:
                future.cancel()
                self._grant()  # a later, smaller waiter may fit now
            if isinstance(exc, TimeoutError):
                raise Busy(
                    f"the receiver is busy receiving other large pushes "
                    f"({self.total // MIB} MiB of bodies at once); push again later"
                ) from None
            raise
        return n

    def try_take(self, n: int) -> bool:
        """Take `n` bytes now if they are free and nobody waits; no pacing, no waiting
        (the lean push path takes small bodies this way, see lean.py)."""
        if self.pace is None and not self._waiters and n <= self.free:
            self.free -= n
            return True
        return False

    def release(self, n: int) -> None:
        self.free += n
        self._grant()

    def _grant(self) -> None:
        while self._waiters:
            n, future = self._waiters[0]
            if future.done():  # gave up waiting
                self._waiters.popleft()
                continue
            if n > self.free:
                return
            self._waiters.popleft()
            self.free -= n
            future.set_result(None)


@dataclass
class Grant:
    """The budget one push holds: `extend` takes more, `release` gives all of it back."""

    budget: ByteBudget
    held: int = 0

    async def extend(self, n: int) -> None:
        self.held += await self.budget.acquire(n)

    def release(self) -> None:
        if self.held:
            self.budget.release(self.held)
            self.held = 0


class BodyBudget:
    """The two budgets: bodies up to SMALL_BODY, and larger ones (or of unknown length)."""

    def __init__(
        self,
        large: int = LARGE_BUDGET,
        small: int = SMALL_BUDGET,
        wait_s: float = WAIT_S,
        rate: float | None = LARGE_RATE,
    ) -> None:
        self.large = ByteBudget(large, wait_s, rate)
        self.small = ByteBudget(small, wait_s)

    @property
    def in_use(self) -> int:
        return self.large.in_use + self.small.in_use

    def grant(self, length: int | None) -> Grant:
        """The (still empty) grant of a body of `length` bytes (None: unknown): from the
        small budget up to SMALL_BODY, else from the large one. (A plain object rather than
        a context manager: this runs for every push.)"""
        small = length is not None and length <= SMALL_BODY
        return Grant(self.small if small else self.large)
