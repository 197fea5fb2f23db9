"""A hostile receiver cannot grow the terminal: a reply is read to at most 1 MiB, however it
is framed (chunked, or gzip that inflates past the bound), then the connection is dropped
and the attempt counts as failed. Against a real `facepush device serve` process, its
memory read from /proc."""

from __future__ import annotations

import asyncio
import gzip
import json
import re
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from facepush.protocol import success_reply
from tests.support.device import start_device
from tests.support.processes import LOOPBACK
from tests.support.records import recognition

HUGE = 256 << 20  # what the hostile receiver streams per reply
BOMB = 64 << 20  # what its gzip reply inflates to
GROWTH_BOUND_MB = 64  # a reply is at most 1 MiB; the rest is allocator noise


class HostileReceiver:
    """Answers each push with `mode`: a chunked stream of HUGE bytes, a small gzip body
    that inflates to BOMB, a 2 MiB body announced by Content-Length, or (`ok`) the real
    acknowledgement."""

    def __init__(self) -> None:
        self.mode = "chunked"
        self.sent = 0  # bytes of hostile reply written before the terminal hung up
        self.runner: web.AppRunner | None = None
        self.url = ""
        self._bomb = gzip.compress(b" " * BOMB, compresslevel=9)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/Record", self._handle)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self.runner.setup()
        site = web.TCPSite(self.runner, LOOPBACK, 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://{LOOPBACK}:{port}/Record"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        if self.mode == "ok":
            return web.Response(body=success_reply(), content_type="application/json")
        if self.mode == "length":
            return web.Response(body=b" " * (2 << 20), content_type="application/json")
        if self.mode == "gzip":
            headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
            return web.Response(body=self._bomb, headers=headers)
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        chunk = b" " * (1 << 20)
        try:
            while self.sent < HUGE:
                await resp.write(chunk)
                self.sent += len(chunk)
        except ConnectionError:
            pass  # the terminal dropped the connection: what we want
        return resp


def memory_mb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM = peak RSS) of a process, in MiB."""
    fields = dict(re.findall(r"^(\w+):\s+(\d+) kB$", Path(f"/proc/{pid}/status").read_text(), re.M))
    return int(fields["VmRSS"]) // 1024, int(fields["VmHWM"]) // 1024


async def call(url: str, body: Any = None) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:
        method = "GET" if body is None else "POST"
        async with session.request(method, url, json=body) as resp:
            return dict(json.loads(await resp.read()))


async def wait_error(url: str, timeout: float = 30.0) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        status = (await call(url + "/push/status"))["data"]
        if status["last_error"]:
            return dict(status)
        await asyncio.sleep(0.05)
    raise AssertionError(f"no failed attempt within {timeout} s: {status}")


async def test_oversized_replies_are_cut_at_the_bound_and_count_as_failures(
    tmp_path: Path,
) -> None:
    hostile = HostileReceiver()
    await hostile.start()
    proc, url = start_device(tmp_path, "--data", str(tmp_path / "d"), "--timeout", "60")
    try:
        assert (await call(url + "/push/status"))["code"] == 200  # warmed up
        before, _ = memory_mb(proc.proc.pid)
        subscription = {"event_dest": hostile.url, "enabled": True}
        await call(url + "/v1/event/subscribe", subscription)
        await call(url + "/push/records", recognition(1))

        chunked = await wait_error(url)
        assert chunked["last_error"] == "reply larger than 1 MiB (HTTP 200); connection dropped"
        assert chunked["queued"] == 1 and chunked["delivered"] == 0  # failed, kept
        assert hostile.sent < HUGE // 4  # the terminal stopped reading and hung up

        hostile.mode = "gzip"
        await call(url + "/v1/event/subscribe", subscription)  # retry at once
        inflated = await wait_error(url)
        assert inflated["last_error"].startswith("reply larger than 1 MiB")
        assert inflated["queued"] == 1

        hostile.mode = "length"
        await call(url + "/v1/event/subscribe", subscription)
        announced = await wait_error(url)
        assert announced["last_error"].startswith("reply larger than 1 MiB")

        _, peak = memory_mb(proc.proc.pid)
        print(f"\n[reply bound] terminal RSS {before} MiB, peak {peak} MiB after the attacks")
        assert peak - before < GROWTH_BOUND_MB, (before, peak)

        hostile.mode = "ok"  # the same record goes through once the receiver behaves
        await call(url + "/v1/event/subscribe", subscription)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while (status := (await call(url + "/push/status"))["data"])["delivered"] < 1:
            assert loop.time() < deadline, status
            await asyncio.sleep(0.05)
        assert status["queued"] == 0 and status["last_error"] is None
    finally:
        proc.stop()
        await hostile.stop()
