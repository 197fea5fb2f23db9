"""The managed terminals of one receiver: a watcher and a reconciler per `[[terminal]]`,
`GET /api/terminals`, `POST /api/terminals/reconcile` and their metrics.

Each terminal has its own tasks and its own two clients (a short timeout for the pings, a
long one for history pages), so that a terminal that hangs, refuses or answers nonsense
delays nobody else. Every failure is caught where it happens and becomes that terminal's
`last_error`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from facepush.client import TerminalClient
from facepush.errors import BadQuery, ReceiverConfigError, StoreUnavailable, TLSConfigError
from facepush.metrics import metric
from facepush.receiver.ingest import Writer
from facepush.receiver.metrics import ReceiverMetrics
from facepush.receiver.settings import ReceiverSettings, Tuning
from facepush.receiver.sql import SqlStore
from facepush.receiver.store import Incoming, Store
from facepush.receiver.terminals.pages import PageContext
from facepush.receiver.terminals.reconcile import Reconciler
from facepush.receiver.terminals.settings import TerminalSettings
from facepush.receiver.terminals.state import TerminalState
from facepush.receiver.terminals.store import TerminalStore
from facepush.receiver.terminals.watch import Watcher, ping_timeout
from facepush.web import envelope

log = logging.getLogger("facepush.receiver.terminals")
HISTORY_TIMEOUT_S = 60.0  # one history page, snapshots included, on a slow link


class Managed:
    """One terminal: its settings, its state, its clients, watcher and reconciler."""

    def __init__(
        self,
        index: int,
        config: TerminalSettings,
        terminals: Terminals,
        env: Mapping[str, str],
    ) -> None:
        settings = terminals.settings
        where = f"terminal[{index}]"
        self.config = config
        self.state = TerminalState(url=config.base_url)
        password = config.password_from(env, where)
        try:
            self.pinger = self._client(password, ping_timeout(settings.terminal_poll))
            self.reader = self._client(password, HISTORY_TIMEOUT_S)
        except TLSConfigError as exc:
            raise ReceiverConfigError(f"{where}.ca: {exc}") from None
        subscribe = config.subscribe if config.subscribe is not None else bool(settings.public_url)
        self.watcher = Watcher(
            self.state,
            self.pinger,
            poll_s=settings.terminal_poll,
            public_url=settings.public_url,
            subscribe=subscribe,
            on_online=self._online,
            on_identified=self._save_identity,
        )
        self.terminals = terminals
        self.reconciler = Reconciler(
            self.state,
            self.reader,
            writer=terminals.writer,
            store=terminals.store,
            metrics=terminals.metrics,
            pool=terminals.pool,
            context=self._context,
            identify=self.watcher.identify,
            refresh_repaired=self.refresh_repaired,
            every_s=settings.reconcile_every,
            overlap_ms=int(terminals.tuning.reconcile_overlap_s * 1000),
        )
        self.tasks: list[asyncio.Task[None]] = []

    def _client(self, password: str | None, timeout: float) -> TerminalClient:
        config = self.config
        return TerminalClient(
            config.base_url,
            username=config.username,
            password=password,
            ca=str(config.ca) if config.ca is not None else None,
            insecure=config.insecure,
            timeout=timeout,
        )

    def _online(self) -> None:
        # The receiver's start (the first answer) and every return from offline.
        self.reconciler.request()

    async def _save_identity(self) -> None:
        state = self.state
        store, writer = self.terminals.store, self.terminals.writer
        try:
            await writer.run_exclusive(
                lambda: store.save(state.url, state.serial, state.model, None)
            )
        except StoreUnavailable as exc:
            log.warning("cannot keep what %s is: %s", state.url, exc)
        await self.refresh_repaired()

    def _context(self) -> PageContext:
        settings = self.terminals.settings
        return PageContext(
            url=self.state.url,
            source=urlsplit(self.state.url).hostname,
            serial=self.state.serial,
            late_after_ms=int(settings.late_after * 1000),
            max_body=settings.max_body,
        )

    async def refresh_repaired(self) -> None:
        serial = self.state.serial
        if serial is not None:
            counts = await asyncio.to_thread(self.terminals.store.repaired, [serial])
            self.state.repaired = counts.get(serial, 0)

    def start(self) -> None:
        self.tasks = [
            asyncio.create_task(self.watcher.run(), name=f"facepush-watch {self.state.url}"),
            asyncio.create_task(self.reconciler.run(), name=f"facepush-reconcile {self.state.url}"),
        ]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.pinger.close()
        await self.reader.close()


class Terminals:
    """Every managed terminal of a receiver."""

    def __init__(
        self,
        settings: ReceiverSettings,
        store: Store,
        writer: Writer,
        metrics: ReceiverMetrics,
        tuning: Tuning,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.writer = writer
        self.metrics = metrics
        self.tuning = tuning
        self.store: TerminalStore  # with terminals to manage only
        if settings.terminal:
            if not isinstance(store, SqlStore):
                raise ReceiverConfigError(
                    "managed terminals need an SQL store: give --db sqlite:///PATH or "
                    "postgresql://..."
                )
            self.store = TerminalStore(store)
        # One thread decodes history pages: a page at a time per terminal is plenty.
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="facepush-history")
        environ = os.environ if env is None else env
        self.managed = [
            Managed(i, config, self, environ) for i, config in enumerate(settings.terminal, 1)
        ]
        self._loop: asyncio.AbstractEventLoop | None = None
        if self.managed:
            writer.on_duplicates = self._on_duplicates
            metrics.sections.append(self.render_metrics)

    async def start(self) -> None:
        if not self.managed:
            return
        self._loop = asyncio.get_running_loop()
        saved = await asyncio.to_thread(self.store.load)
        for terminal in self.managed:
            state, known = terminal.state, saved.get(terminal.state.url)
            if known is not None:
                state.serial, state.model = known.serial, known.model
                state.reconciled_until = known.reconciled_until
            await terminal.refresh_repaired()
            terminal.start()

    async def stop(self) -> None:
        for terminal in self.managed:
            await terminal.stop()
        self.pool.shutdown(wait=True)

    def items(self) -> list[dict[str, Any]]:
        return [terminal.state.item() for terminal in self.managed]

    async def list_terminals(self, request: web.Request) -> web.Response:
        return envelope({"items": self.items()})

    async def reconcile_now(self, request: web.Request) -> web.Response:
        """`{}` reconciles every terminal, `{"url": ...}` one; the reply comes when the
        runs are done, with those terminals' items."""
        url = await _reconcile_body(request)
        chosen = [t for t in self.managed if url is None or t.state.url == url.rstrip("/")]
        if url is not None and not chosen:
            known = ", ".join(t.state.url for t in self.managed) or "none"
            msg = f"url: {url!r} is not a managed terminal ([[terminal]]); managed: {known}"
            return envelope(None, code=404, msg=msg, status=404)
        await asyncio.gather(*(t.reconciler.request() for t in chosen))
        return envelope({"items": [t.state.item() for t in chosen]})

    def _on_duplicates(self, duplicates: list[Incoming]) -> None:
        """On the writer thread: pushes of records already stored from history."""
        affected = self.store.note_pushed(duplicates)
        if not affected:
            return
        counts = self.store.repaired(sorted(affected))
        loop = self._loop
        if loop is not None:
            loop.call_soon_threadsafe(self._set_repaired, counts)

    def _set_repaired(self, counts: dict[str, int]) -> None:
        for terminal in self.managed:
            serial = terminal.state.serial
            if serial in counts:
                terminal.state.repaired = counts[serial]

    def render_metrics(self) -> str:
        states = [t.state for t in self.managed]
        offsets = [
            ({"terminal": s.url}, s.clock_offset_ms / 1000)
            for s in states
            if s.clock_offset_ms is not None
        ]
        return "".join(
            [
                metric(
                    "facepush_receiver_terminal_online",
                    "gauge",
                    "1 while the managed terminal answers its pings.",
                    [({"terminal": s.url}, int(s.online)) for s in states],
                ),
                metric(
                    "facepush_receiver_terminal_repaired",
                    "gauge",
                    "Records only the managed terminal's history had (stored by reconciliation).",
                    [({"terminal": s.url}, s.repaired) for s in states],
                ),
                metric(
                    "facepush_receiver_terminal_clock_offset_seconds",
                    "gauge",
                    "The terminal's clock minus the receiver's (shown only, never applied).",
                    offsets,
                ),
            ]
        )


async def _reconcile_body(request: web.Request) -> str | None:
    raw = await request.read()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError):
        raise BadQuery("body", 'not JSON; send {} or {"url": "https://..."}') from None
    if not isinstance(body, dict):
        raise BadQuery("body", 'expected a JSON object: {} or {"url": "https://..."}')
    unknown = sorted(set(body) - {"url"})
    if unknown:
        raise BadQuery(unknown[0], "unknown field; the body takes only url")
    url = body.get("url")
    if url is not None and not isinstance(url, str):
        raise BadQuery("url", f"expected a string, got {type(url).__name__}")
    return url
