"""Feeding simulated records into a terminal's push service (`facepush simulate`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from facepush.client import TerminalClient
from facepush.errors import TerminalRefused
from facepush.protocol.times import now_ms
from facepush.tools.records import RecordFactory

MAX_BATCH = 100  # records per POST /push/records when the rate allows batching


@dataclass
class SimulationReport:
    seed: int = 0  # the factory's: repeat the run with it
    handed: int = 0  # records handed to the terminal (alarm reports included)
    accepted: int = 0  # durably cached by the terminal
    # not queued because push is disabled or unconfigured (ruling 9, docs/protocol-rulings.md)
    skipped: int = 0
    evicted: int = 0  # older records evicted to make room (drop-oldest)
    refused: int = 0  # refused by the terminal (refuse-newest with a full cache)
    alarms: int = 0
    seconds: float = 0.0
    last_refusal: str | None = None


async def simulate(
    client: TerminalClient,
    factory: RecordFactory,
    count: int,
    rate: float | None = None,
    progress: Callable[[int], None] | None = None,
    terminal_clock: bool = True,
) -> SimulationReport:
    """Hand `count` records to the terminal, at `rate` records/s (as fast as possible if None).

    Records due at the same moment go in one request, so high rates stay cheap; at low
    rates each record is handed over on its own, as a recognition module would. With
    `terminal_clock` the records carry the terminal's time, as a terminal's own records do
    (its clock's offset is measured once, and `factory.clock` set by it).
    """
    if terminal_clock:
        await _follow_terminal_clock(client, factory)
    report = SimulationReport(seed=factory.seed)
    started = time.monotonic()
    sent = 0
    while sent < count:
        due = count if rate is None else min(count, int((time.monotonic() - started) * rate) + 1)
        if due <= sent:
            assert rate is not None
            await asyncio.sleep(max(0.0, started + sent / rate - time.monotonic()))
            continue
        batch = [factory.next() for _ in range(min(due - sent, MAX_BATCH))]
        await _hand_over(client, batch, report)
        sent += len(batch)
        if progress is not None:
            progress(len(batch))
    report.seconds = time.monotonic() - started
    return report


async def _follow_terminal_clock(client: TerminalClient, factory: RecordFactory) -> None:
    try:
        offset = (await client.time()).offset_ms
    except TerminalRefused:
        return  # a terminal without /v1/device/time: the records keep this machine's time
    factory.clock = lambda: now_ms() + offset


async def _hand_over(
    client: TerminalClient, batch: list[dict[str, object]], report: SimulationReport
) -> None:
    report.handed += len(batch)
    report.alarms += sum(1 for record in batch if record["type"] == 1)
    try:
        reply = await client.push_records(batch)
    except TerminalRefused as exc:
        report.refused += len(batch)
        report.last_refusal = str(exc)
        return
    report.accepted += int(reply.get("accepted", 0))
    report.skipped += int(reply.get("skipped", 0))
    report.evicted += int(reply.get("evicted", 0))


async def simulate_records(
    client: TerminalClient,
    records: list[dict[str, object]],
    progress: Callable[[int], None] | None = None,
    seed: int = 0,
) -> SimulationReport:
    """Hand prepared records (e.g. a working day from facepush.tools.workday) to the
    terminal as they are, their own times kept, in batches of at most MAX_BATCH; `seed`:
    the one they were made with, for the report."""
    report = SimulationReport(seed=seed)
    started = time.monotonic()
    for begin in range(0, len(records), MAX_BATCH):
        batch = records[begin : begin + MAX_BATCH]
        await _hand_over(client, batch, report)
        if progress is not None:
            progress(len(batch))
    report.seconds = time.monotonic() - started
    return report
