"""`facepush receiver serve --workers N`: N receiver processes on one port, supervised.

The supervisor (this process) migrates the store, reserves the port (with `--listen
HOST:0`, a free one), and starts N workers (`python -m facepush.receiver.worker`), each
binding the port with SO_REUSEPORT, so that the kernel spreads connections over them. It
announces `listening on URL` once every worker does. A worker that exits is logged and
started again (after a pause that grows while it keeps dying young). SIGTERM or SIGINT
stops every worker (SIGTERM, then SIGKILL after `STOP_TIMEOUT_S`) before it returns.

No orphan, ever: a worker's stdin is a pipe from the supervisor, and a worker stops when
it reads its end; so even a supervisor killed with SIGKILL takes its workers with it.
Workers run in their own session: a Ctrl-C at the terminal reaches the supervisor only,
which stops them in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
import shutil
import signal
import socket
import struct
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from facepush.backoff import Backoff
from facepush.errors import WorkerFailed
from facepush.receiver.settings import ReceiverSettings
from facepush.receiver.store import open_store
from facepush.web import ListenError, url_of

log = logging.getLogger("facepush.receiver.workers")

START_TIMEOUT_S = 60.0  # for a worker to open the store and bind
STOP_TIMEOUT_S = 30.0  # for a worker to finish its requests and commits after SIGTERM
HEALTHY_AFTER_S = 10.0  # a worker that lived this long restarts without a pause


@dataclass(frozen=True, slots=True)
class WorkerJob:
    """What a worker is told, pickled on its stdin."""

    settings: ReceiverSettings
    host: str
    port: int
    index: int
    count: int
    directory: Path


class Supervisor:
    def __init__(
        self, settings: ReceiverSettings, host: str, port: int, directory: Path, count: int
    ) -> None:
        self.settings, self.host, self.port, self.directory = settings, host, port, directory
        self.count = count
        self.procs: dict[int, asyncio.subprocess.Process] = {}
        self.stopping = False
        self.restarts = 0
        self.drains: list[asyncio.Task[None]] = []

    async def spawn(self, index: int) -> asyncio.subprocess.Process:
        job = WorkerJob(self.settings, self.host, self.port, index, self.count, self.directory)
        data = pickle.dumps(job)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "facepush.receiver.worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        self.procs[index] = proc
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(struct.pack(">Q", len(data)) + data)  # the pipe stays open
            await proc.stdin.drain()
            line = await asyncio.wait_for(proc.stdout.readline(), START_TIMEOUT_S)
        except (TimeoutError, ConnectionError):  # no answer, or it died reading its job
            line = b""
        if not line.startswith(b"listening on "):
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            code = await proc.wait()
            raise WorkerFailed(f"worker {index} did not start (exit code {code}); see its log")
        log.info("worker %d (pid %d) serving", index, proc.pid)
        # Whatever it prints later is passed on, never left to block it.
        self.drains.append(asyncio.create_task(_drain(proc.stdout)))
        return proc

    async def keep(self, index: int) -> None:
        """Restart worker `index` whenever it exits, until stopping."""
        backoff = Backoff()
        while not self.stopping:
            proc = self.procs[index]
            born = time.monotonic()
            code = await proc.wait()
            if self.stopping:
                return
            self.restarts += 1
            if time.monotonic() - born >= HEALTHY_AFTER_S:
                backoff.reset()
            pause = backoff.next_delay()
            log.warning(
                "worker %d (pid %d) exited with code %s; restarting in %.1f s",
                index,
                proc.pid,
                code,
                pause,
            )
            await asyncio.sleep(pause)
            with contextlib.suppress(WorkerFailed):
                await self.spawn(index)

    async def stop(self) -> None:
        self.stopping = True
        running = [p for p in self.procs.values() if p.returncode is None]
        for proc in running:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        waits = asyncio.gather(*(p.wait() for p in running))
        try:
            await asyncio.wait_for(waits, STOP_TIMEOUT_S)
        except TimeoutError:
            for proc in running:
                if proc.returncode is None:
                    log.warning("worker pid %d did not stop in time: killed", proc.pid)
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
            await asyncio.gather(*(p.wait() for p in running))


async def serve_workers(settings: ReceiverSettings, host: str, port: int) -> None:
    """Serve with `settings.workers` processes until SIGTERM/SIGINT (module doc)."""
    count = settings.workers
    loop = asyncio.get_running_loop()
    # Migrate once, here: an unreachable database fails before any worker starts.
    await loop.run_in_executor(None, lambda: open_store(settings.db_url).close())
    reservation = reserve_port(host, port)
    port = reservation.getsockname()[1]
    directory = Path(tempfile.mkdtemp(prefix="facepush-workers-"))
    supervisor = Supervisor(settings, host, port, directory, count)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    keepers: list[asyncio.Task[None]] = []
    try:
        await asyncio.gather(*(supervisor.spawn(k) for k in range(count)))
        keepers = [asyncio.create_task(supervisor.keep(k)) for k in range(count)]
        print(f"listening on {url_of(host, port, False)}", flush=True)
        log.info("%d workers on %s:%d", count, host, port)
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await supervisor.stop()
        for task in keepers:
            task.cancel()
        await asyncio.gather(*keepers, return_exceptions=True)
        reservation.close()
        shutil.rmtree(directory, ignore_errors=True)


async def _drain(stream: asyncio.StreamReader) -> None:
    while line := await stream.readline():
        sys.stdout.buffer.write(line)
        sys.stdout.flush()


def reserve_port(host: str, port: int) -> socket.socket:
    """A socket bound (not listening) to HOST:PORT with SO_REUSEPORT: the workers bind the
    same port, and with PORT 0 it is the free port they all take."""
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock
