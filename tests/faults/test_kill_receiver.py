"""`kill -9` of the receiver during ingest, restarted: nothing it acknowledged is lost.

Pushers behave like terminals: a record counts as delivered only on an acknowledgement
(ruling 2) and is re-sent otherwise, so each kill also produces re-sends of records that
were stored but not acknowledged; the receiver must store those once.

The kills are driven by progress, not by the clock: the k-th kill comes as soon as the k-th
thousand records has been acknowledged, so every kill lands mid-ingest however fast the
machine is."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from facepush.protocol import classify_reply, dump_json
from tests.support.processes import Process, free_port
from tests.support.servers import key_of, records, report, start_receiver, stored_keys

KILLS = 5
RECORDS = 6000
PUSHERS = 32
KILL_AT = [RECORDS * k // (KILLS + 1) for k in range(1, KILLS + 1)]  # 1000, 2000, ... 5000
STEP_TIMEOUT_S = 120  # for each thousand to be acknowledged (a restart included)


async def test_kill_minus_nine_during_ingest_loses_nothing_acknowledged(tmp_path: Path) -> None:
    port = free_port()
    receiver: Process
    receiver, url = start_receiver(tmp_path, port=port)
    acked: set[str] = set()
    attempts = 0
    next_kill = asyncio.Event()
    acked_at_kill: list[int] = []

    def acknowledged(key: str) -> None:
        acked.add(key)
        kills = len(acked_at_kill)
        if kills < KILLS and len(acked) >= KILL_AT[kills]:
            next_kill.set()

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
                            acknowledged(key_of(record))  # type: ignore[arg-type]
                            break
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(0.05)  # a terminal's retry pause
            queue.task_done()

    queue: asyncio.Queue[dict[str, object]] = asyncio.Queue()
    for record in records(RECORDS, seed=77, sn="RCVKILL01"):
        queue.put_nowait(record)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            workers = [asyncio.create_task(pusher(session, queue)) for _ in range(PUSHERS)]
            try:
                for _ in KILL_AT:
                    await asyncio.wait_for(next_kill.wait(), STEP_TIMEOUT_S)
                    receiver.kill9()  # the pushers are mid-flight on their connections
                    receiver.stop()  # (closes its log)
                    next_kill.clear()
                    acked_at_kill.append(len(acked))
                    assert len(acked) < RECORDS, "ingest finished before a kill"
                    receiver, url = await asyncio.to_thread(start_receiver, tmp_path, port=port)
                await asyncio.wait_for(queue.join(), STEP_TIMEOUT_S)
            finally:
                for worker in workers:
                    worker.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
        stored = await asyncio.to_thread(stored_keys, url)
    finally:
        receiver.stop()
    report(
        "kill -9 receiver",
        kills_survived=len(acked_at_kill),
        acknowledged_at_each_kill=acked_at_kill,
        records=RECORDS,
        pushes=attempts,
        acknowledged=len(acked),
        stored=len(stored),
    )
    assert len(acked) == RECORDS
    assert set(stored) == acked  # every acknowledged record, and nothing else
    assert len(stored) == len(set(stored))  # once each
