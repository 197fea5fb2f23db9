"""What a worker of `facepush receiver serve --workers N` does differently from a lone
receiver: it says who it is in every reply, and its /metrics shows every worker's.

Metrics: each worker writes its own rendering to a file of the supervisor's directory
every `publish_s` (atomically: a new file renamed over the old), and whichever worker
answers /metrics renders its own live and the others' latest, each sample labelled
`worker="k"` (sum them with `sum without (worker)`). A restarted worker starts its
counters from zero, which Prometheus reads as a counter reset.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

WORKER_HEADER = "X-Facepush-Worker"
PID_HEADER = "X-Facepush-Worker-Pid"
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?( .*)$")


@dataclass(frozen=True, slots=True)
class WorkerRole:
    index: int  # 0 .. count-1
    count: int
    directory: Path  # the supervisor's: the workers' metrics files
    publish_s: float = 1.0

    def metrics_file(self, index: int) -> Path:
        return self.directory / f"metrics-{index}.prom"

    def headers(self) -> list[tuple[str, str]]:
        """The headers that say which worker answered."""
        return [(WORKER_HEADER, str(self.index)), (PID_HEADER, str(os.getpid()))]

    def add_headers(self, app: web.Application) -> None:
        headers = self.headers()

        async def identify(request: web.Request, response: web.StreamResponse) -> None:
            for name, value in headers:
                response.headers[name] = value

        app.on_response_prepare.append(identify)


class SharedMetrics:
    def __init__(self, role: WorkerRole, render: Callable[[], str]) -> None:
        self.role = role
        self.render_own = render
        self._task: asyncio.Task[None] | None = None

    def publish(self) -> None:
        path = self.role.metrics_file(self.role.index)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(self.render_own())
        os.replace(partial, path)

    def render(self) -> str:
        """Every worker's metrics, labelled by worker."""
        texts: dict[int, str] = {}
        for k in range(self.role.count):
            if k == self.role.index:
                texts[k] = self.render_own()
            else:
                with contextlib.suppress(FileNotFoundError):
                    texts[k] = self.role.metrics_file(k).read_text()
        return merge_labelled(texts)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="facepush-worker-metrics")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(OSError):  # the directory is gone: stopping
                self.publish()
            await asyncio.sleep(self.role.publish_s)


def merge_labelled(texts: dict[int, str]) -> str:
    """Prometheus texts of several workers as one: each family's HELP and TYPE once, then
    its samples of every worker with `worker="k"` added to their labels."""
    headers: dict[str, list[str]] = {}
    samples: dict[str, list[str]] = {}
    for k, text in sorted(texts.items()):
        family = ""
        for line in text.splitlines():
            if line.startswith("# "):
                parts = line.split(" ", 3)
                family = parts[2] if len(parts) > 2 else family
                seen = headers.setdefault(family, [])
                if line not in seen:
                    seen.append(line)
                samples.setdefault(family, [])
                continue
            match = _SAMPLE.match(line)
            if match is None:
                continue
            name, labels, rest = match.groups()
            inner = labels[1:-1] + "," if labels and labels != "{}" else ""
            samples.setdefault(family or name, []).append(f'{name}{{{inner}worker="{k}"}}{rest}')
    out: list[str] = []
    for family, lines in samples.items():
        out.extend(headers.get(family, []))
        out.extend(lines)
    return "\n".join(out) + "\n"
