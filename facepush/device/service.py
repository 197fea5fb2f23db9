"""PushService: one terminal's push service, embeddable without the HTTP intake.

    service = PushService.create("/var/lib/facepush")   # or PushService(DeviceSettings(...))
    await service.start()
    await service.record({"type": 0, "data": {...}})   # returns once the record is on disk
    await service.stop()

Guarantees (docs/device.md says them in full): when `record()` returns, the records are
committed to the outbox (SQLite, WAL, synchronous=FULL) and survive a crash; a record is
removed only after the receiver acknowledged it, so a crash may re-send (never lose) a
record; records are evicted only by the cache cap, counted and logged.

Beside the push cache the service keeps what the terminal's other endpoints serve: the
history of every recognition (`history`), the live stream (`live`), the terminal's clock
(`clock`) and its identity (`info()`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from facepush.backoff import Backoff
from facepush.device.clock import TerminalClock
from facepush.device.datadir import DataDir
from facepush.device.delivery import Deliverer
from facepush.device.history import AsyncHistory, History
from facepush.device.info import device_info
from facepush.device.intake import Handed, prepare
from facepush.device.live import LiveHub
from facepush.device.memory_history import MemoryHistory
from facepush.device.memory_outbox import MemoryOutbox
from facepush.device.outbox import AddResult, NewRecord, Outbox, WhenFull
from facepush.device.sender import Destination
from facepush.device.settings import DeviceSettings
from facepush.device.sqlite_history import SQLiteHistory
from facepush.device.sqlite_outbox import SQLiteOutbox
from facepush.device.threads import OutboxThreads
from facepush.errors import BatchTooLargeError, NotRunningError
from facepush.protocol.device import DeviceInfo, DeviceTime, parse_time_update
from facepush.protocol.jsontext import parse_json
from facepush.protocol.models import Subscription
from facepush.protocol.signing import parse_secret
from facepush.protocol.subscription import apply_update
from facepush.protocol.times import now_ms
from facepush.redact import RedactingFilter, redact
from facepush.tls import client_context

log = logging.getLogger("facepush.device")
# Delivery errors name the destination: its credentials stay out of the log.
log.addFilter(RedactingFilter())
WARN_AT, REARM_AT = 0.8, 0.7  # cache fill ratios for the warning


@dataclass(frozen=True, slots=True)
class RecordResult:
    accepted: int  # committed to the outbox
    evicted: int  # older records evicted to make room (drop-oldest)
    # not queued because push is disabled or unconfigured (ruling 9, docs/protocol-rulings.md)
    skipped: int


class PushService:
    """One terminal's push service, made from its settings (`DeviceSettings`: the same
    object `facepush device serve` builds from its options and config file). The keyword
    arguments are collaborators a test or a tool passes in, not settings."""

    def __init__(
        self,
        settings: DeviceSettings,
        *,
        outbox: Outbox | None = None,
        max_refusals: int = 5,
        backoff: Backoff | None = None,
        refusal_backoff: Backoff | None = None,
        session: aiohttp.ClientSession | None = None,
        history: History | None = None,
    ) -> None:
        self.settings = settings
        self.data_dir = settings.data
        self.sn = settings.sn
        self.cache_limit = outbox.limit if outbox is not None else settings.cache_limit
        self.when_full = WhenFull(settings.when_full)
        self._given_outbox = outbox
        self._trust = (
            client_context(settings.ca, settings.insecure)
            if settings.ca or settings.insecure
            else None
        )
        secret = settings.signing_secret
        self._signing_key = parse_secret(secret) if secret else None
        self._max_refusals = max_refusals
        self._backoff = backoff
        self._refusal_backoff = refusal_backoff
        self._session = session
        self._dir: DataDir | None = None
        self._threads: OutboxThreads | None = None
        self._deliverer: Deliverer | None = None
        self._subscription: Subscription | None = None
        self._warned_full = False
        self._given_history = history
        offset = settings.clock_offset
        self._clock_offset_ms = None if offset is None else round(offset * 1000)
        self._history: AsyncHistory | None = None
        self.clock = TerminalClock(offset_ms=self._clock_offset_ms)  # replaced by the saved one
        self.live = LiveHub()

    @classmethod
    def create(cls, data_dir: str | Path | None = None, **options: Any) -> PushService:
        """The service with these settings by keyword, the rest at their defaults:
        `PushService.create("/var/lib/facepush", sn="PSC700C0MC22F02542")`. Without
        `data_dir` the outbox is in memory. A bad value raises SetupError naming it."""
        return cls(DeviceSettings.of(data=data_dir, **options))

    # -- life cycle ---------------------------------------------------------------------

    async def start(self) -> None:
        outbox = self._given_outbox
        if self.data_dir is not None:
            self._dir = DataDir(self.data_dir)
            try:
                self._subscription = self._dir.load_subscription()
                self.clock = TerminalClock(self._dir.path, self._clock_offset_ms)
                if outbox is None:
                    outbox = SQLiteOutbox(self._dir.outbox_path, self.cache_limit, self.when_full)
                self._history = AsyncHistory(self._given_history or self._sqlite_history())
            except BaseException:
                if outbox is not None and self._given_outbox is None:
                    outbox.close()
                self._dir.close()
                raise
        if outbox is None:
            outbox = MemoryOutbox(self.cache_limit, self.when_full)
        if self._history is None:
            self._history = AsyncHistory(
                self._given_history
                or MemoryHistory(self.settings.history_limit, self.settings.history_images)
            )
        self._threads = OutboxThreads(outbox)
        self._deliverer = Deliverer(
            self._threads,
            self._destination(),
            window=self.settings.window,
            session=self._session,
            backoff=self._backoff,
            refusal_backoff=self._refusal_backoff,
            max_refusals=self._max_refusals,
        )
        await self._deliverer.start()
        counts = outbox.counts()
        log.info(
            "push service started: %d records queued, %d set aside, cache limit %d",
            counts.queued,
            counts.set_aside,
            self.cache_limit,
        )

    def _sqlite_history(self) -> SQLiteHistory:
        assert self._dir is not None
        limit, images = self.settings.history_limit, self.settings.history_images
        return SQLiteHistory(self._dir.history_path, limit, images)

    async def stop(self) -> None:
        await self.live.close()
        if self._history is not None:
            await self._history.close()
            self._history = None
        if self._deliverer is not None:
            await self._deliverer.stop()
            self._deliverer = None
        if self._threads is not None:
            await self._threads.close()
            self._threads = None
        if self._dir is not None:
            self._dir.close()
            self._dir = None

    async def __aenter__(self) -> PushService:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def deliverer(self) -> Deliverer:
        if self._deliverer is None:
            raise NotRunningError()
        return self._deliverer

    @property
    def _outbox(self) -> OutboxThreads:
        if self._threads is None:
            raise NotRunningError()
        return self._threads

    @property
    def history(self) -> AsyncHistory:
        """The terminal's history of recognitions (`await service.history.page(query)`)."""
        if self._history is None:
            raise NotRunningError()
        return self._history

    @property
    def jwt_key(self) -> bytes | None:
        """The persistent token key in the data directory (None without one)."""
        return self._dir.jwt_key() if self._dir is not None else None

    # -- intake -------------------------------------------------------------------------

    async def record(self, handed: Handed) -> RecordResult:
        """Cache one envelope (dict, JSON bytes or text) or a list of them for push, and
        keep the recognitions in history.

        Returns after the records are durably committed. Raises DecodeError (naming the
        field) for a bad record and BatchTooLargeError, storing nothing; CacheFullError
        with `refuse-newest` and a full cache, when nothing was cached for push but the
        records are in history (ruling H1: history holds every record the terminal made).
        """
        threads, deliverer = self._outbox, self.deliverer
        records = prepare(handed, self.sn, self.clock.now_ms())
        sub = self._subscription
        if sub is None or not sub.enabled:
            await self._made(records)
            return RecordResult(0, 0, len(records))
        if len(records) > self.cache_limit:
            raise BatchTooLargeError(len(records), self.cache_limit)
        # The push cache and history commit side by side, each on its own thread.
        cached = asyncio.ensure_future(threads.call(threads.outbox.add, records, now_ms()))
        await self._made(records, cached)
        result = cached.result()
        deliverer.notify({r.kind for r in records})
        if result.evicted:
            shown = ", ".join(e.key for e in result.evicted[:5])
            more = f" and {len(result.evicted) - 5} more" if len(result.evicted) > 5 else ""
            log.warning(
                "cache full (%d): evicted %d oldest record(s): %s%s",
                self.cache_limit,
                len(result.evicted),
                shown,
                more,
            )
        self._watch_fill(result.cached)
        return RecordResult(len(result.seqs), len(result.evicted), 0)

    async def _made(
        self, records: list[NewRecord], cached: asyncio.Future[AddResult] | None = None
    ) -> None:
        """Keep the records in history while the push cache commits them (`cached`); then
        the live stream carries them, as history holds them whatever the cache said."""
        kept = asyncio.ensure_future(self.history.add(records))
        await asyncio.gather(kept, *([cached] if cached else []), return_exceptions=True)
        if kept.exception() is not None and cached is not None:
            cached.exception()  # seen: the history failure is the one reported
        kept.result()  # raises it (the producer's retry is harmless: uuids are kept once)
        self.live.publish(records)
        if cached is not None:
            cached.result()  # CacheFullError with refuse-newest and a full cache

    def _watch_fill(self, cached: int) -> None:
        if cached >= WARN_AT * self.cache_limit and not self._warned_full:
            self._warned_full = True
            log.warning(
                "cache is %d%% full (%d of %d records): the receiver is not keeping up or "
                "is unreachable (see GET /push/status)",
                100 * cached // self.cache_limit,
                cached,
                self.cache_limit,
            )
        elif cached < REARM_AT * self.cache_limit:
            self._warned_full = False

    # -- configuration ------------------------------------------------------------------

    @property
    def subscription(self) -> Subscription | None:
        return self._subscription

    async def subscribe(self, body: Any) -> Subscription:
        """Apply a `/v1/event/subscribe` body; raises ConfigError naming the field, and
        then nothing changes. Persisted before it takes effect."""
        deliverer = self.deliverer
        updated = apply_update(self._subscription, body)
        if self._dir is not None:
            await asyncio.to_thread(self._dir.save_subscription, updated)
        self._subscription = updated
        deliverer.set_destination(self._destination())
        log.info("push configuration: %s, enabled=%s", updated.event_dest, updated.enabled)
        return updated

    def _destination(self) -> Destination | None:
        sub = self._subscription
        if sub is None or not sub.enabled:
            return None
        return Destination(
            url=sub.event_dest,
            ssl=self._trust,
            signing_key=self._signing_key,
            timeout=self.settings.timeout,
        )

    # -- the terminal's identity and clock ---------------------------------------------

    def info(self) -> DeviceInfo:
        return device_info(self.sn)

    async def set_time(self, body: Any) -> tuple[DeviceTime, bool]:
        """Apply a `/v1/device/time` body (DecodeError names a bad field; nothing changes
        then); returns the time now and False when a `local_time` was ignored because
        `manual_mode` is false."""
        update = parse_time_update(body)
        applied = await asyncio.to_thread(self.clock.apply, update)
        return self.clock.read(), applied

    # -- set-aside ----------------------------------------------------------------------

    async def list_set_aside(self, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """Set-aside records in seq order, each as handed over plus why and how often."""
        threads = self._outbox
        rows = await threads.read(threads.outbox.list_set_aside, after, limit)
        return [
            {
                "id": r.seq,
                "key": r.key,
                "type": r.kind,
                "record": parse_json(r.body),
                "reason": r.reason,
                "attempts": r.attempts,
                "accepted_at": r.accepted_at,
            }
            for r in rows
        ]

    async def replay(self, ids: list[int] | None = None) -> int:
        """Queue set-aside records again (all, or those with these ids); returns how many."""
        threads, deliverer = self._outbox, self.deliverer
        count = await threads.call(threads.outbox.replay, ids)
        deliverer.notify(None)
        return count

    # -- observation --------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        deliverer = self.deliverer
        counts = deliverer.backlog.counts()  # acknowledged records count as delivered
        sub = self._subscription
        if sub is None:
            state = "unconfigured"
        elif not sub.enabled:
            state = "disabled"
        else:
            state = "offline" if deliverer.failing else "online"
        stats = deliverer.stats
        acked = stats.acknowledged
        return {
            "state": state,
            "queued": counts.queued,
            "queued_alarms": counts.queued_alarms,
            "delivered": counts.delivered,
            "evicted": counts.evicted,
            "set_aside": counts.set_aside,
            "cached": counts.cached,
            "cache_limit": self.cache_limit,
            "window": deliverer.window.limit,
            "in_flight": deliverer.in_flight,
            "last_error": redact(stats.last_error) if stats.last_error else None,
            "last_error_at": stats.last_error_at,
            "last_delivery_at": stats.last_delivery_at,
            "latency_ms": round(1000 * stats.latency_sum / acked, 1) if acked else None,
            "rtt_ms": round(1000 * stats.rtt_sum / acked, 2) if acked else None,
            "event_dest": redact(sub.event_dest) if sub else None,
            "sn": self.sn,
            "history": self.history.count(),
            "live_clients": self.live.clients,
        }

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until every queued record is acknowledged; False after `timeout` seconds."""
        return await self.deliverer.wait_idle(timeout)
