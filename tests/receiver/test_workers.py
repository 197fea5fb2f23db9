"""`facepush receiver serve --workers 2` on both stores, as real processes on a free port:
pushes reach both workers (their header says which) and each record is stored once; the
stream of one worker shows what another stored; /metrics and /healthz answer for all;
a worker killed with SIGKILL loses nothing acknowledged and is started again; SIGTERM, or
the supervisor's own SIGKILL, leaves no process behind."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from facepush.receiver import open_store
from facepush.receiver.errors import WorkersUnsupported
from facepush.receiver.settings import ReceiverSettings
from facepush.receiver.terminals.settings import TerminalSettings
from facepush.receiver.worker_role import PID_HEADER, WORKER_HEADER, merge_labelled
from tests.receiver.processes import start_receiver
from tests.support.processes import Process
from tests.support.records import body, recognition

TIMEOUT = aiohttp.ClientTimeout(total=20)
ATTEMPTS = 200  # new connections tried to reach a given worker (each is 1/2 likely)


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[tuple[Process, str]]:
    proc, url = start_receiver(tmp_path / "workers.log", "--db", db_url, "--workers", "2")
    try:
        yield proc, url
    finally:
        proc.stop()


@pytest.fixture
async def fresh() -> AsyncIterator[aiohttp.ClientSession]:
    """A new connection per request: the kernel spreads connections, not requests."""
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(timeout=TIMEOUT, connector=connector) as session:
        yield session


async def push(session: aiohttp.ClientSession, url: str, uid: str) -> tuple[str, int]:
    """Push one record; (the worker that acknowledged it, its pid)."""
    async with session.post(url + "/Record", data=body(recognition(uid))) as resp:
        reply = await resp.json()
        assert resp.status == 200 and reply["code"] == 200, reply
        return resp.headers[WORKER_HEADER], int(resp.headers[PID_HEADER])


async def test_pushes_spread_over_workers_and_each_record_is_stored_once(
    served: tuple[Process, str], db_url: str, fresh: aiohttp.ClientSession
) -> None:
    _proc, url = served
    uids = [f"spread-{i}" for i in range(200)]
    answered = await asyncio.gather(*(push(fresh, url, uid) for uid in uids))
    again = await asyncio.gather(*(push(fresh, url, uid) for uid in uids[:100]))  # repeats
    workers = {w for w, _ in answered + again}
    assert workers == {"0", "1"}
    assert len({pid for _, pid in answered}) == 2
    store = open_store(db_url)
    try:
        assert store.stats()["recognitions"] == 200
        assert store.stats()["duplicates"] == 100
        assert all(store.event(f"r:{uid}") is not None for uid in uids)
    finally:
        store.close()


async def reach(session: aiohttp.ClientSession, url: str, worker: str) -> aiohttp.ClientResponse:
    """A GET of `url` answered by `worker` (the caller releases it)."""
    for _ in range(ATTEMPTS):
        resp = await session.get(url)
        if resp.headers[WORKER_HEADER] == worker:
            return resp
        resp.release()
    raise AssertionError(f"no connection reached worker {worker} in {ATTEMPTS} attempts")


async def test_the_stream_of_one_worker_shows_records_another_stored(
    served: tuple[Process, str], fresh: aiohttp.ClientSession
) -> None:
    _proc, url = served
    stream = await reach(fresh, url + "/api/stream", "1")
    try:
        await stream.content.readuntil(b": connected\n\n")
        uid = None
        for i in range(ATTEMPTS):
            worker, _pid = await push(fresh, url, f"streamed-{i}")
            if worker == "0":
                uid = f"streamed-{i}"
                break
        assert uid is not None, "no push reached worker 0"
        seen: list[str] = []
        async with asyncio.timeout(15):
            while f"r:{uid}" not in seen:
                chunk = await stream.content.readuntil(b"\n\n")
                for line in chunk.decode().splitlines():
                    if line.startswith("data: "):
                        seen.append(json.loads(line[6:])["key"])
        assert f"r:{uid}" in seen
    finally:
        stream.release()


async def test_metrics_and_health_answer_for_every_worker(
    served: tuple[Process, str], fresh: aiohttp.ClientSession
) -> None:
    _proc, url = served
    answered = await asyncio.gather(*(push(fresh, url, f"m-{i}") for i in range(60)))
    by_worker = {w: sum(1 for a, _ in answered if a == w) for w in ("0", "1")}
    for worker in ("0", "1"):
        health = await reach(fresh, url + "/healthz", worker)
        assert health.status == 200
        health.release()
    async with asyncio.timeout(15):  # each worker publishes its counters every second
        while True:
            resp = await reach(fresh, url + "/metrics", "1")
            text = await resp.text()
            stored = {
                w: _sample(text, f'facepush_receiver_stored_total{{worker="{w}"}}')
                for w in ("0", "1")
            }
            if stored == by_worker:
                break
            await asyncio.sleep(0.2)
    assert text.count("# TYPE facepush_receiver_stored_total counter") == 1


def _sample(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


async def test_a_worker_killed_with_sigkill_loses_nothing_acknowledged_and_restarts(
    served: tuple[Process, str], db_url: str
) -> None:
    proc, url = served
    acked: dict[str, tuple[str, int]] = {}
    queue = [f"kill-{i}" for i in range(1500)]
    victim: list[tuple[str, int]] = []

    async def pusher(session: aiohttp.ClientSession) -> None:
        while queue:
            uid = queue.pop()
            while True:  # as a terminal does: the same record again until acknowledged
                try:
                    acked[uid] = await push(session, url, uid)
                    break
                except (aiohttp.ClientError, TimeoutError, AssertionError):
                    await asyncio.sleep(0.05)  # 503 or reset while a worker is down
            if len(acked) >= 300 and not victim:
                victim.append(acked[uid])
                os.kill(acked[uid][1], signal.SIGKILL)  # by progress: 300 acknowledged

    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        await asyncio.wait_for(asyncio.gather(*(pusher(session) for _ in range(16))), 120)
    assert victim and len(acked) == 1500
    worker, dead_pid = victim[0]
    store = open_store(db_url)
    try:
        missing = [uid for uid in acked if store.event(f"r:{uid}") is None]
        assert missing == []
        assert store.stats()["recognitions"] == 1500
    finally:
        store.close()
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(timeout=TIMEOUT, connector=connector) as session:
        async with asyncio.timeout(30):
            while True:  # the supervisor started it again: a new pid answers as that worker
                try:
                    resp = await reach(session, url + "/healthz", worker)
                except AssertionError:  # not listening again yet: only the other answered
                    continue
                pid = int(resp.headers[PID_HEADER])
                resp.release()
                if pid != dead_pid:
                    break
    assert "exited with code -9; restarting" in proc.output()


def _worker_pids(supervisor: int) -> list[int]:
    text = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text()
    return [int(p) for p in text.split()]


def _gone(pids: list[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [p for p in pids if Path(f"/proc/{p}").exists() and not _zombie(p)]
        if not alive:
            return True
        time.sleep(0.05)
    return False


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("how", ["sigterm", "supervisor-sigkill"])
def test_stopping_the_supervisor_leaves_no_worker_behind(
    how: str, pg_url: str, tmp_path: Path
) -> None:
    proc, _url = start_receiver(tmp_path / "w.log", "--db", pg_url, "--workers", "2")
    try:
        pids = _worker_pids(proc.proc.pid)
        assert len(pids) == 2
        if how == "sigterm":
            assert proc.stop(timeout=40) == 0
        else:
            proc.kill9()  # the workers read the end of their pipe and stop
        assert _gone(pids, 40), f"workers left running: {pids}"
    finally:
        proc.stop()


def test_workers_refuse_managed_terminals(tmp_path: Path) -> None:
    assert ReceiverSettings(workers=2).workers == 2  # SQLite too
    with pytest.raises(WorkersUnsupported, match="cannot manage terminals"):
        ReceiverSettings(
            workers=2,
            public_url="http://127.0.0.1:8080/Record",
            terminal=(TerminalSettings(url="http://127.0.0.1:9"),),
        )


def test_the_command_names_why_managed_terminals_need_one_worker(tmp_path: Path) -> None:
    config = tmp_path / "receiver.toml"
    config.write_text(
        'workers = 2\npublic_url = "http://127.0.0.1:8080/Record"\n'
        '[[terminal]]\nurl = "http://127.0.0.1:9"\n'
    )
    args = ["receiver", "serve", "--config", str(config), "--data", str(tmp_path)]
    proc = Process(args, tmp_path / "log")
    try:
        assert proc.proc.wait(timeout=30) == 1
    finally:
        proc.stop()
    assert "--workers 2 cannot manage terminals" in proc.output()


def test_merged_metrics_have_each_family_once_and_every_sample_labelled() -> None:
    one = '# HELP a_total A.\n# TYPE a_total counter\na_total 3\nb{reason="x"} 1\n'
    two = '# HELP a_total A.\n# TYPE a_total counter\na_total 4\nb{reason="x"} 2\n'
    merged = merge_labelled({0: one, 1: two})
    assert merged.splitlines() == [
        "# HELP a_total A.",
        "# TYPE a_total counter",
        'a_total{worker="0"} 3',
        'b{reason="x",worker="0"} 1',
        'a_total{worker="1"} 4',
        'b{reason="x",worker="1"} 2',
    ]
