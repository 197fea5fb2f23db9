"""Helpers of the receiver tests: records, JPEGs, and an in-process receiver on a real
loopback socket."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import random
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from PIL import Image

from facepush.receiver import ReceiverSettings, Store, Tuning, create_app

TIMEOUT = aiohttp.ClientTimeout(total=30)


def jpeg(seed: int = 0, size: int = 16, noise: bool = False) -> bytes:
    """A real JPEG; different seeds give different bytes."""
    rng = random.Random(seed)
    if noise:
        image = Image.frombytes("RGB", (size, size), rng.randbytes(size * size * 3))
    else:
        image = Image.new("RGB", (size, size), (rng.randrange(256), seed % 256, 7))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def recognition(
    uid: str | None = None,
    *,
    device: str = "PSC700C0MC22F02542",
    user_id: str = "5",
    passed: bool = True,
    timestamp: int | None = None,
    image: bytes | str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "deviceSN": device,
        "recognitionType": 1,
        "uuid": uid or str(uuid.uuid4()),
        "recognizeScore": 0.93,
        "mask": 0,
        "mode": 3,
        "pass": passed,
        "timestamp": int(time.time()) if timestamp is None else timestamp,
        "bodyTemperature": 36.5,
        "entry_mode": 1,
        "abnormal_type": 0,
        "user": {"name": "王五", "user_id": user_id, "type": 1, "groups": []},
        **extra,
    }
    if image is not None:
        data["rgb_image"] = base64.b64encode(image).decode() if isinstance(image, bytes) else image
    return {"type": 0, "data": data}


def alarm(
    trace_id: str, status: int, event_time: int | None = None, *, photo: bytes | None = None
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "trace_id": trace_id,
        "status": status,
        "event_time": int(time.time() * 1000) if event_time is None else event_time,
        "code": 10001,
        "description": "tamper",
    }
    if photo is not None:
        data["alarm_photo"] = base64.b64encode(photo).decode()
    return {"type": 1, "data": data}


def metric_value(text: str, name: str) -> float:
    """The value of an unlabelled sample in Prometheus text."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in metrics:\n{text}")


def body(record: dict[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode()


@dataclass
class Running:
    url: str
    app: web.Application
    store: Store
    session: aiohttp.ClientSession
    settings: ReceiverSettings

    async def push(
        self, payload: bytes | dict[str, Any], headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        data = payload if isinstance(payload, bytes) else body(payload)
        async with self.session.post(
            self.url + self.settings.path, data=data, headers=headers
        ) as resp:
            return resp.status, await resp.json(content_type=None)

    async def get(self, path: str, **params: Any) -> dict[str, Any]:
        async with self.session.get(self.url + path, params=params) as resp:
            reply: dict[str, Any] = await resp.json(content_type=None)
            assert resp.status == 200, reply
            assert reply["code"] == 200, reply
            return reply

    async def status_of(self, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        async with self.session.get(self.url + path, **kwargs) as resp:
            return resp.status, await resp.json(content_type=None)


@contextlib.asynccontextmanager
async def running(
    settings: ReceiverSettings, store: Store, tuning: Tuning | None = None
) -> AsyncIterator[Running]:
    app = create_app(settings, store, tuning=tuning)
    runner = web.AppRunner(app, shutdown_timeout=5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server: Any = site._server
    port = server.sockets[0].getsockname()[1]
    try:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            yield Running(f"http://127.0.0.1:{port}", app, store, session, settings)
    finally:
        await runner.cleanup()


def configured(db_url: str, **overrides: Any) -> ReceiverSettings:
    return ReceiverSettings(db=db_url, **overrides)
