"""`facepush fleet`: many emulated terminals pushing straight to one receiver.

Each terminal has its own serial, an in-memory outbox preloaded with its backlog, and the
device's own `Deliverer` (acknowledgement rule, alarms first, adaptive window, jittered
backoff): no second sender is written here. All terminals share one event loop and one
HTTP client session; per-request round-trip times are read from aiohttp's tracing hooks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import aiohttp

from facepush.device.delivery import Deliverer
from facepush.device.memory_outbox import MemoryOutbox
from facepush.device.outbox import NewRecord
from facepush.device.sender import Destination
from facepush.device.settings import TIMEOUT_S
from facepush.protocol.identity import envelope_key
from facepush.protocol.jsontext import dump_json
from facepush.protocol.limits import CACHE_LIMIT
from facepush.protocol.times import now_ms
from facepush.tools.records import RecordFactory, fresh_seed

PRELOAD_CHUNK = 500


@dataclass
class FleetOptions:
    push_url: str
    devices: int = 10
    backlog: int = 100  # records per terminal, waiting when the fleet starts
    rate: float = 0.0  # live records per second per terminal, while `duration` runs
    duration: float = 0.0  # seconds of live traffic
    window: int | None = None  # None: each terminal's window adapts
    images: bool = False
    seed: int = field(default_factory=fresh_seed)  # with terminal i: uuids of its own
    timeout: float = TIMEOUT_S  # per push, as a terminal's --timeout
    deadline: float = 600.0  # give up waiting for the last acknowledgement after this


@dataclass
class FleetReport:
    devices: int = 0
    seed: int = 0  # repeat the run with it
    records: int = 0  # records the terminals held in all (backlog + live)
    sent: int = 0  # push requests made, retries included
    acknowledged: int = 0
    retried: int = 0  # requests that did not deliver (failure or refusal)
    set_aside: int = 0
    seconds: float = 0.0
    complete: bool = False
    latencies: list[float] = field(default_factory=list, repr=False)

    @property
    def throughput(self) -> float:
        return self.acknowledged / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    def summary(self) -> dict[str, Any]:
        return {
            "devices": self.devices,
            "seed": self.seed,
            "records": self.records,
            "sent": self.sent,
            "acknowledged": self.acknowledged,
            "retried": self.retried,
            "set_aside": self.set_aside,
            "seconds": round(self.seconds, 3),
            "throughput_per_s": round(self.throughput, 1),
            "complete": self.complete,
            "latency_ms": {f"p{p}": round(self.percentile(p) * 1000, 2) for p in (50, 90, 99)}
            | {"max": round(max(self.latencies, default=0.0) * 1000, 2)},
        }


@dataclass
class _Terminal:
    serial: str
    factory: RecordFactory
    outbox: MemoryOutbox
    deliverer: Deliverer


def _new_record(envelope: dict[str, Any]) -> NewRecord:
    return NewRecord(envelope["type"], envelope_key(envelope), dump_json(envelope))


def _tracing(report: FleetReport) -> aiohttp.TraceConfig:
    trace = aiohttp.TraceConfig()

    async def started(session: Any, ctx: SimpleNamespace, params: Any) -> None:
        ctx.started = time.monotonic()
        report.sent += 1

    async def ended(session: Any, ctx: SimpleNamespace, params: Any) -> None:
        report.latencies.append(time.monotonic() - ctx.started)

    trace.on_request_start.append(started)
    trace.on_request_end.append(ended)
    return trace


class Fleet:
    def __init__(self, options: FleetOptions) -> None:
        self.options = options
        self.report = FleetReport(devices=options.devices, seed=options.seed)
        self.terminals: list[_Terminal] = []

    def acknowledged(self) -> int:
        return sum(t.deliverer.stats.acknowledged for t in self.terminals)

    def queued(self) -> int:
        return sum(t.outbox.counts().queued for t in self.terminals)

    async def run(self, progress: Callable[[Fleet], None] | None = None) -> FleetReport:
        report = self.report
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=30)
        async with aiohttp.ClientSession(
            connector=connector, trace_configs=[_tracing(report)]
        ) as session:
            self._build(session)
            started = time.monotonic()
            for terminal in self.terminals:
                await terminal.deliverer.start()
            live = asyncio.create_task(self._live())
            try:
                report.complete = await self._wait(started, progress, live)
            finally:
                live.cancel()
                await asyncio.gather(live, return_exceptions=True)
                report.seconds = time.monotonic() - started
                for terminal in self.terminals:
                    await terminal.deliverer.stop()
        report.acknowledged = self.acknowledged()
        report.set_aside = sum(t.deliverer.stats.set_aside for t in self.terminals)
        report.retried = report.sent - report.acknowledged
        return report

    def _build(self, session: aiohttp.ClientSession) -> None:
        opts = self.options
        dest = Destination(opts.push_url, timeout=opts.timeout)
        for i in range(opts.devices):
            serial = f"FLEET{i + 1:06d}"
            factory = RecordFactory(
                seed=opts.seed, terminal=i, device_sn=serial, images=opts.images
            )
            outbox = MemoryOutbox(limit=max(CACHE_LIMIT, opts.backlog))
            for start in range(0, opts.backlog, PRELOAD_CHUNK):
                size = min(PRELOAD_CHUNK, opts.backlog - start)
                outbox.add([_new_record(factory.next()) for _ in range(size)], now_ms())
            self.report.records += opts.backlog
            deliverer = Deliverer(outbox, dest, window=opts.window, session=session)
            self.terminals.append(_Terminal(serial, factory, outbox, deliverer))

    async def _live(self) -> None:
        opts = self.options
        if opts.rate <= 0 or opts.duration <= 0:
            return
        started = time.monotonic()
        made = 0
        while (elapsed := time.monotonic() - started) < opts.duration:
            due = int(elapsed * opts.rate) + 1
            for _ in range(made, due):
                for terminal in self.terminals:
                    terminal.outbox.add([_new_record(terminal.factory.next())], now_ms())
                    terminal.deliverer.notify({0, 1})
                    self.report.records += 1
            made = max(made, due)
            await asyncio.sleep(max(0.0, started + made / opts.rate - time.monotonic()))

    async def _wait(
        self, started: float, progress: Callable[[Fleet], None] | None, live: asyncio.Task[None]
    ) -> bool:
        while time.monotonic() - started < self.options.deadline:
            await asyncio.sleep(0.25 if progress is None else 1.0)
            if progress is not None:
                progress(self)
            idle = all(t.deliverer.backlog.idle for t in self.terminals)
            if idle and live.done():
                return True
        return False


async def run_fleet(
    options: FleetOptions, progress: Callable[[Fleet], None] | None = None
) -> FleetReport:
    return await Fleet(options).run(progress)
