"""Real receiver and terminal processes (`facepush receiver|device serve` on loopback ports)
for the fault-injection suite and others, and the bookkeeping that proves, by identity,
that nothing accepted was lost."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from facepush.protocol import dump_json
from facepush.protocol.identity import envelope_key
from facepush.tools.records import RecordFactory
from tests.support.processes import Process, free_port, wait_http


def http_json(url: str, body: Any = None, timeout: float = 10.0) -> Any:
    data = None if body is None else dump_json(body)
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=timeout) as resp:
        return json.loads(resp.read())


def key_of(envelope: dict[str, Any]) -> str:
    return envelope_key(envelope)


def records(count: int, seed: int, sn: str = "FAULT0001") -> list[dict[str, Any]]:
    factory = RecordFactory(seed=seed, device_sn=sn, images=False)
    return [factory.next() for _ in range(count)]


def start_receiver(
    tmp: Path, *extra: str, port: int | None = None, name: str = "rcv"
) -> tuple[Process, str]:
    return _start("receiver", "/healthz", tmp, extra, port, name)


def start_device(
    tmp: Path, *extra: str, port: int | None = None, name: str = "dev"
) -> tuple[Process, str]:
    return _start("device", "/push/status", tmp, extra, port, name)


def _start(
    kind: str, ready: str, tmp: Path, extra: tuple[str, ...], port: int | None, name: str
) -> tuple[Process, str]:
    """`facepush KIND serve` on `port` (a free one if None), once it answers `ready`."""
    port = port or free_port()
    args = [kind, "serve", "--listen", f"127.0.0.1:{port}", "--data", str(tmp / name), *extra]
    process = Process(args, tmp / f"{name}.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + ready, timeout=30)
    except TimeoutError:
        process.stop()
        raise AssertionError(f"{' '.join(args)} did not start:\n{process.output()}") from None
    return process, url


def stored_keys(receiver: str) -> list[str]:
    """Every stored record's key, paging /api/events (500 a page)."""
    keys: list[str] = []
    cursor: str | None = None
    while True:
        query = {"limit": "500", **({"cursor": cursor} if cursor else {})}
        data = http_json(f"{receiver}/api/events?{urllib.parse.urlencode(query)}")["data"]
        keys += [item["key"] for item in data["items"]]
        cursor = data["next"]
        if not cursor:
            return keys


def wait_drained(device: str, timeout: float) -> dict[str, Any]:
    """Wait until the terminal holds nothing unacknowledged; returns its status."""
    deadline = time.monotonic() + timeout
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = http_json(device + "/push/status")["data"]
        if status["queued"] == 0:
            return status
        time.sleep(0.2)
    raise AssertionError(f"terminal did not drain within {timeout} s: {status}")


def report(title: str, **figures: object) -> None:
    """Print the figures a fault test checked (shown with pytest -s and in CI logs)."""
    print(f"\n[{title}] " + ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in figures.items()))
