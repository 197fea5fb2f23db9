"""Shared by the forwarding fault tests: a receiver's config file with `[[forward]]`
tables, pushers that behave like terminals, and the checks by key and order."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp

from facepush.protocol import classify_reply, dump_json
from facepush.receiver.forward.settings import ForwardSettings
from facepush.tools.records import RecordFactory
from tests.support.servers import key_of

TIMEOUT = aiohttp.ClientTimeout(total=5)


def write_config(path: Path, sinks: Sequence[ForwardSettings], **top: Any) -> Path:
    """A receiver TOML file with one `[[forward]]` table per sink (its non-default keys)."""
    lines = [f"{key} = {json.dumps(value)}" for key, value in top.items()]
    defaults = ForwardSettings(name="x", url="mqtt://x")
    for sink in sinks:
        lines.append("[[forward]]")
        for field in sink.__struct_fields__:
            value = getattr(sink, field)
            if field in ("name", "url") or value != getattr(defaults, field):
                lines.append(
                    f"{field} = {json.dumps(list(value) if isinstance(value, tuple) else value)}"
                )
    path.write_text("\n".join(lines) + "\n")
    return path


def interleaved(count: int, devices: int, seed: int) -> list[dict[str, Any]]:
    """`count` recognitions from `devices` terminals, taking turns (no alarms: they carry
    no serial, so their order is the receiver's, not one terminal's)."""
    factories = [
        RecordFactory(
            seed=seed + n, device_sn=f"FWD{seed:03d}{n:02d}", images=False, alarm_rate=0.0
        )
        for n in range(devices)
    ]
    return [factories[i % devices].next() for i in range(count)]


async def push_all(
    urls: Sequence[str],
    records: Sequence[dict[str, Any]],
    pushers: int = 16,
    counts: dict[str, int] | None = None,
) -> dict[str, int]:
    """Push every record, re-sending until acknowledged (ruling 2), as terminals do
    through a receiver's restarts; one terminal's records go to one receiver (the
    terminals take turns over `urls`) one at a time, in order. `counts` (acked, attempts,
    unavailable) is updated as it goes, and returned."""
    queues: dict[str, asyncio.Queue[dict[str, Any]]] = {}
    for record in records:
        serial = str(record["data"].get("deviceSN"))
        queues.setdefault(serial, asyncio.Queue()).put_nowait(record)
    counts = counts if counts is not None else {}
    for name in ("acked", "attempts", "unavailable"):
        counts.setdefault(name, 0)
    serials = sorted(queues)

    async def terminal(session: aiohttp.ClientSession, serial: str) -> None:
        url = urls[serials.index(serial) % len(urls)] + "/Record"
        queue = queues[serial]
        while not queue.empty():
            record = queue.get_nowait()
            while True:
                counts["attempts"] += 1
                try:
                    async with session.post(url, data=dump_json(record)) as resp:
                        if resp.status == 503:
                            counts["unavailable"] += 1
                        if classify_reply(resp.status, await resp.read()).delivered:
                            counts["acked"] += 1
                            break
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(0.02)

    lanes = asyncio.Semaphore(pushers)

    async def lane(session: aiohttp.ClientSession, serial: str) -> None:
        async with lanes:
            await terminal(session, serial)

    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        await asyncio.gather(*(lane(session, s) for s in serials))
    return counts


def first_seen(keys: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(keys))


def check_order(arrived: Sequence[str], records: Sequence[dict[str, Any]], sink: str = "") -> None:
    """Per terminal, the first arrival of each key is in the order the terminal pushed
    (which, one record at a time per terminal, is the order of receipt)."""
    device_of = {key_of(r): str(r["data"]["deviceSN"]) for r in records}
    expected: dict[str, list[str]] = {}
    for record in records:
        expected.setdefault(device_of[key_of(record)], []).append(key_of(record))
    got: dict[str, list[str]] = {}
    for key in first_seen(arrived):
        got.setdefault(device_of[key], []).append(key)
    for device, keys in expected.items():
        if got[device] != keys:
            at = next(i for i, (a, b) in enumerate(zip(got[device], keys, strict=True)) if a != b)
            raise AssertionError(
                f"{sink} {device}: arrived {got[device][at : at + 3]} where the terminal pushed "
                f"{keys[at : at + 3]} (position {at} of {len(keys)})"
            )


async def wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.05)
