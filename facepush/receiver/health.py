"""`/healthz`, independent of query load.

The writer's most recent transaction answers for the store while it is recent: a commit
within the last few seconds means the store is fine, a write the store could not take
(disk full, server gone) means it is not, and neither costs a round trip. Only when the
writer has been idle is the store asked (`Store.ping`), on a thread and connection of
the health check's own, never queued behind the reader pool's queries; concurrent checks
share one ping in flight.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from facepush.errors import StoreUnavailable
from facepush.receiver.ingest import Writer
from facepush.receiver.store import Store
from facepush.web import envelope

# A commit (or failed write) this recent answers for the store (seconds).
FRESH_S = 5.0
# A ping without an answer this long counts as the store being unreachable (seconds).
PING_TIMEOUT_S = 5.0


class Health:
    def __init__(
        self,
        store: Store,
        writer: Writer,
        fresh_s: float = FRESH_S,
        timeout_s: float = PING_TIMEOUT_S,
    ) -> None:
        self.store = store
        self.writer = writer
        self.fresh_s = fresh_s
        self.timeout_s = timeout_s
        # One thread: its thread-local store connection is the health check's own.
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="facepush-health")
        self._ping: asyncio.Future[None] | None = None
        self.pings = 0  # how often the store was asked (tests and metrics)

    async def check(self) -> tuple[str, str | None]:
        """("ok", None), or ("failing" | "unreachable", why)."""
        last = self.writer.last_commit
        if last is not None and time.monotonic() - last.at <= self.fresh_s:
            if last.error is None:
                return "ok", None
            age = time.monotonic() - last.at
            return "failing", f"the last write failed {age:.1f} s ago: {last.error}"
        try:
            await asyncio.wait_for(asyncio.shield(self._shared_ping()), self.timeout_s)
        except StoreUnavailable as exc:
            return "unreachable", str(exc)
        except TimeoutError:
            return "unreachable", f"no answer within {self.timeout_s:g} s"
        return "ok", None

    def _shared_ping(self) -> asyncio.Future[None]:
        if self._ping is None or self._ping.done():
            self.pings += 1
            loop = asyncio.get_running_loop()
            self._ping = asyncio.wrap_future(self.pool.submit(self.store.ping), loop=loop)
            # Nobody may be waiting any more when a slow ping ends: mark its error seen.
            self._ping.add_done_callback(lambda f: f.cancelled() or f.exception())
        return self._ping

    async def handle(self, request: web.Request) -> web.Response:
        state, why = await self.check()
        if why is None:
            return envelope({"store": state})
        return envelope({"store": state}, code=503, msg=f"store {state}: {why}", status=503)

    def close(self) -> None:
        self.pool.shutdown(wait=True)
