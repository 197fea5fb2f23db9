"""`kill -9` of the receiver during ingest, restarted: nothing it acknowledged is lost.

Pushers behave like terminals: a record counts as delivered only on an acknowledgement
(ruling 2) and is re-sent otherwise, so each kill also produces re-sends of records that
were stored but not acknowledged; the receiver must store those once."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import aiohttp

from facepush.protocol import classify_reply, dump_json
from tests.faults.conftest import key_of, records, report, start_receiver, stored_keys
from tests.support import free_port

KILLS = 5
RECORDS = 6000
PUSHERS = 32


async def test_kill_minus_nine_during_ingest_loses_nothing_acknowledged(tmp_path: Path) -> None:
    port = free_port()
    receiver, url = start_receiver(tmp_path, port=port)
    pending = records(RECORDS, seed=77, sn="RCVKILL01")
    acked: set[str] = set()
    attempts = 0
    rng = random.Random(5)

    async def pusher(
        session: aiohttp.ClientSession, queue: asyncio.Queue[dict[str, object]]
    ) -> None:
        nonlocal attempts
        while True:
            record = await queue.get()
            while True:  # re-send until acknowledged, as a terminal does
                attempts += 1
                try:
                    async with session.post(url + "/Record", data=dump_json(record)) as resp:
                        if classify_reply(resp.status, await resp.read()).delivered:
                            acked.add(key_of(record))  # type: ignore[arg-type]
                            break
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(0.05)
            queue.task_done()

    queue: asyncio.Queue[dict[str, object]] = asyncio.Queue()
    for record in pending:
        queue.put_nowait(record)
    kills = 0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        workers = [asyncio.create_task(pusher(session, queue)) for _ in range(PUSHERS)]
        try:
            while kills < KILLS:
                await asyncio.sleep(rng.uniform(0.3, 0.8))
                assert len(acked) < RECORDS, "ingest finished before every kill"
                receiver.kill9()
                kills += 1
                receiver, url = await asyncio.to_thread(start_receiver, tmp_path, port=port)
            await asyncio.wait_for(queue.join(), 120)
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
    stored = await asyncio.to_thread(stored_keys, url)
    receiver.stop()
    report(
        "kill -9 receiver",
        kills_survived=kills,
        records=RECORDS,
        pushes=attempts,
        acknowledged=len(acked),
        stored=len(stored),
    )
    assert len(acked) == RECORDS
    assert set(stored) == acked  # every acknowledged record, and nothing else
    assert len(stored) == len(set(stored))  # once each
