"""One worker of `facepush receiver serve --workers N` (started by
facepush.receiver.workers, never by hand): its job comes pickled on stdin, it serves until
SIGTERM or until its stdin ends (the supervisor is gone), and it announces `listening on
URL` on stdout, which is the supervisor's pipe."""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import struct
import sys

from facepush.errors import FacepushError
from facepush.receiver.serving import run_receiver
from facepush.receiver.worker_role import WorkerRole
from facepush.receiver.workers import WorkerJob


def read_job(fd: int = 0) -> WorkerJob:
    size = struct.unpack(">Q", _read_exactly(fd, 8))[0]
    job = pickle.loads(_read_exactly(fd, size))  # from the supervisor's pipe only
    assert isinstance(job, WorkerJob)
    return job


def _read_exactly(fd: int, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            raise SystemExit("facepush worker: the supervisor's pipe ended early")
        data += chunk
    return data


async def serve(job: WorkerJob) -> None:
    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()

    def supervisor_gone() -> None:
        if not os.read(0, 4096):  # end of the pipe: the supervisor exited, even by SIGKILL
            loop.remove_reader(0)
            stopped.set()

    loop.add_reader(0, supervisor_gone)
    role = WorkerRole(job.index, job.count, job.directory)
    await run_receiver(
        job.settings,
        job.host,
        job.port,
        worker=role,
        stopped=stopped,
        announce=lambda url: print(f"listening on {url}", flush=True),
    )


def main() -> None:
    job = read_job()
    logging.basicConfig(
        level=logging.INFO, format=f"%(levelname)s %(name)s [worker {job.index}]: %(message)s"
    )
    try:
        asyncio.run(serve(job))
    except FacepushError as exc:
        print(f"facepush receiver worker {job.index}: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
