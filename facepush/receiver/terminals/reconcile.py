"""Reconciling one terminal: page its history from the mark, store what the receiver does
not have, move the mark.

A run pages the history oldest first from the mark less an overlap (records of the same
second made after the last run, and a terminal clock set back a little, fall inside it),
200 items a page. Each page is decoded on a worker thread (facepush.receiver.terminals.
pages) and submitted to the Writer as one batch: the push path's group commit, identity
rule (a record pushed and read from history is stored once, ruling H3), limits and
quarantine. The mark (the newest time read, by the terminal's clock) is saved after the
pages before it are committed, at most once a second and at the end: a run that stops
half-way (the terminal went away, the store failed, the receiver stopped) goes on from
there next time, reading at most a second's pages again, as duplicates.

A run starts when asked (`request`: the receiver's start and a terminal coming back
online, both through the watcher, and `POST /api/terminals/reconcile`) and every
`reconcile_every` seconds while the terminal is online.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor

from facepush.client import TerminalClient
from facepush.errors import ClientError, RecordRejected, StoreUnavailable
from facepush.protocol.history import MAX_LIMIT
from facepush.protocol.times import now_ms
from facepush.receiver.ingest import Writer
from facepush.receiver.metrics import ReceiverMetrics
from facepush.receiver.store import Incoming, Item, StoreOutcome
from facepush.receiver.terminals.pages import (
    REJECTED,
    DecodedPage,
    PageContext,
    decode_page,
    rejected,
)
from facepush.receiver.terminals.state import LastRun, TerminalState
from facepush.receiver.terminals.store import TerminalStore

log = logging.getLogger("facepush.receiver.terminals")
SAVE_EVERY_S = 1.0


class Reconciler:
    def __init__(
        self,
        state: TerminalState,
        client: TerminalClient,
        *,
        writer: Writer,
        store: TerminalStore,
        metrics: ReceiverMetrics,
        pool: Executor,
        context: Callable[[], PageContext],
        identify: Callable[[], Awaitable[None]],
        refresh_repaired: Callable[[], Awaitable[None]],
        every_s: float,
        overlap_ms: int,
    ) -> None:
        self.state = state
        self.client = client
        self.writer = writer
        self.store = store
        self.metrics = metrics
        self.pool = pool
        self.context = context
        self.identify = identify
        self.refresh_repaired = refresh_repaired
        self.every_s = every_s
        self.overlap_ms = overlap_ms
        self._wanted = asyncio.Event()
        self._waiters: list[asyncio.Future[None]] = []
        # Digests of the items refused with their times: the overlap reads them again.
        self._refused: dict[str, int] = {}

    def request(self) -> asyncio.Future[None]:
        """Ask for a run; the future is done when a run that started after now ended."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        self._wanted.set()
        return future

    async def run(self) -> None:
        """Run when asked, and every `every_s` seconds while online, until cancelled."""
        last_end = time.monotonic()
        while True:
            remaining = last_end + self.every_s - time.monotonic()
            try:
                await asyncio.wait_for(self._wanted.wait(), timeout=max(0.0, remaining))
            except TimeoutError:
                if not self.state.online:
                    last_end = time.monotonic()  # coming back online asks by itself
                    continue
            self._wanted.clear()
            waiters, self._waiters = self._waiters, []
            try:
                await self.reconcile()
            finally:
                last_end = time.monotonic()
                for future in waiters:
                    if not future.done():
                        future.set_result(None)

    async def reconcile(self) -> LastRun:
        """One run; its outcome is also the terminal's `last_reconcile` (and any failure
        its `last_error`)."""
        state = self.state
        run = LastRun(started_at=now_ms())
        state.reconciling, state.last_run = True, run
        step = "info"
        try:
            if state.serial is None:  # its serial marks what its history repaired
                await self.identify()
            step = "history"
            await self._pages(run)
            state.reconcile_error = None
        except ClientError as exc:
            run.error = state.reconcile_error = f"{step}: {exc}"
        except StoreUnavailable as exc:
            run.error = state.reconcile_error = f"storage unavailable: {exc}"
        except Exception as exc:  # a bug must not end the reconciliation of this terminal
            log.exception("reconciling %s", state.url)
            run.error = state.reconcile_error = f"unexpected error: {type(exc).__name__}: {exc}"
        finally:
            run.finished_at = now_ms()
            state.reconciling = False
            state.reconciliations += 1
        if run.error:
            log.warning("reconciling %s stopped: %s", state.url, run.error)
        elif run.stored or run.refused:
            log.info(
                "reconciled %s: %d history records read, %d stored, %d refused",
                state.url,
                run.read,
                run.stored,
                run.refused,
            )
        try:
            await self.refresh_repaired()
        except StoreUnavailable as exc:
            log.warning("cannot count what %s's history repaired: %s", state.url, exc)
        return run

    async def _pages(self, run: LastRun) -> None:
        state = self.state
        mark = state.reconciled_until
        since = None if mark is None else max(1, (mark - self.overlap_ms) // 1000)
        self._forget_refused(since)
        context = self.context()
        saved_at, unsaved = time.monotonic(), False
        loop = asyncio.get_running_loop()
        try:
            async for batch in self.client.history_batches(since=since, page_size=MAX_LIMIT):
                run.pages += 1
                if not batch:
                    continue
                refused_before = set(self._refused)
                page = await loop.run_in_executor(
                    self.pool, decode_page, batch, context, refused_before
                )
                await self._store(page, context, run)
                run.read += len(batch)
                if page.newest_ms is not None:
                    mark = page.newest_ms if mark is None else max(mark, page.newest_ms)
                    state.reconciled_until, unsaved = mark, True
                if time.monotonic() - saved_at >= SAVE_EVERY_S:
                    await self._save(mark)
                    saved_at, unsaved = time.monotonic(), False
        finally:
            if unsaved:  # what was committed so far, also when the run stops half-way
                await self._save(mark)

    async def _store(self, page: DecodedPage, context: PageContext, run: LastRun) -> None:
        outcomes = await self.writer.submit_all(page.items)
        again: list[Item] = []
        for index, (item, outcome) in enumerate(zip(page.items, outcomes, strict=True)):
            if isinstance(outcome, StoreUnavailable):
                raise outcome
            if isinstance(outcome, RecordRejected):
                again.append(rejected(outcome, page.originals[index], context))
                self.metrics.history_refused[REJECTED] += 1
            elif outcome is StoreOutcome.QUARANTINED:
                self.metrics.history_refused[page.reasons[index]] += 1
            elif outcome is StoreOutcome.STORED and isinstance(item, Incoming):
                run.stored += 1
                self.metrics.history_stored += 1
            elif outcome is StoreOutcome.DUPLICATE:
                run.duplicates += 1
                self.metrics.history_duplicates += 1
        if again:
            for outcome in await self.writer.submit_all(again):
                if isinstance(outcome, Exception):
                    raise StoreUnavailable(f"cannot quarantine a refused record: {outcome}")
        refused = len(page.reasons) + len(again)
        run.refused += refused
        self.state.refused += refused
        for digest in page.refused_digests:
            self._refused[digest] = page.newest_ms or 0

    async def _save(self, mark: int | None) -> None:
        state = self.state
        await self.writer.run_exclusive(
            lambda: self.store.save(state.url, state.serial, state.model, mark)
        )

    def _forget_refused(self, since: int | None) -> None:
        """Refusals older than this run reads cannot come again."""
        if since is not None:
            cut = since * 1000
            self._refused = {d: at for d, at in self._refused.items() if at >= cut}
