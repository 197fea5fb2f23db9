"""Watching one terminal: a ping every `terminal_poll` seconds, and while it answers its
clock and its push subscription; what it is (serial, model) when it comes online.

A ping that gets no answer marks the terminal offline at once, so a terminal that stops
answering is offline by the first ping after: within two intervals (the ping's own timeout
is below half an interval from 4 s on). Coming online (the first answer since the receiver
started, or the first after being offline) asks for a reconciliation.

The clock offset is measured (ruling T1) and shown; nothing uses it to change a record.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from facepush.client import TerminalClient
from facepush.errors import ClientError
from facepush.protocol.times import now_ms
from facepush.receiver.terminals.state import TerminalState
from facepush.redact import redact

log = logging.getLogger("facepush.receiver.terminals")
# The ping's timeout: at most half an interval, so that a terminal that hangs is offline
# within two; never below 2 s, which a loaded terminal may need to answer.
MIN_PING_TIMEOUT_S, MAX_PING_TIMEOUT_S = 2.0, 10.0


def ping_timeout(poll_s: float) -> float:
    return min(MAX_PING_TIMEOUT_S, max(MIN_PING_TIMEOUT_S, poll_s / 2))


class Watcher:
    def __init__(
        self,
        state: TerminalState,
        client: TerminalClient,
        *,
        poll_s: float,
        public_url: str | None,
        subscribe: bool,
        on_online: Callable[[], None],
        on_identified: Callable[[], Awaitable[None]],
    ) -> None:
        self.state = state
        self.client = client
        self.poll_s = poll_s
        self.public_url = public_url
        self.subscribe = subscribe
        self.on_online = on_online
        self.on_identified = on_identified

    async def run(self) -> None:
        """Poll on a fixed schedule until cancelled; a slow round skips the slots it took."""
        next_at = time.monotonic()
        while True:
            try:
                await self.poll()
            except Exception as exc:  # a bug must not end the watch of this terminal
                log.exception("watching %s", self.state.url)
                self.state.watch_error = f"unexpected error: {type(exc).__name__}: {exc}"
            next_at += self.poll_s
            now = time.monotonic()
            if next_at < now:
                next_at = now + self.poll_s - (now - next_at) % self.poll_s
            await asyncio.sleep(next_at - now)

    async def poll(self) -> None:
        """One round: ping; then identity (when unknown or back online), clock, subscription."""
        try:
            await self._poll()
        finally:
            self.state.pings += 1

    async def _poll(self) -> None:
        state = self.state
        try:
            await self.client.ping()
        except ClientError as exc:
            if state.online:
                log.warning("terminal %s is offline: %s", state.url, exc)
            if state.online or state.offline_since is None:
                state.offline_since = now_ms()
            state.online = False
            state.watch_error = f"ping: {exc}"
            return
        back = not state.online
        state.online, state.last_ping_at, state.offline_since = True, now_ms(), None
        if state.watch_error is not None and state.watch_error.startswith("ping: "):
            state.watch_error = None  # it answers; a later step says if something else fails
        if back:
            log.info("terminal %s is online", state.url)
        step = "info"
        try:
            if back or state.serial is None:
                await self.identify()
            step = "time"
            state.clock_offset_ms = (await self.client.time()).offset_ms
            step = "subscription"
            await self._subscription()
            state.watch_error = None  # every step worked
        except ClientError as exc:
            state.watch_error = f"{step}: {exc}"
        if back:
            self.on_online()

    async def identify(self) -> None:
        """What the terminal says it is (`GET /v1/device/info`)."""
        info = await self.client.info()
        changed = (info.device_sn or None, info.model or None) != (
            self.state.serial,
            self.state.model,
        )
        self.state.serial, self.state.model = info.device_sn or None, info.model or None
        if changed:
            await self.on_identified()

    async def _subscription(self) -> None:
        state = self.state
        current = await self.client.subscription()
        dest = current.event_dest if current is not None else None
        ours = current is not None and current.enabled and dest == self.public_url
        if self.public_url is not None and not ours and self.subscribe:
            shown = "nowhere" if current is None or not current.enabled else redact(dest or "")
            current = await self.client.subscribe(self.public_url)
            log.info(
                "terminal %s pushed to %s; subscribed it to %s", state.url, shown, self.public_url
            )
            dest = current.event_dest
            ours = current.enabled and dest == self.public_url
            if not ours:
                state.event_dest = redact(dest)
                state.subscribed = False
                raise ClientError(
                    f"{state.url} was subscribed to {self.public_url} but reads back "
                    f"{redact(dest)} (enabled={current.enabled})"
                )
        state.event_dest = redact(dest) if dest is not None else None
        if self.public_url is None:
            state.subscribed = None
        else:
            if not ours and state.subscribed is not False:
                log.warning(
                    "terminal %s pushes to %s, not to this receiver's %s (subscribe = false)",
                    state.url,
                    state.event_dest,
                    self.public_url,
                )
            state.subscribed = ours
