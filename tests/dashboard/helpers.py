"""Shared by the dashboard tests and the screenshot script: a real receiver process, pushes
over loopback, records with real JPEG snapshots, and Debian's Chromium."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid as uuidlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator

from facepush.protocol.images import encode_image
from facepush.tools.faces import door_jpeg, face_jpeg
from tests.support import LOOPBACK, Process, free_port, wait_http

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TOKEN = "dashboard-test-token"


@dataclass
class Receiver:
    url: str
    token: str
    process: Process

    def page(self, token: str | None = None) -> str:
        return f"{self.url}/?token={token if token is not None else self.token}"

    def stop(self) -> int:
        return self.process.stop()


def start_receiver(
    data: Path, token: str = TOKEN, port: int | None = None, extra: tuple[str, ...] = ()
) -> Receiver:
    """`facepush receiver serve` on a loopback port, answering /healthz."""
    port = port or free_port()
    data.mkdir(parents=True, exist_ok=True)
    args = ["receiver", "serve", "--listen", f"{LOOPBACK}:{port}", "--data", str(data), *extra]
    process = Process([*args, "--token", token], data / f"receiver-{port}.log")
    url = f"http://{LOOPBACK}:{port}"
    try:
        wait_http(f"{url}/healthz", timeout=20)
    except TimeoutError:
        process.stop()
        raise AssertionError(f"receiver did not start:\n{process.output()}") from None
    return Receiver(url, token, process)


def push(receiver: Receiver, envelope: dict[str, Any]) -> None:
    """POST one record to the push endpoint; fails unless the receiver acknowledged it."""
    request = urllib.request.Request(
        f"{receiver.url}/Record",
        data=json.dumps(envelope).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        reply = json.load(response)
    assert reply["code"] == 200, reply


def get_json(receiver: Receiver, path: str) -> Any:
    request = urllib.request.Request(
        f"{receiver.url}{path}", headers={"Authorization": f"Bearer {receiver.token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["data"]


def now_s() -> int:
    return int(time.time())


def recognition(
    *,
    device: str,
    name: str | None,
    user_id: str | None,
    passed: bool = True,
    abnormal: int = 0,
    timestamp: int | None = None,
    face: int | None = 1,
    user_type: int | None = 1,
    recognition_type: int = 1,
    entry_mode: int = 1,
    score: float = 0.9321,
    temperature: float = 36.6,
    uuid: str | None = None,
) -> dict[str, Any]:
    """A type-0 push; `face` seeds a real Pillow-made JPEG snapshot (None: no image)."""
    return {
        "type": 0,
        "data": {
            "deviceSN": device,
            "recognitionType": recognition_type,
            "entry_mode": entry_mode,
            "abnormal_type": abnormal,
            "uuid": uuid or str(uuidlib.uuid4()),
            "recognizeScore": score,
            "mask": 1,
            "mode": 3,
            "rgb_image": encode_image(face_jpeg(face)) if face is not None else " ",
            "bodyTemperature": temperature,
            "pass": passed,
            "timestamp": timestamp if timestamp is not None else now_s(),
            "user": {
                "name": name,
                "user_id": user_id,
                "type": user_type,
                "ic_number": "",
                "id_number": "",
                "job_number": "",
                "pin": "",
                "remark": "",
                "guest_time_start": 0,
                "guest_time_end": 0,
                "groups": [],
            },
        },
    }


def alarm(
    *,
    trace_id: str,
    code: int,
    status: int,
    event_time: int | None = None,
    photo: int | None = 1,
    user_id: int | None = None,
    description: str = " ",
) -> dict[str, Any]:
    """A type-1 push; `photo` seeds a real JPEG door photo (None: no photo)."""
    data: dict[str, Any] = {
        "trace_id": trace_id,
        "description": description,
        "code": code,
        "event_time": event_time if event_time is not None else int(time.time() * 1000),
        "status": status,
        "alarm_photo": encode_image(door_jpeg(photo)) if photo is not None else " ",
    }
    if user_id is not None:
        data["user_id"] = user_id
    return {"type": 1, "data": data}


def image_size(img: Locator) -> list[int]:
    """[width, height] of a loaded <img>, [0, 0] when it failed to load or decode."""
    size: list[int] = img.evaluate(
        "img => new Promise(ok => img.decode()"
        ".then(() => ok([img.naturalWidth, img.naturalHeight]), () => ok([0, 0])))"
    )
    return size
